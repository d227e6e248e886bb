"""``grader report``: grades.csv for the LMS, and a per-exercise summary (table + PNG)."""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from grader.config import Course
from grader.pipeline.gradebook import Gradebook


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


def exercise_summary(book: Gradebook) -> list[dict]:
    groups: dict[tuple, list] = defaultdict(list)
    for g in book.grades():
        groups[(g["lesson"], g["exercise"])].append(g)
    summary = []
    for (lesson, exercise), rows in sorted(groups.items()):
        mistakes = Counter(r["mistake"] for r in rows if r["mistake"])
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
        summary = exercise_summary(book)
    with open(paths["grades"], "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    keys = ["lesson", "exercise", "students", "mean_points", "max_points", "passed", "mistakes"]
    with open(paths["summary"], "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(summary)
    _plot(summary, paths["plot"])
    width = max([len(f"{s['lesson']}/{s['exercise']}") for s in summary] + [8])
    log(f"{'exercise':<{width}}  {'mean':>5} / max  passed  mistakes")
    for s in summary:
        log(f"{s['lesson'] + '/' + s['exercise']:<{width}}  {s['mean_points']:5.2f} / {s['max_points']:<3g}"
            f"  {s['passed']:>3}/{s['students']:<3} {s['mistakes']}")
    log(f"wrote {paths['grades']}, {paths['summary']}, {paths['plot']}")
    return paths
