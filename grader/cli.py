"""``grader`` — one verb per instructor task (and ``check`` for students).

    grader release [LESSON...] [--check] [--no-validate] [--execute]
    grader collect PATH
    grader autograde [LESSON...] [--workers N | --scheduler ADDRESS] [--force] [--memory-mb M] [--cell-timeout S]
                     [--notebook-timeout S]
    grader feedback [LESSON...] [--exchange ROOT] [--course-id ID]
    grader report
    grader check NOTEBOOK [--lesson LESSON]
    grader student-edition OUT

Common options (before or after the verb): --course-dir (env GRADER_COURSE_DIR, default <repo>/course),
--source (GRADER_SOURCE_DIR, solutions/), --release (GRADER_RELEASE_DIR, notebooks/),
--specs (GRADER_SPEC_DIR, grader/lessons/).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader import __version__

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--course-dir", type=Path, default=default, help="submitted/, feedback/, gradebook (outside git)")
    parser.add_argument("--source", type=Path, default=default, help="solution notebooks (nbgrader source)")
    parser.add_argument("--release", type=Path, default=default, help="student notebooks (nbgrader release)")
    parser.add_argument("--specs", type=Path, default=default, help="folder of the lesson declarations (modules with LESSON = Lesson(...))")


def _limits(parser):
    parser.add_argument("--memory-mb", type=int, default=1536, help="address-space limit per submission")
    parser.add_argument("--cell-timeout", type=float, default=10.0, help="seconds per exercise cell")
    parser.add_argument("--notebook-timeout", type=float, default=60.0, help="wall-clock seconds per submission")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Release, collect, autograde and report the course.")
    parser.add_argument("--version", action="version", version=f"Backprop from Scratch {__version__}")
    _common(parser, top=True)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("release", help="generate notebooks/ from solutions/ and validate them")
    p.add_argument("lessons", nargs="*")
    p.add_argument("--check", action="store_true", help="write nothing; fail if notebooks/ has drifted")
    p.add_argument("--no-validate", action="store_true", help="skip grading the solution and released notebooks")
    p.add_argument("--execute", action="store_true", help="also run both notebooks in a Jupyter kernel")
    _limits(p)

    p = verbs.add_parser("collect", help="import submissions from a folder, a zip or nbgrader's exchange")
    p.add_argument("path", type=Path)

    p = verbs.add_parser("autograde", help="grade every new or changed submission")
    p.add_argument("lessons", nargs="*")
    p.add_argument("--workers", type=int, default=2, help="worker processes on this machine")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on a Dask cluster instead (e.g. tcp://10.0.0.5:8786); its workers need this course installed")
    p.add_argument("--force", action="store_true", help="regrade everything")
    _limits(p)

    p = verbs.add_parser("feedback", help="write per-student HTML feedback")
    p.add_argument("lessons", nargs="*")
    p.add_argument("--exchange", type=Path, help="also release the pages through this nbgrader exchange root")
    p.add_argument("--course-id", help="the course's id in that exchange (default: nbgrader_config.py's)")

    verbs.add_parser("report", help="grades.csv for the LMS plus a per-exercise summary and plot")

    p = verbs.add_parser("check", help="grade your own notebook as the autograder would")
    p.add_argument("notebook", type=Path)
    p.add_argument("--lesson", help="lesson name (default: the notebook's file name)")
    _limits(p)

    p = verbs.add_parser("student-edition", help="write the folder students clone: notebooks, checks, no answers")
    p.add_argument("out", type=Path, help="an empty or new folder (or an earlier edition, replaced)")

    for sub in verbs.choices.values():
        _common(sub, top=False)
    return parser


def _course(args):
    from grader.config import Course

    kwargs = {k: getattr(args, k) for k in ("source", "release", "specs", "course_dir") if getattr(args, k, None)}
    return Course(**kwargs)


def _limits_of(args):
    from grader.sandbox.launch import Limits

    return Limits(memory_mb=args.memory_mb, cell_timeout=args.cell_timeout,
                  call_timeout=2 * args.cell_timeout, notebook_timeout=args.notebook_timeout)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, _course(args))
    except ModuleNotFoundError as error:  # the student edition ships `grader check` and not the instructor's pipeline
        if not (error.name or "").startswith("grader.pipeline."):
            raise
        print(f"`grader {args.verb}` is an instructor's command, which the student edition does not include; "
              "students use `grader check NOTEBOOK`")
        return 2


def run(args, course) -> int:
    if args.verb == "release":
        from grader.pipeline.release import release

        reports = release(course, args.lessons or None, check_only=args.check, validate=not args.no_validate,
                          execute=args.execute, limits=_limits_of(args))
        return 1 if any(r.problems for r in reports) else 0
    if args.verb == "collect":
        from grader.pipeline.collect import collect

        collect(args.path, course.submitted, course.lessons())
        return 0
    if args.verb == "autograde":
        from grader.pipeline.autograde import autograde

        counts = autograde(course, args.lessons or None, workers=args.workers, limits=_limits_of(args), force=args.force,
                           scheduler=args.scheduler)
        # 1: some submission is NOT GRADED, or the formgrader is stale (the grades that were made are saved)
        return 1 if counts["failed"] or counts["formgrader"]["problems"] else 0
    if args.verb == "feedback":
        from grader.pipeline.feedback import feedback

        feedback(course, args.lessons or None)
        if args.exchange:
            from grader.pipeline.exchange_feedback import COURSE_ID, release_feedback

            release_feedback(course, args.exchange, args.course_id or COURSE_ID, args.lessons or None)
        return 0
    if args.verb == "report":
        from grader.pipeline.report import report

        report(course)
        return 0
    if args.verb == "check":
        return self_check(course, args.notebook, args.lesson, _limits_of(args))
    if args.verb == "student-edition":
        from grader.pipeline.student_edition import build

        summary = build(args.out, course.source)
        print(f"student edition {summary['version']} in {args.out}: {len(summary['notebooks'])} notebooks, "
              f"{len(summary['hidden'])} reference bodies compiled for Python {summary['python']}")
        return 0
    return 2


def self_check(course, notebook: Path, lesson: str | None, limits) -> int:
    from grader.pipeline import grade
    from grader.spec import load_lesson

    lesson = lesson or notebook.stem
    spec = load_lesson(course.specs, lesson)
    if spec is None:
        print(f"no lesson {lesson!r} is declared in {course.specs}; use --lesson")
        return 2
    result = grade.grade_file("you", spec, notebook, os.urandom(16), limits, course.specs)
    print(f"{lesson}: {result.score:g} / {result.max_score:g}")
    if result.problem:
        print(f"  {result.problem}")
    for e in result.exercises:
        mark = "ok " if e.result["passed"] else "-- "
        print(f"  {mark}{e.exercise}: {e.points:g} / {e.max_points:g}"
              + (f"  {e.result['diagnosis']}" if not e.result["passed"] else ""))
    return 0 if result.score == result.max_score else 1


if __name__ == "__main__":
    sys.exit(main())
