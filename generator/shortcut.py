"""The no-change shortcut: a build whose inputs and output are as the last successful build
left them returns that build's report without reading or rendering anything.

- `input_fingerprint`: a digest of every input of a build but the clock.
- `clock_interval`: the stretch of time around a build's clock in which its output cannot change.
- `BuildRecord`: both of those, with the digest of the output's manifest and the report, kept
  in `<site>/.cache/build-<id>.json`.

This module is what a rebuild with nothing to do runs, so it imports little: nothing of the
config reader, Markdown, Jinja or the site model (importing them would take longer than the
rest of such a rebuild).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import time
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from stat import S_ISREG

import generator
from generator.write import file_digest, output_unchanged

RECORD_FORMAT = "briefing-build-record/4"
# How recent a file's mtime or ctime may be, against the moment its stat was taken, for the
# stat to be trusted to show any later change (git's "racily clean" entries): a write within a
# file system's timestamp granule after the stat leaves mtime and ctime unchanged, and granules
# go up to 2 s (FAT; 1 s on ext3, HFS+ and some network file systems; the kernel's clock for
# file times lags by a tick). Used here and by the content reader's file stamps.
RACY_NS = 2_000_000_000
# The site's cache folder (`cache.CACHE_DIR`, spelt out so this module need not import the
# render cache and with it Markdown).
CACHE_DIR = ".cache"
# The packages (by import name) whose version changes what a build makes; python-slugify
# transliterates non-Latin titles with unidecode when installed, else text-unidecode.
DEPENDENCIES = ("markdown", "nh3", "jinja2", "markupsafe", "babel", "yaml", "slugify",
                "unidecode", "text_unidecode")

# Output depends on the build's clock only through: which articles are published (their dates),
# the calendar day in the site's time zone, and windows that end `date + window` after an
# article (the news sitemap's two days). A rebuild whose clock crosses none of those moments,
# with the same inputs, makes the same bytes. Layouts that mention `now` opt out of the shortcut.
# The windows are passed in by the build (render.NEWS_WINDOW), so the two cannot drift apart.
_NOW_IN_LAYOUT = re.compile(rb"\bnow\b")


_clock = time.time_ns  # the wall clock racy files are told by (replaced in tests)


@dataclass(frozen=True)
class ContentStats:
    """What the fingerprint's stat pass saw of content/, for the content reader to use instead
    of a stat of its own (`sources.read_content`): each file's `stat_identity` and the newer of
    its mtime and ctime (ns), by path inside the site (`content/a.md`); `taken` is the wall
    clock (ns) read before the pass."""

    taken: int
    files: Mapping[str, tuple[str, int]]


def _entry_name(entry: os.DirEntry) -> str:
    return entry.name


def _stat_lines(root: Path, lines: list[str], label: str, recent: int, hashed: set[str],
                racy: list[str], settled: dict[int, str], skip: tuple[str, ...] = (),
                seen: dict[str, tuple[str, int]] | None = None) -> None:
    """Append `label/rel <stat_identity>` for every file below root (sorted; hidden files too;
    linked folders and folders named in `skip` are not entered, as the content reader does not
    enter linked folders). A file changed at or after `recent` (ns) is racy: its line also
    holds its bytes' digest, and its name goes to `racy`. So does the line of a file named in
    `hashed` (those racy when the compared record was taken), whose line without the digest
    goes to `settled` by its index in `lines`. `seen` gets each file's identity and the newer
    of its mtime and ctime, by `label/rel`."""
    if not root.is_dir():
        lines.append(f"{label} missing")
        return
    # os.scandir, not os.walk: no path joined or made relative in Python for each of 10,000 files.
    pending = [(os.fspath(root), f"{label}/")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=_entry_name)
        except OSError:
            lines.append(f"{label} unreadable {folder}")
            continue
        folders = []
        for entry in entries:
            try:
                if entry.is_dir():
                    if not entry.is_symlink() and entry.name not in skip:
                        folders.append(entry)
                    continue
                stat = entry.stat()
            except OSError:
                lines.append(f"{label} unreadable {entry.path}")
                continue
            rel = f"{prefix}{entry.name}"
            identity = stat_identity(stat)
            line = f"{rel} {identity}"
            newest = max(stat.st_ctime_ns, stat.st_mtime_ns)
            if seen is not None:
                seen[rel] = (identity, newest)
            is_racy = newest >= recent
            if is_racy or rel in hashed:
                if is_racy:
                    racy.append(rel)
                else:
                    settled[len(lines)] = line
                try:
                    with open(entry.path, "rb") as handle:
                        line += " " + hashlib.blake2b(handle.read(), digest_size=16).hexdigest()
                except OSError:
                    line += " unreadable"
            lines.append(line)
        pending.extend((entry.path, f"{prefix}{entry.name}/") for entry in reversed(folders))


def stat_identity(stat: os.stat_result) -> str:
    """What a file's stat says of its bytes (size, mtime, ctime, inode, device): an edit, or
    the file replaced by another, changes at least one of these."""
    return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns} {stat.st_ino} {stat.st_dev}"


@dataclass(frozen=True)
class Fingerprint:
    """A digest of every input of a build but the clock, and the files that were racy when it
    was taken (changed in the last RACY_NS): their bytes' digests are in it. `own` is the
    digest with only those files' bytes in it, which a record of this build keeps; `digest`
    also has the bytes of the files named by the record it is compared with."""

    digest: str
    racy: tuple[str, ...] = ()
    own: str = ""
    # The pass's stats of content/, for the content reader (not part of what it stands for).
    content: ContentStats | None = field(default=None, compare=False, repr=False)


def input_fingerprint(site_dir: Path, layouts: Sequence[Path], output_dir: Path,
                      options: Sequence[object], hashed: Iterable[str] = ()
                      ) -> Fingerprint | None:
    """A digest of every input of a build except the clock; None when the shortcut must not be
    used (a layout reads the clock directly).

    Content and code files count by their size, mtime, ctime and inode (an edit changes the
    ctime even when the mtime is put back), as git's index does. Like git, it does not trust
    those for a file changed in the last RACY_NS: time stamps are coarse, and a second edit
    within the same tick as the first, of the same size, would leave them all as they were.
    The bytes of such a racy file are read into the digest instead; a record taken then
    names them (`hashed`), and a later fingerprint compared with it reads them too."""
    digest = hashlib.blake2b(digest_size=20)
    taken = _clock()
    recent = taken - RACY_NS
    wanted, racy, settled = set(hashed), [], {}
    lines = [RECORD_FORMAT, generator.__version__, sys.version, str(output_dir.resolve()),
             repr(options)]
    lines += [installed_package(name) for name in DEPENDENCIES]
    # The code's bytecode is left out: Python checks it against the sources, and it is written
    # as modules are first imported, after this (the pipeline's only when there is work to do).
    _stat_lines(Path(generator.__file__).parent, lines, "generator", recent, wanted, racy,
                settled, skip=("__pycache__",))
    seen: dict[str, tuple[str, int]] = {}
    _stat_lines(site_dir / "content", lines, "content", recent, wanted, racy, settled,
                seen=seen)
    try:
        digest.update((site_dir / "config.yaml").read_bytes())
    except OSError:
        lines.append("no config")
    for directory in layouts:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if path.suffix in (".html", ".xml", ".txt", ".json") and _NOW_IN_LAYOUT.search(data):
                return None
            lines.append(f"layout {path}")
            digest.update(hashlib.blake2b(data, digest_size=16).digest())
    own = digest.copy()
    digest.update("\n".join(lines).encode("utf-8", "surrogateescape"))
    for index, line in settled.items():
        lines[index] = line
    own.update("\n".join(lines).encode("utf-8", "surrogateescape"))
    return Fingerprint(digest.hexdigest(), tuple(racy), own.hexdigest(),
                       ContentStats(taken, seen))


def installed_package(module: str) -> str:
    """Where a package is imported from, and its folder's mtime: installing, upgrading or
    removing a package replaces the files in that folder (or the folder), which changes it.
    Asking importlib.metadata for the version would mean importing it: tens of milliseconds,
    a good part of a rebuild with nothing to do."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return f"{module} not found"
    package = Path(spec.origin)
    if spec.submodule_search_locations is not None:
        package = package.parent
    try:
        return f"{module} {package} {os.stat(package).st_mtime_ns}"
    except OSError:
        return f"{module} {package} unreadable"


