"""Where things are: the course's source, release and spec folders, and the (git-ignored) course dir."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Course:
    """Folders of one course. Every field can be overridden by an environment variable or CLI option.

    * ``source``  — instructor notebooks with solutions and hidden tests (``solutions/``)
    * ``release`` — generated student notebooks (``notebooks/``)
    * ``specs``   — one ``<lesson>.toml`` per graded lesson (``grader/lessons/``)
    * ``course_dir`` — submitted/, autograded/, feedback/, reports/, gradebook.db (outside git)
    """

    source: Path = field(default_factory=lambda: Path(os.environ.get("GRADER_SOURCE_DIR", REPO / "solutions")))
    release: Path = field(default_factory=lambda: Path(os.environ.get("GRADER_RELEASE_DIR", REPO / "notebooks")))
    specs: Path = field(default_factory=lambda: Path(os.environ.get("GRADER_SPEC_DIR", REPO / "grader" / "lessons")))
    course_dir: Path = field(default_factory=lambda: Path(os.environ.get("GRADER_COURSE_DIR", REPO / "course")))

    def __post_init__(self):
        self.source, self.release, self.specs, self.course_dir = (
            Path(p).resolve() for p in (self.source, self.release, self.specs, self.course_dir))

    @property
    def submitted(self) -> Path:
        return self.course_dir / "submitted"

    @property
    def feedback(self) -> Path:
        return self.course_dir / "feedback"

    @property
    def reports(self) -> Path:
        return self.course_dir / "reports"

    @property
    def gradebook(self) -> Path:
        return self.course_dir / "gradebook.db"

    def lessons(self) -> list[str]:
        """Every lesson, i.e. every source notebook's stem, sorted."""
        return sorted(p.stem for p in self.source.glob("*.ipynb"))

    def secret(self) -> bytes:
        """A per-course random salt for the grading inputs' seeds; lives only in the course dir."""
        path = self.course_dir / ".seed_salt"
        if not path.exists():
            self.course_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(32).hex().encode())
            path.chmod(0o600)
        return path.read_bytes()
