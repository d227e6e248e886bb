"""Bring submissions into course/submitted/<student>/<lesson>.ipynb, never losing or misattributing one.

Sources: a folder or a .zip as downloaded from an LMS, or nbgrader's exchange inbound folder. Who a
file belongs to comes from where it sits, strongest first:

1. an nbgrader exchange folder ``<student>+<lesson>+<timestamp>/`` (the latest valid timestamp wins;
   folders with an impossible timestamp or owned by another uid than the student's are flagged and kept
   aside, never graded in place of the student's genuine submission);
2. a Moodle folder ``<name>_<id>_assignsubmission_file_/``;
3. the outermost folder below the wrappers every file shares (``download/``, ``submissions/`` ...):
   ``alice/03_tensor_backprop.ipynb``, ``alice/week3/work/03_tensor_backprop.ipynb``;
4. only for a file that sits directly in the root or in a shared wrapper: its own name,
   ``<student>_<lesson>.ipynb`` or ``<student>_<anything>_<lesson>.ipynb``.

So ``bob/alice_03_tensor_backprop.ipynb`` is bob's (and the log says that its name names alice).
A file in the root or a wrapper is attributed by its name; note that ``a/alice_<lesson>.ipynb``
next to other folders is therefore ``a``'s, not alice's.
Two files claiming the same student and lesson in one batch are a conflict: the log names both, both
are kept under ``course/conflicts/<student>/<lesson>/`` and the one graded is the one whose name
fits (``<lesson>.ipynb`` or ``<student>_..._<lesson>.ipynb``), else the first by path.

Student names become folder names through :func:`slug`: ASCII letters, digits, ``@ . -`` are kept,
a space becomes ``-``, anything else is written ``_<hex code point>_`` (reversible, see
:func:`unslug`); each student folder's ``.name`` file keeps the name as submitted. Two names with the
same slug (``Jane Doe`` / ``Jane-Doe``) are reported and kept apart (the one that is not its own slug
gets the fully escaped :func:`strict_slug`).

Every file not collected is listed with its reason; one unreadable member never stops the batch.
The content is not inspected: a broken notebook is collected and scores 0 when graded.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import pwd
import re
import unicodedata
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 50 << 20
_KEEP = re.compile(r"[A-Za-z0-9@.\-]")
_ESCAPE = re.compile(r"_([0-9a-f]+)_")
_MOODLE_FOLDER = re.compile(r"^(.+?)_\d+_assign(?:submission|ment)_\w*$")
_FUTURE_SLACK = datetime.timedelta(days=1)


# ------------------------------------------------------------------------------------------ names ----
def _encode(name: str, keep_space_as_hyphen: bool) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch == " " and keep_space_as_hyphen:
            out.append("-")
        elif _KEEP.fullmatch(ch) and not (ch == "." and i == 0) and not (ch == "-" and not keep_space_as_hyphen):
            out.append(ch)
        else:
            out.append(f"_{ord(ch):x}_")
    return "".join(out)


def _normal(raw: str) -> str:
    return unicodedata.normalize("NFC", raw).strip()


def slug(raw: str) -> str:
    """A safe folder / nbgrader student id for a student name: ``Jane Doe`` -> ``Jane-Doe``, ``Иван`` -> ``_418__432__430__43d_``."""
    return _encode(_normal(raw), keep_space_as_hyphen=True)


def strict_slug(raw: str) -> str:
    """Like :func:`slug` but one-to-one: spaces and hyphens are escaped too (``Jane Doe`` -> ``Jane_20_Doe``)."""
    return _encode(_normal(raw), keep_space_as_hyphen=False)


def unslug(name: str) -> str:
    """The name a slug was made from (a space where :func:`slug` wrote ``-``: see the folder's ``.name``)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), name)


def _similar(raw: str) -> str:
    return re.sub(r"[\s_\-.]+", "-", _normal(raw)).casefold()


def identify(name: str, lessons: list[str]) -> tuple[str, str] | None:
    """(student slug, lesson) from a file name like ``alice_01_forward_pass.ipynb``."""
    found = _name_claim(name, lessons)
    return (slug(found[0]), found[1]) if found else None


def _name_claim(name: str, lessons: list[str]) -> tuple[str, str] | None:
    """(raw student, lesson) named by ``<student>_<lesson>.ipynb`` / ``<student>_<anything>_<lesson>.ipynb``."""
    stem = PurePosixPath(name).stem
    for lesson in sorted(lessons, key=len, reverse=True):
        if stem.endswith("_" + lesson) and len(stem) > len(lesson) + 1:
            student = stem[: -len(lesson) - 1].split("_")[0].strip()
            return (student, lesson) if student else None
    return None


def _lesson_of(name: str, lessons: list[str]) -> str | None:
    stem = PurePosixPath(name).stem
    for lesson in sorted(lessons, key=len, reverse=True):
        if stem == lesson or stem.endswith("_" + lesson):
            return lesson
    return None


# ---------------------------------------------------------------------------------------- members ----
@dataclass
class Member:
    """One file of the source: its path inside the source, size, owner uid (folders only) and how to read it."""
    parts: tuple
    size: int
    read: object  # () -> bytes (at most MAX_FILE_BYTES + 1)
    uid: int | None = None

    @property
    def path(self) -> str:
        return "/".join(self.parts)


def _zip_members(archive: zipfile.ZipFile, skipped: list) -> list[Member]:
    members = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        # never used as a file path: only read as names
        parts = tuple(p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", ".", "..", "/"))
        if not parts:
            skipped.append((info.filename, "an empty member name"))
            continue

        def read(info=info):
            with archive.open(info) as stream:
                return stream.read(MAX_FILE_BYTES + 1)
        members.append(Member(parts, info.file_size, read))
    return members


def _folder_members(source: Path, skipped: list) -> list[Member]:
    members = []
    for dirpath, dirnames, filenames in os.walk(source, onerror=lambda e: skipped.append((str(e.filename), str(e)))):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError as error:
                skipped.append((str(path.relative_to(source)), f"unreadable ({error.strerror})"))
                continue
            if path.is_symlink() or not path.is_file():
                skipped.append((str(path.relative_to(source)), "not a regular file (a link or a device)"))
                continue
            members.append(Member(path.relative_to(source).parts, st.st_size,
                                  lambda path=path: path.open("rb").read(MAX_FILE_BYTES + 1),
                                  os.stat(dirpath).st_uid))
    return members


def _hidden(parts: tuple) -> bool:
    """.ipynb_checkpoints/, .DS_Store, __MACOSX/ (a name made of dots only, like ``...``, is a name)."""
    return any((p.startswith(".") and p.strip(".")) or p == "__MACOSX" for p in parts)


def _wrapper_depth(members: list[Member], lessons: list[str]) -> int:
    """How many leading folders every notebook shares and that name no student (download/, submissions/ ...)."""
    members = [m for m in members if m.parts[-1].endswith(".ipynb")]
    folders = [m.parts[:-1] for m in members]
    if not folders:
        return 0
    depth = 0
    while all(len(f) > depth for f in folders) and len({f[depth] for f in folders}) == 1:
        name = folders[0][depth]
        if "+" in name or _MOODLE_FOLDER.match(name):
            break
        # the only folder holding bare <lesson>.ipynb files is that student's folder, not a wrapper
        if all(len(f) == depth + 1 for f in folders) and any(
                PurePosixPath(m.parts[-1]).stem in lessons for m in members):
            break
        depth += 1
    return depth


# ----------------------------------------------------------------------------------------- claims ----
@dataclass
class Claim:
    student: str  # as submitted (raw)
    lesson: str
    member: Member
    stamp: datetime.datetime | None = None  # exchange folders
    exact: bool = True  # the file's name fits its owner
    note: str = ""
    flag: str = ""  # why this claim may not be graded


def _parse_stamp(text: str) -> datetime.datetime | None:
    text = text.strip().removesuffix(" UTC").replace("_", " ")
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.replace(tzinfo=None) if stamp.tzinfo is None else stamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _claim(member: Member, wrappers: int, lessons: list[str]) -> tuple[Claim | None, str]:
    """Who and which lesson a member is, or (None, why it is skipped)."""
    parts = member.parts
    folders, name = parts[:-1], parts[-1]
    if not name.endswith(".ipynb"):
        return None, "not a notebook (.ipynb)"
    for folder in folders:  # nbgrader exchange: <student>+<lesson>+<timestamp>[+<random>]/ (0.9 adds the random part)
        if folder.count("+") >= 2:
            student, lesson, stamp_text = folder.split("+", 3)[:3]
            if lesson not in lessons:
                return None, f"exchange folder {folder!r} names no lesson of this course"
            if PurePosixPath(name).stem != lesson:
                return None, f"not the lesson's notebook (expected {lesson}.ipynb in {folder!r})"
            claim = Claim(student, lesson, member, stamp=_parse_stamp(stamp_text))
            now = datetime.datetime.utcnow()
            if claim.stamp is None:
                claim.flag = f"exchange folder {folder!r} has an unreadable timestamp"
            elif claim.stamp > now + _FUTURE_SLACK:
                claim.flag = f"exchange folder {folder!r} has an impossible timestamp (in the future)"
            return claim, ""
    lesson = _lesson_of(name, lessons)
    if lesson is None:
        return None, "its name ends with no lesson name (expected <lesson>.ipynb or <student>_<lesson>.ipynb)"
    named = _name_claim(name, lessons)
    for folder in folders:
        found = _MOODLE_FOLDER.match(folder)
        if found:
            return _owned(found.group(1), lesson, member, named), ""
    if len(folders) > wrappers:  # the outermost folder below the wrappers is the student's
        return _owned(folders[wrappers], lesson, member, named), ""
    if named:
        return Claim(named[0], lesson, member), ""
    return None, "a lesson notebook outside any student folder, and its name names no student"


def _owned(owner: str, lesson: str, member: Member, named: tuple | None) -> Claim:
    claim = Claim(owner, lesson, member)
    if named and slug(named[0]) != slug(owner):
        claim.exact = False
        claim.note = (f"{member.path}: its name names {named[0]!r} but it is in the folder of {owner!r}: "
                      f"collected as {owner!r}'s submission")
    return claim


def _expected_uid(student: str, claims: list[Claim]) -> int | None:
    """The uid the student's exchange folders should have: the system user of that name, else the most common owner."""
    try:
        return pwd.getpwnam(student).pw_uid
    except (KeyError, ValueError):
        pass
    owners = Counter(c.member.uid for c in claims if c.member.uid is not None and not c.flag)
    if not owners:
        return None
    top = owners.most_common()
    if len(top) > 1 and top[0][1] == top[1][1]:  # a tie: the owner of the earliest submission
        return min((c for c in claims if c.member.uid is not None and c.stamp), key=lambda c: c.stamp).member.uid
    return top[0][0]


# ----------------------------------------------------------------------------------------- result ----
@dataclass
class Collected:
    student: str  # slug = the folder under submitted/
    lesson: str
    source: str


@dataclass
class Collection:
    collected: list = field(default_factory=list)  # [Collected]
    skipped: list = field(default_factory=list)  # [(path, reason)]
    conflicts: list = field(default_factory=list)  # [str]
    flagged: list = field(default_factory=list)  # [str]
    names: list = field(default_factory=list)  # [str]: similar or colliding names


def _assign_slugs(raws: set, submitted: Path, report: Collection) -> dict[str, str]:
    """{raw name: folder}; names that share a slug with another name are reported and kept apart."""
    by_slug = defaultdict(set)
    for raw in raws:
        by_slug[slug(raw)].add(raw)
    folders = {}
    for candidate, group in by_slug.items():
        name_file = submitted / candidate / ".name"
        holder = name_file.read_text() if name_file.is_file() else None
        # the folder belongs to the name already in it, else to the name without a space (its slug is exact)
        exact = [r for r in group if " " not in _normal(r)]
        owner = holder if holder is not None else next(iter(group)) if len(group) == 1 else (exact or [None])[0]
        for raw in group:
            folders[raw] = candidate if raw == owner else strict_slug(raw)
        sharing = group | ({holder} if holder is not None else set())
        if len(sharing) > 1:
            report.names.append(f"names {', '.join(repr(r) for r in sorted(sharing))} share the folder name "
                                f"{candidate!r}: kept apart as " + ", ".join(
                                    f"{r!r} -> {folders.get(r, candidate)}" for r in sorted(sharing)))
    similar = defaultdict(set)
    for raw in raws:
        similar[_similar(raw)].add(raw)
    for group in similar.values():
        if len({slug(r) for r in group}) > 1:
            report.names.append(f"similar names {', '.join(repr(r) for r in sorted(group))} are kept as different "
                                f"students ({', '.join(folders[r] for r in sorted(group))}): check that they are")
    return folders


def _choose(claims: list[Claim], report: Collection) -> tuple[Claim | None, list[Claim]]:
    """The claim to grade for one (student, lesson), and the ones kept aside."""
    valid = [c for c in claims if not c.flag]
    for c in claims:
        if c.flag:
            report.flagged.append(f"{c.member.path}: {c.flag}; not graded, kept aside")
    exchange = [c for c in valid if c.stamp is not None]
    if exchange:
        best = max(exchange, key=lambda c: c.stamp)
        others = [c for c in valid if c is not best and c.stamp is None]
        if others:
            report.conflicts.append(f"{best.student}/{best.lesson}: {best.member.path} and "
                                    + ", ".join(c.member.path for c in others) + f"; graded {best.member.path}")
        return best, [c for c in claims if c is not best and (c.flag or c.stamp is None)]
    if not valid:
        return None, claims
    best = next((c for c in valid if c.exact), valid[0])
    if len(valid) > 1:
        report.conflicts.append(f"{best.student}/{best.lesson} is claimed by {len(valid)} files: "
                                + ", ".join(c.member.path for c in valid) + f"; graded {best.member.path}, "
                                "all kept under conflicts/")
    return best, [c for c in claims if c is not best]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _size(n: int) -> str:
    return f"{n / 2**20:.3g} MB" if n >= 1 << 20 else f"{n} bytes"


def _read(member: Member) -> tuple[bytes | None, str]:
    if member.size > MAX_FILE_BYTES:
        return None, f"too large ({_size(member.size)}; the limit is {_size(MAX_FILE_BYTES)})"
    try:
        data = member.read()
    except Exception as error:  # a damaged zip member, a file that vanished ...
        return None, f"unreadable ({type(error).__name__}: {error})"
    if len(data) > MAX_FILE_BYTES:
        return None, f"too large (over the limit of {_size(MAX_FILE_BYTES)})"
    return data, ""


def gather(source: Path, submitted: Path, lessons: list[str], conflicts_dir: Path | None = None) -> Collection:
    """Collect ``source`` into ``submitted`` and say what happened to every file."""
    source = Path(source)
    conflicts_dir = conflicts_dir or submitted.parent / "conflicts"
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return _gather(_zip_members, archive, submitted, lessons, conflicts_dir)
    if source.is_dir():
        return _gather(_folder_members, source, submitted, lessons, conflicts_dir)
    raise FileNotFoundError(f"{source} is neither a folder nor a zip file")


def _gather(list_members, source, submitted: Path, lessons: list[str], conflicts_dir: Path) -> Collection:
    report = Collection()
    members = list_members(source, report.skipped)
    report.skipped += [(m.path, "a hidden or system file") for m in members if _hidden(m.parts)]
    members = [m for m in members if not _hidden(m.parts)]
    wrappers = _wrapper_depth(members, lessons)
    groups: dict[tuple, list[Claim]] = defaultdict(list)
    for member in members:
        claim, reason = _claim(member, wrappers, lessons)
        if claim is None:
            report.skipped.append((member.path, reason))
            continue
        if claim.note:
            report.conflicts.append(claim.note)
        groups[(claim.student, claim.lesson)].append(claim)
    by_student = defaultdict(list)
    for (student, _), claims in groups.items():
        by_student[student] += [c for c in claims if c.stamp is not None]
    for student, claims in by_student.items():
        uid = _expected_uid(student, claims)
        for c in claims:
            if uid is not None and c.member.uid is not None and c.member.uid != uid and not c.flag:
                c.flag = f"owned by uid {c.member.uid}, not by the student's uid {uid}"
    folders = _assign_slugs({student for student, _ in groups}, submitted, report)
    for (student, lesson), claims in sorted(groups.items()):
        folder = folders[student]
        best, aside = _choose(claims, report)
        for c in aside:
            data, reason = _read(c.member)
            if data is None:
                report.skipped.append((c.member.path, reason))
                continue
            _write(conflicts_dir / folder / lesson / f"{hashlib.sha256(data).hexdigest()[:12]}.ipynb", data)
        if best is None:
            continue
        data, reason = _read(best.member)
        if data is None:
            report.skipped.append((best.member.path, reason))
            continue
        _write(submitted / folder / f"{lesson}.ipynb", data)
        if aside:
            _write(conflicts_dir / folder / lesson / f"{hashlib.sha256(data).hexdigest()[:12]}.ipynb", data)
        name_file = submitted / folder / ".name"
        if not name_file.exists():
            name_file.write_text(student)
        report.collected.append(Collected(folder, lesson, best.member.path))
    return report


def collect(source: Path, submitted: Path, lessons: list[str], log=print) -> list[Collected]:
    report = gather(source, submitted, lessons)
    log(f"collected {len(report.collected)} submission(s) into {submitted}")
    for line in report.conflicts:
        log(f"  CONFLICT: {line}")
    for line in report.flagged:
        log(f"  FLAGGED: {line}")
    for line in report.names:
        log(f"  NAMES: {line}")
    for path, reason in report.skipped:
        log(f"  skipped {path}: {reason}")
    return report.collected