def zone_source(name: str) -> str:
    """Which file the time zone `name` is read from, with its size and mtime: the first match
    on `zoneinfo.TZPATH` (the system's zone files), as zoneinfo looks, else the tzdata package.
    A time zone database update can move a zone's offsets, and with them the dates and edition
    days a build prints, without any input of the site changing."""
    if name and not name.startswith(("/", ".")) and ".." not in name.split("/"):
        for folder in zoneinfo.TZPATH:
            path = os.path.join(folder, name)
            try:
                found = os.stat(path)
            except (OSError, ValueError):
                continue
            if S_ISREG(found.st_mode):
                return f"{path} {found.st_size} {found.st_mtime_ns}"
    return f"{name} from {installed_package('tzdata')}"


def outside_inputs(timezone: str, packages: Sequence[str]) -> list[str]:
    """What a build's output depends on outside the site that only its config names: the
    file the time zone's rules come from, and the folders of the packages its Markdown
    extensions run (`markup.extension_packages`)."""
    return [zone_source(timezone), *(installed_package(name) for name in packages)]


def clock_interval(moments: Iterable[datetime], now: datetime, tz: tzinfo,
                   windows: Sequence[timedelta]) -> tuple[datetime, datetime]:
    """The open stretch of time around `now` in which no article is published and no window or
    day ends: a build at any clock strictly inside it makes the same output. When `now` is itself
    such a moment the stretch is empty and only the very same clock matches."""
    local = now.astimezone(tz)
    day_start = datetime.combine(local.date(), datetime.min.time(), tz)
    start, end = day_start, datetime.combine(local.date() + timedelta(days=1),
                                             datetime.min.time(), tz)
    for moment in moments:
        for edge in (moment, *(moment + w for w in windows)):
            if edge <= now:
                start = max(start, edge)
            else:
                end = min(end, edge)
    if start == now and now != day_start:
        end = now
    return start, end


