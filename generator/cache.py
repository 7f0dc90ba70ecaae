"""The caches kept in `<site>/.cache/`: rendered bodies, parsed sources, the last build's record.

Everything here is an optimisation. The folder is safe to delete; anything unreadable, corrupt
or written by another program or version is ignored and rebuilt, never trusted.

- `RenderCache`: an article's rendered body (HTML, first paragraph, word count), keyed by the
  digest of its file's bytes and of everything that decides how Markdown becomes HTML (the
  Markdown settings, the sanitiser's allowlist, the versions of Python-Markdown, nh3 and
  Briefing). A change to any of them is a miss.
- `SourceCache`: each content file's parsed front matter and body, keyed by the digest of its
  bytes and of the code that parses them (see `generator.sources`), so an unchanged file's YAML
  is not parsed again.
- `BuildRecord`: the fingerprint of a successful build's inputs, so a rebuild that would make
  exactly the same output can check the output folder and stop without rendering.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Generic, TypeVar

import generator
from generator import markup
from generator.markup import MarkdownSettings, RenderedBody, render_markdown

CACHE_DIR = ".cache"
CACHE_FILE = "render.sqlite3"
CACHE_FORMAT = "briefing-render-cache/1"
SOURCE_CACHE_FILE = "sources.sqlite3"
SOURCE_CACHE_FORMAT = "briefing-source-cache/1"
RECORD_FORMAT = "briefing-build-record/1"
# Below this many misses a process pool costs more than it saves.
PARALLEL_THRESHOLD = 8
CHUNK = 64

# Called as progress(stage, done, total), stage being "articles" or "pages".
Progress = Callable[[str, int, int], None]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def settings_digest(settings: MarkdownSettings) -> str:
    """A digest of everything besides the file's bytes that decides a rendered body."""
    parts = {
        "settings": repr(settings),
        "generator": generator.__version__,
        "python": sys.version,
        "markdown": _version("markdown"),
        "nh3": _version("nh3"),
        "tags": sorted(markup.ALLOWED_TAGS),
        "attributes": {k: sorted(v) for k, v in markup.ALLOWED_ATTRIBUTES.items()},
        "schemes": sorted(markup.URL_SCHEMES),
        "markup.py": hashlib.blake2b(Path(markup.__file__).read_bytes()).hexdigest(),
    }
    return hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=16).hexdigest()


def body_key(raw: bytes, settings_key: str) -> str:
    """The cache key of one article file's rendered body."""
    # SHA-256 runs in hardware on most CPUs: half the time of BLAKE2 over a big site's bytes.
    digest = hashlib.sha256(settings_key.encode())
    digest.update(raw)
    return digest.hexdigest()


V = TypeVar("V")


class _KeyedCache(Generic[V]):
    """Values by key in a small SQLite file of our own, read at once (one query costs far less
    than one per article); unusable files are replaced, malformed rows dropped, never trusted.
    A subclass names its table and columns and turns rows into values and back."""

    TABLE = ""
    COLUMNS = ""
    FORMAT = ""

    def __init__(self, path: Path | None):
        self.path = path
        self._db = (_open_database(path, self.TABLE, self.COLUMNS, self.FORMAT)
                    if path is not None else None)
        self._stored: dict[str, V] | None = None
        self._new: dict[str, V] = {}
        self._used: set[str] = set()

    def _decode(self, row: tuple) -> V | None:
        """A stored row's value (the row without its key), or None when it is malformed."""
        raise NotImplementedError

    def _encode(self, value: V) -> tuple:
        """A value as the row columns after the key."""
        raise NotImplementedError

    def _load(self) -> dict[str, V]:
        if self._stored is None:
            self._stored = {}
            if self._db is not None:
                names = ", ".join(column.split()[0] for column in self.COLUMNS.split(","))
                try:
                    rows = self._db.execute(f"SELECT key, {names} FROM {self.TABLE}").fetchall()
                except sqlite3.Error:
                    rows = []
                for key, *row in rows:
                    value = self._decode(tuple(row)) if isinstance(key, str) else None
                    if value is not None:
                        self._stored[key] = value
        return self._stored

    def get(self, key: str) -> V | None:
        """The stored value for `key`, if there is a well-formed one."""
        self._used.add(key)
        value = self._new.get(key)
        return value if value is not None else self._load().get(key)

    def put(self, key: str, value: V) -> None:
        """Remember a new value (saved by `save`)."""
        self._used.add(key)
        self._new[key] = value

    def save(self) -> None:
        """Store new values and drop the rows this build did not use (malformed ones too);
        failures are ignored."""
        if self._db is None:
            return
        try:
            keys = [row[0] for row in self._db.execute(f"SELECT key FROM {self.TABLE}")]
        except sqlite3.Error:
            keys = []
        stale = [(key,) for key in keys if key not in self._used]
        if self._new or stale:
            marks = ", ".join("?" * (1 + len(self.COLUMNS.split(","))))
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(f"INSERT OR REPLACE INTO {self.TABLE} VALUES ({marks})",
                                     [(k, *self._encode(v)) for k, v in self._new.items()])
                self._db.executemany(f"DELETE FROM {self.TABLE} WHERE key = ?", stale)
                self._db.execute("COMMIT")
            except sqlite3.Error:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        self._stored = None
        self._new.clear()

    def close(self) -> None:
        """Close the database file."""
        self._stored = None
        if self._db is not None:
            self._db.close()
            self._db = None


