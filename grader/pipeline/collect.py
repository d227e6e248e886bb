"""Bring submissions into course/submitted/<student>/<lesson>.ipynb.

Sources:
* a folder or a .zip as downloaded from an LMS; file names identify the student and the lesson:
  ``<student>_<lesson>.ipynb`` or ``<student>_<anything>_<lesson>.ipynb`` (Moodle/Canvas style), the
  lesson being the longest known lesson name the file stem ends with;
* a folder per student holding ``<lesson>.ipynb`` files;
* nbgrader's exchange: ``<exchange>/<course>/inbound/<student>+<lesson>+<timestamp>/*.ipynb`` (the latest
  timestamp wins).
Files whose name names no lesson are reported and skipped. The content is not inspected here: a
broken notebook is collected and scores 0 when graded, with a message saying why.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 50 << 20
_STUDENT_OK = re.compile(r"[^A-Za-z0-9.@-]+")


@dataclass
class Collected:
    student: str
    lesson: str
    source: str


def _clean_student(raw: str) -> str:
    name = _STUDENT_OK.sub("-", raw.strip()).strip("-.")
    return name or "unknown"


def identify(name: str, lessons: list[str]) -> tuple[str, str] | None:
    """(student, lesson) from a file name like ``alice_01_forward_pass.ipynb``."""
    stem = Path(name).stem
    for lesson in sorted(lessons, key=len, reverse=True):
        if stem.endswith("_" + lesson) and len(stem) > len(lesson) + 1:
            prefix = stem[: -len(lesson) - 1]
            return _clean_student(prefix.split("_")[0]), lesson
    return None


def _candidates(root: Path, lessons: list[str]):
    """(student, lesson, file, sort key) for every submission under ``root``."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") or part == "__MACOSX" for part in path.relative_to(root).parts):
            continue
        parent = path.parent.name
        if "+" in parent and parent.count("+") >= 2:  # nbgrader exchange: student+assignment+timestamp
            student, lesson, stamp = parent.split("+", 2)
            if lesson in lessons and path.suffix == ".ipynb":
                yield _clean_student(student), lesson, path, stamp
            continue
        found = identify(path.name, lessons)
        if found:
            yield found[0], found[1], path, ""
        elif path.stem in lessons and path.parent != root:  # <student>/<lesson>.ipynb
            yield _clean_student(parent), path.stem, path, ""
        else:
            yield None, None, path, ""


def collect(source: Path, submitted: Path, lessons: list[str], log=print) -> list[Collected]:
    source = Path(source)
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            root = Path(tmp)
            with zipfile.ZipFile(source) as archive:
                for index, member in enumerate(archive.infolist()):
                    if member.is_dir() or member.file_size > MAX_FILE_BYTES:
                        continue
                    # never trust paths inside the archive: keep at most one folder level, sanitised
                    parts = [p for p in Path(member.filename).parts if p not in ("", ".", "..", "/")]
                    target = root.joinpath(*[_STUDENT_OK.sub("-", p) if i < len(parts) - 1 else p.replace("/", "_")
                                             for i, p in enumerate(parts[-2:])])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        elif source.is_dir():
            root = source
        else:
            raise FileNotFoundError(f"{source} is neither a folder nor a zip file")
        best: dict[tuple[str, str], tuple[str, Path]] = {}
        skipped = []
        for student, lesson, path, stamp in _candidates(root, lessons):
            if student is None:
                skipped.append(path.name)
                continue
            key = (student, lesson)
            if key not in best or stamp > best[key][0]:
                best[key] = (stamp, path)
        collected = []
        for (student, lesson), (_, path) in sorted(best.items()):
            if path.stat().st_size > MAX_FILE_BYTES:
                skipped.append(path.name)
                continue
            target = submitted / student / f"{lesson}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            collected.append(Collected(student, lesson, path.name))
    log(f"collected {len(collected)} submission(s) into {submitted}")
    for name in skipped:
        log(f"  skipped {name}: no lesson name at the end of the file name")
    return collected
