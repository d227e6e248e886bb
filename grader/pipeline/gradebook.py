"""The gradebook: one SQLite file in the course dir, written only by the grader's own process.

One transaction per submission: a submission's exercise grades are replaced all at once, so the
book never holds half a grading.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    student TEXT NOT NULL, lesson TEXT NOT NULL, sha256 TEXT NOT NULL, spec_digest TEXT NOT NULL,
    score REAL NOT NULL, max_score REAL NOT NULL, problem TEXT NOT NULL, graded_at REAL NOT NULL,
    PRIMARY KEY (student, lesson));
CREATE TABLE IF NOT EXISTS grades (
    student TEXT NOT NULL, lesson TEXT NOT NULL, exercise TEXT NOT NULL, points REAL NOT NULL,
    max_points REAL NOT NULL, passed INTEGER NOT NULL, mistake TEXT, diagnosis TEXT NOT NULL,
    result_json TEXT NOT NULL, PRIMARY KEY (student, lesson, exercise));
"""


class Gradebook:
    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path))
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def is_current(self, student: str, lesson: str, sha256: str, spec_digest: str) -> bool:
        row = self.db.execute("SELECT sha256, spec_digest FROM submissions WHERE student=? AND lesson=?",
                              (student, lesson)).fetchone()
        return row == (sha256, spec_digest)

    def record(self, grade, spec_digest: str) -> None:
        with self.db:  # one transaction
            self.db.execute("DELETE FROM grades WHERE student=? AND lesson=?", (grade.student, grade.lesson))
            self.db.execute("INSERT OR REPLACE INTO submissions VALUES (?,?,?,?,?,?,?,?)",
                            (grade.student, grade.lesson, grade.sha256, spec_digest, grade.score, grade.max_score,
                             grade.problem, time.time()))
            self.db.executemany("INSERT INTO grades VALUES (?,?,?,?,?,?,?,?,?)", [
                (grade.student, grade.lesson, e.exercise, e.points, e.max_points, int(e.result["passed"]),
                 e.result.get("mistake"), e.result.get("diagnosis", ""), json.dumps(e.result, default=str))
                for e in grade.exercises])

    def submissions(self) -> list[dict]:
        cur = self.db.execute("SELECT student, lesson, sha256, score, max_score, problem FROM submissions "
                              "ORDER BY student, lesson")
        return [dict(zip(("student", "lesson", "sha256", "score", "max_score", "problem"), row)) for row in cur]

    def grades(self, student: str | None = None, lesson: str | None = None) -> list[dict]:
        query = "SELECT student, lesson, exercise, points, max_points, passed, mistake, diagnosis, result_json FROM grades"
        conditions, args = [], []
        if student:
            conditions.append("student=?")
            args.append(student)
        if lesson:
            conditions.append("lesson=?")
            args.append(lesson)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        keys = ("student", "lesson", "exercise", "points", "max_points", "passed", "mistake", "diagnosis", "result")
        rows = [dict(zip(keys, row)) for row in self.db.execute(query + " ORDER BY student, lesson, rowid", args)]
        for row in rows:
            row["result"] = json.loads(row["result"])
        return rows