class RenderCache(_KeyedCache[RenderedBody]):
    """Rendered article bodies (`<site>/.cache/render.sqlite3`)."""

    TABLE = "bodies"
    COLUMNS = "html TEXT, first TEXT, words INTEGER"
    FORMAT = CACHE_FORMAT

    @classmethod
    def for_site(cls, site_dir: Path) -> RenderCache:
        """The cache of a site (`<site>/.cache/render.sqlite3`)."""
        return cls(site_dir / CACHE_DIR / CACHE_FILE)

    @classmethod
    def disabled(cls) -> RenderCache:
        """A cache that never hits and stores nothing."""
        return cls(None)

    def _decode(self, row: tuple) -> RenderedBody | None:
        html, first, words = row
        if isinstance(html, str) and isinstance(first, str) and type(words) is int:
            return RenderedBody(html, first, words)
        return None

    def _encode(self, value: RenderedBody) -> tuple:
        return value.html, value.first_paragraph, value.words


class SourceCache(_KeyedCache[str]):
    """Parsed content files, as JSON text by key (`<site>/.cache/sources.sqlite3`).

    What a value means is `generator.sources`' business; this class only keeps values, drops
    the ones a build did not use, and replaces unusable files rather than trusting them."""

    TABLE = "sources"
    COLUMNS = "value TEXT"
    FORMAT = SOURCE_CACHE_FORMAT

    @classmethod
    def for_site(cls, site_dir: Path) -> SourceCache:
        """The source cache of a site (`<site>/.cache/sources.sqlite3`)."""
        return cls(site_dir / CACHE_DIR / SOURCE_CACHE_FILE)

    def _decode(self, row: tuple) -> str | None:
        return row[0] if isinstance(row[0], str) else None

    def _encode(self, value: str) -> tuple:
        return (value,)


def _connect(path: Path, table: str, columns: str, format_marker: str) -> sqlite3.Connection:
    """Open a cache database, creating its tables; raise when it holds another format."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, {columns})")
        row = db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        if row is None:
            if db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
                raise sqlite3.DatabaseError(f"{table} without a format: not ours")
            db.execute("INSERT INTO meta VALUES ('format', ?)", (format_marker,))
        elif row[0] != format_marker:
            raise sqlite3.DatabaseError(f"foreign cache format {row[0]!r}")
    except BaseException:
        db.close()
        raise
    return db


def _open_database(path: Path, table: str, columns: str, format_marker: str
                   ) -> sqlite3.Connection | None:
    """The cache database at `path`; a corrupt or foreign file is deleted and started afresh,
    and None means no cache this time (an unwritable folder, a file that cannot be replaced)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _ignore_in_git(path.parent)
    except OSError:
        return None
    for attempt in range(2):
        try:
            return _connect(path, table, columns, format_marker)
        except sqlite3.Error:
            if attempt:
                return None
            try:  # corrupt or foreign: start again from an empty cache
                path.unlink(missing_ok=True)
            except OSError:
                return None
    return None


def _ignore_in_git(cache_dir: Path) -> None:
    marker = cache_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# Briefing's render cache: safe to delete.\n*\n", encoding="utf-8")


@dataclass(frozen=True)
class RenderStats:
    """How many bodies were rendered and how many came from the cache."""

    rendered: int
    cached: int


def _render_chunk(texts: Sequence[str], settings: MarkdownSettings) -> list[RenderedBody]:
    return [render_markdown(text, settings) for text in texts]