@dataclass(frozen=True)
class BuildRecord:
    """What a successful build saw and made, so the same build again can stop early."""

    fingerprint: str
    now: datetime
    valid_from: datetime
    valid_until: datetime
    manifest_digest: str
    report: dict
    timezone: str  # the site's, for a clock given without an offset
    packages: tuple[str, ...] = ()  # the Markdown extensions' packages besides Markdown's own
    outside: tuple[str, ...] = ()   # `outside_inputs(timezone, packages)` when it was built
    hashed: tuple[str, ...] = ()  # the fingerprint's racy files, whose bytes are in it

    @staticmethod
    def path_for(site_dir: Path, output_dir: Path) -> Path:
        """Where the record for one output folder is kept."""
        name = hashlib.blake2b(str(output_dir.resolve()).encode(), digest_size=8).hexdigest()
        return site_dir / CACHE_DIR / f"build-{name}.json"

    def save(self, path: Path) -> None:
        """Write the record (atomically); failures are ignored, it is only a shortcut."""
        data = {"format": RECORD_FORMAT, "fingerprint": self.fingerprint,
                "now": self.now.isoformat(),
                "valid_from": self.valid_from.isoformat(),
                "valid_until": self.valid_until.isoformat(),
                "manifest": self.manifest_digest, "report": self.report,
                "timezone": self.timezone, "packages": list(self.packages),
                "outside": list(self.outside), "hashed": list(self.hashed)}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not (path.parent / ".gitignore").exists():
                # Imported only here: the render cache brings Markdown, which a rebuild with
                # nothing to do (saving its record again once racy files settle) need not load.
                from generator.cache import ignore_in_git

                ignore_in_git(path.parent)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            pass

    @classmethod
    def load(cls, path: Path) -> BuildRecord | None:
        """The record at `path`, or None when it is missing, corrupt or not ours."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != RECORD_FORMAT or not isinstance(data.get("report"), dict):
                return None
            return cls(str(data["fingerprint"]), datetime.fromisoformat(data["now"]),
                       datetime.fromisoformat(data["valid_from"]),
                       datetime.fromisoformat(data["valid_until"]), str(data["manifest"]),
                       data["report"], str(data["timezone"]),
                       tuple(str(name) for name in data["packages"]),
                       tuple(str(line) for line in data["outside"]),
                       tuple(str(rel) for rel in data["hashed"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def matches(self, fingerprint: Fingerprint | None, now: datetime, output_dir: Path
                ) -> bool:
        """True when the inputs, the clock's stretch and the output folder are as recorded:
        the output's manifest is the one recorded, and every file it lists has the size in
        the manifest and the mtime the writer recorded."""
        if fingerprint is None or fingerprint.digest != self.fingerprint:
            return False
        if now != self.now and not self.valid_from < now < self.valid_until:
            return False
        return output_unchanged(output_dir, self.manifest_digest)


def manifest_digest(output_dir: Path, manifest_name: str) -> str | None:
    """The digest of an output folder's manifest file."""
    try:
        return file_digest((output_dir / manifest_name).read_bytes())
    except OSError:
        return None
