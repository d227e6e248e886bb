"""``grader feedback --exchange ROOT``: the feedback pages, handed back through nbgrader's exchange.

A student's Assignments tab ("Fetch Feedback") looks for ``ROOT/<course_id>/feedback/<hash>.html``, where
hash = md5(submission secret + notebook id) and the secret is the ``submission_secret.txt`` nbgrader's submit
wrote next to the notebook, both in ``inbound/<student>+<lesson>+<timestamp>[+<random>]/`` and in the
student's own cache. A page is released for the inbound folders whose notebook has the very bytes that were
graded (the gradebook's sha256): a later, ungraded submission gets no feedback, as with nbgrader's
``release_feedback``. The inbound folders are written by students: files are opened without following
symlinks, size-limited, and a folder owned by another uid than the system user of the student's name is
ignored.
"""
from __future__ import annotations

import hashlib
import os
import pwd
import re
import stat
from pathlib import Path

from grader.config import Course
from grader.pipeline.collect import MAX_FILE_BYTES
from grader.pipeline.gradebook import Gradebook

COURSE_ID = "backprop-from-scratch"  # nbgrader_config.py's CourseDirectory.course_id
_SECRET = re.compile(r"[0-9a-f]{16,256}")


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file (not through a symlink), or None; at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None


def _system_uid(student: str) -> int | None:
    try:
        return pwd.getpwnam(student).pw_uid
    except (KeyError, ValueError):
        return None


def feedback_name(secret: str, lesson: str) -> str:
    """nbgrader's name for a notebook's feedback in the exchange (``nbgrader.utils.notebook_hash``)."""
    return hashlib.md5(secret.encode() + lesson.encode()).hexdigest() + ".html"


def submission_folders(inbound: Path) -> dict[tuple[str, str], list[Path]]:
    """{(student, lesson): its submission folders} for the folders ``<student>+<lesson>+...`` of ``inbound``."""
    folders: dict[tuple[str, str], list[Path]] = {}
    with os.scandir(inbound) as entries:
        for entry in entries:
            parts = entry.name.split("+")
            if len(parts) >= 3 and entry.is_dir(follow_symlinks=False):
                folders.setdefault((parts[0], parts[1]), []).append(Path(entry.path))
    return folders


def graded_secrets(folders: list[Path], student: str, lesson: str, sha256: str) -> list[str]:
    """The submission secrets of those of the student's ``folders`` whose notebook is the graded one."""
    uid = _system_uid(student)
    secrets = []
    for folder in folders:
        if uid is not None and folder.lstat().st_uid != uid:
            continue
        notebook = _read_regular(folder / f"{lesson}.ipynb", MAX_FILE_BYTES)
        if notebook is None or hashlib.sha256(notebook).hexdigest() != sha256:
            continue
        secret = _read_regular(folder / "submission_secret.txt", 1024)
        text = secret.decode("ascii", "replace") if secret else ""  # hashed as written, like nbgrader
        if _SECRET.fullmatch(text):
            secrets.append(text)
    return secrets


def release_feedback(course: Course, exchange_root: Path, course_id: str = COURSE_ID,
                     lessons: list[str] | None = None, log=print) -> list[Path]:
    """Copy each graded submission's page, course/feedback/<student>/<lesson>.html, into the exchange."""
    course_path = Path(exchange_root) / course_id
    inbound, outbound = course_path / "inbound", course_path / "feedback"
    if not inbound.is_dir():
        raise FileNotFoundError(f"{inbound} does not exist: no nbgrader exchange for course {course_id!r} there")
    if outbound.is_symlink():
        raise RuntimeError(f"{outbound} is a symlink: refusing to release feedback through it")
    outbound.mkdir(mode=0o755, exist_ok=True)
    outbound.chmod(0o755)  # students read their pages, only the instructor writes (as nbgrader's release_feedback)
    released, missing = [], []
    with Gradebook(course.gradebook) as book:
        submissions = book.submissions()
    folders = submission_folders(inbound)
    for sub in submissions:
        if lessons and sub["lesson"] not in lessons:
            continue
        page = course.feedback / sub["student"] / f"{sub['lesson']}.html"
        name_file = course.submitted / sub["student"] / ".name"
        student = name_file.read_text() if name_file.is_file() else sub["student"]
        candidates = folders.get((student, sub["lesson"]), [])
        secrets = graded_secrets(candidates, student, sub["lesson"], sub["sha256"]) if page.is_file() else []
        if not secrets:
            missing.append(f"{sub['student']}/{sub['lesson']}")
        for secret in secrets:
            dest = outbound / feedback_name(secret, sub["lesson"])
            tmp = outbound / f".{dest.name}.partial"
            tmp.write_bytes(page.read_bytes())
            tmp.chmod(0o644)
            os.replace(tmp, dest)
            released.append(dest)
    log(f"released {len(released)} feedback page(s) to {outbound}")
    if missing:
        log(f"  not in the exchange (no inbound folder holds the graded notebook, or no feedback page): "
            f"{', '.join(missing)}")
    return released