def render_bodies(items: Sequence[tuple[bytes, str]], settings: MarkdownSettings,
                  cache: RenderCache, jobs: int = 1, progress: Progress | None = None
                  ) -> tuple[list[RenderedBody], RenderStats]:
    """Render (file bytes, Markdown) pairs, from the cache where possible, in `jobs` processes.

    The result is the same, in the same order, whatever `jobs` is."""
    settings_key = settings_digest(settings)
    keys = [body_key(raw, settings_key) for raw, _ in items]
    bodies: list[RenderedBody | None] = [cache.get(key) for key in keys]
    missing = [i for i, body in enumerate(bodies) if body is None]
    total, done = len(items), len(items) - len(missing)
    if progress:
        progress("articles", done, total)
    chunks = [missing[i:i + CHUNK] for i in range(0, len(missing), CHUNK)]
    for chunk, rendered in zip(chunks, _map_chunks(chunks, items, settings, jobs), strict=True):
        for index, body in zip(chunk, rendered, strict=True):
            bodies[index] = body
            cache.put(keys[index], body)
        done += len(chunk)
        if progress:
            progress("articles", done, total)
    return [b for b in bodies if b is not None], RenderStats(len(missing), total - len(missing))


def _map_chunks(chunks: list[list[int]], items: Sequence[tuple[bytes, str]],
                settings: MarkdownSettings, jobs: int) -> Iterable[list[RenderedBody]]:
    texts = ([items[i][1] for i in chunk] for chunk in chunks)
    count = sum(len(c) for c in chunks)
    if jobs <= 1 or count < PARALLEL_THRESHOLD:
        for batch in texts:
            yield _render_chunk(batch, settings)
        return
    context = get_context("fork") if "fork" in _start_methods() else None
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=context) as pool:
        yield from pool.map(_render_chunk, texts, [settings] * len(chunks))


def _start_methods() -> list[str]:
    from multiprocessing import get_all_start_methods
    return get_all_start_methods()


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# --- The whole-build shortcut -------------------------------------------------------------

# Output depends on the build's clock only through: which articles are published (their dates),
# the calendar day in the site's time zone, and windows that end `date + window` after an
# article (the news sitemap's two days). A rebuild whose clock crosses none of those moments,
# with the same inputs, makes the same bytes. Layouts that mention `now` opt out of the shortcut.
# The windows are passed in by the build (render.NEWS_WINDOW), so the two cannot drift apart.
_NOW_IN_LAYOUT = re.compile(rb"\bnow\b")


def _stat_lines(root: Path, lines: list[str], label: str) -> None:
    """Append `label/rel size mtime_ns` for every file below root (sorted; hidden files too)."""
    if not root.is_dir():
        lines.append(f"{label} missing")
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        folder = os.path.relpath(dirpath, root)  # once a folder: relpath is dear at 10,000 files
        prefix = f"{label}/" if folder == os.curdir else f"{label}/{folder}{os.sep}"
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                stat = os.stat(path)
            except OSError:
                lines.append(f"{label} unreadable {path}")
                continue
            lines.append(f"{prefix}{name} {stat.st_size} {stat.st_mtime_ns}")


def input_fingerprint(site_dir: Path, layouts: Sequence[Path], output_dir: Path,
                      options: Sequence[object]) -> str | None:
    """A digest of every input of a build except the clock; None when the shortcut must not be
    used (a layout reads the clock directly)."""
    digest = hashlib.blake2b(digest_size=20)
    lines = [RECORD_FORMAT, generator.__version__, sys.version, str(output_dir.resolve()),
             repr(options)]
    lines += [f"{d} {_version(d)}" for d in ("markdown", "nh3", "jinja2", "babel", "pyyaml")]
    _stat_lines(Path(generator.__file__).parent, lines, "generator")
    _stat_lines(site_dir / "content", lines, "content")
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
    digest.update("\n".join(lines).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


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
                "manifest": self.manifest_digest, "report": self.report}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _ignore_in_git(path.parent)
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
                       data["report"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def matches(self, fingerprint: str | None, now: datetime, output_dir: Path) -> bool:
        """True when the inputs, the clock's stretch and the output folder are as recorded."""
        if fingerprint is None or fingerprint != self.fingerprint:
            return False
        if now != self.now and not self.valid_from < now < self.valid_until:
            return False
        return output_intact(output_dir, self.manifest_digest)


def manifest_digest(output_dir: Path, manifest_name: str) -> str | None:
    """The digest of an output folder's manifest file."""
    from generator.write import file_digest

    try:
        return file_digest((output_dir / manifest_name).read_bytes())
    except OSError:
        return None


def output_intact(output_dir: Path, expected_digest: str) -> bool:
    """True when the output folder holds the manifest we recorded and every file it lists,
    with the size in the manifest and the mtime the writer recorded."""
    from generator.write import MANIFEST, intact_files

    try:
        files = json.loads((output_dir / MANIFEST).read_bytes())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if manifest_digest(output_dir, MANIFEST) != expected_digest or not isinstance(files, dict):
        return False
    return len(intact_files(output_dir)) == len(files)
