"""``grader feedback``: one small HTML page per student and lesson, from the gradebook only.

The page shows each exercise's points, the diagnosis and the comparison lines; it never contains the
source of the (hidden) test cells, because the gradebook never stored it. Every text in it is
HTML-escaped: nothing a submission wrote can become markup or script.
"""
from __future__ import annotations

import html
from pathlib import Path

from grader.config import Course
from grader.pipeline.gradebook import Gradebook

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:48em;margin:2em auto}}td,th{{padding:.3em .6em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}}.ok{{color:#1a7f37}}.no{{color:#b35900}}pre{{margin:0;font-size:85%}}</style></head>
<body><h1>{title}</h1><p>Score: <b>{score:g} / {max_score:g}</b></p>{problem}
<table><tr><th>exercise</th><th>points</th><th>what we found</th></tr>{rows}</table>
<p>Run <code>grader check NOTEBOOK</code> to see the same checks before you submit.</p></body></html>
"""


def render(student: str, lesson: str, submission: dict, grades: list[dict]) -> str:
    rows = []
    for g in grades:
        cls = "ok" if g["passed"] else "no"
        text = "passed" if g["passed"] else (g["diagnosis"] or "does not match")
        lines = "\n".join(str(line) for line in g["result"].get("lines", []))
        rows.append(f"<tr><td>{html.escape(g['exercise'])}</td><td class='{cls}'>{g['points']:g} / {g['max_points']:g}</td>"
                    f"<td>{html.escape(text)}<pre>{html.escape(lines)}</pre></td></tr>")
    problem = f"<p class='no'>{html.escape(submission['problem'])}</p>" if submission["problem"] else ""
    return PAGE.format(title=html.escape(f"{lesson} — feedback for {student}"), score=submission["score"],
                       max_score=submission["max_score"], problem=problem, rows="".join(rows))


def feedback(course: Course, lessons: list[str] | None = None, log=print) -> list[Path]:
    written = []
    with Gradebook(course.gradebook) as book:
        for sub in book.submissions():
            if lessons and sub["lesson"] not in lessons:
                continue
            page = render(sub["student"], sub["lesson"], sub, book.grades(sub["student"], sub["lesson"]))
            path = course.feedback / sub["student"] / f"{sub['lesson']}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page)
            written.append(path)
    log(f"wrote {len(written)} feedback page(s) under {course.feedback}")
    return written
