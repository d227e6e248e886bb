"""``grader report``: grades.csv for the LMS, and a per-exercise summary (table + PNG).

Reports are data, not commands: a mistake name is one of the grader's own keys (:func:`known_mistakes`)
or ``other``; what goes to the terminal has no control characters (no ANSI escapes); a CSV cell that a
spreadsheet would read as a formula (``= + - @``, tab, CR first) is prefixed with ``'``.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from grader.config import Course
from grader.pipeline.gradebook import Gradebook
from grader.spec import GRADER_DIR, mistake_keys

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def known_mistakes(lessons_dir: Path | None = None) -> frozenset[str]:
    """Every mistake key the grader itself writes (grader.spec.mistake_keys), for the course's lessons."""
    return mistake_keys(Path(lessons_dir) if lessons_dir else GRADER_DIR / "lessons")


def mistake_name(raw, lessons_dir: Path | None = None) -> str:
    """The mistake as reports show it: one of :func:`known_mistakes`, else ``other``."""
    return raw if isinstance(raw, str) and raw in known_mistakes(lessons_dir) else "other"


def terminal_text(value) -> str:
    """``value`` without ANSI escapes or other control / format characters (safe to print)."""
    text = _ANSI.sub("", str(value))
    return "".join(ch if unicodedata.category(ch)[0] != "C" else " " if ch in "\t\n\r" else "" for ch in text)


def csv_cell(value):
    """A spreadsheet-safe cell: text starting like a formula gets a leading ``'``."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def grades_table(book: Gradebook) -> tuple[list[str], list[list]]:
    subs = book.submissions()
    lessons = sorted({s["lesson"] for s in subs})
    by_student: dict[str, dict] = defaultdict(dict)
    for s in subs:
        by_student[s["student"]][s["lesson"]] = s["score"]
    header = ["student", *lessons, "total"]
    rows = [[student, *[scores.get(lesson, 0.0) for lesson in lessons], sum(scores.values())]
            for student, scores in sorted(by_student.items())]
    return header, rows


def exercise_summary(book: Gradebook, lessons_dir: Path | None = None) -> list[dict]:
    groups: dict[tuple, list] = defaultdict(list)
    for g in book.grades():
        groups[(g["lesson"], g["exercise"])].append(g)
    summary = []
    for (lesson, exercise), rows in sorted(groups.items()):
        mistakes = Counter(mistake_name(r["mistake"], lessons_dir) for r in rows if r["mistake"])
        summary.append({
            "lesson": lesson, "exercise": exercise, "students": len(rows),
            "mean_points": sum(r["points"] for r in rows) / len(rows), "max_points": rows[0]["max_points"],
            "passed": sum(r["passed"] for r in rows),
            "mistakes": "; ".join(f"{k}: {v}" for k, v in mistakes.most_common()),
        })
    return summary


def _plot(summary: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{s['lesson']}\n{s['exercise']}" for s in summary]
    fractions = [s["mean_points"] / s["max_points"] if s["max_points"] else 0 for s in summary]
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(summary)), 3.5))
    ax.bar(range(len(summary)), fractions, color="#4c72b0")
    ax.set_xticks(range(len(summary)), labels, fontsize=7, rotation=0)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean score (fraction of points)")
    ax.set_title("Per-exercise mean score")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(course: Course, log=print) -> dict[str, Path]:
    course.reports.mkdir(parents=True, exist_ok=True)
    paths = {"grades": course.reports / "grades.csv", "summary": course.reports / "summary.csv",
             "plot": course.reports / "summary.png"}
    with Gradebook(course.gradebook) as book:
        header, rows = grades_table(book)
        summary = exercise_summary(book, course.specs)
        problems = [(s["student"], s["lesson"], s["problem"]) for s in book.submissions() if s["problem"]]
        count = len(book.submissions())
    with open(paths["grades"], "w", newline="") as f:
        csv.writer(f).writerows([[csv_cell(v) for v in row] for row in [header, *rows]])
    keys = ["lesson", "exercise", "students", "mean_points", "max_points", "passed", "mistakes"]
    with open(paths["summary"], "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in s.items()} for s in summary)
    _plot(summary, paths["plot"])
    labels = [terminal_text(f"{s['lesson']}/{s['exercise']}") for s in summary]
    width = max([len(label) for label in labels] + [8])
    log(f"{'exercise':<{width}}  {'mean':>5} / max  passed  mistakes")
    for label, s in zip(labels, summary):
        log(f"{label:<{width}}  {s['mean_points']:5.2f} / {s['max_points']:<3g}"
            f"  {s['passed']:>3}/{s['students']:<3} {terminal_text(s['mistakes'])}")
    log(f"{count} graded submission(s); {len(problems)} with a problem for the whole notebook")
    for student, lesson, problem in problems:
        log(terminal_text(f"  {student}/{lesson}: {problem}"))
    log(f"wrote {paths['grades']}, {paths['summary']}, {paths['plot']}")
    return paths
