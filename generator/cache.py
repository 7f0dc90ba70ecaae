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

- `ArticleCache`: what the article check made of each file (the article before its body is
  rendered, and its problems), keyed by the file's path and bytes and everything else the
  check reads (see `generator.models.check_key`).
- `FileStamps`: each content file's stat identity and the digest of its bytes, so a file
  whose identity has not changed need not be read again (see `generator.sources`).

The last build's record, which lets a rebuild with nothing to do stop early, is kept here too
but is `generator.shortcut`'s business.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Generic, Self, TypeVar
from urllib.parse import urlsplit

import generator
from generator import markup
from generator.markup import (
    MarkdownSettings,
    MarkupError,
    RenderedBody,
    render_markdown,
    rewrite_links,
)
from generator.shortcut import installed_package

CACHE_DIR = ".cache"
CACHE_FILE = "render.sqlite3"
CACHE_FORMAT = "briefing-render-cache/2"
SOURCE_CACHE_FILE = "sources.sqlite3"
SOURCE_CACHE_FORMAT = "briefing-source-cache/1"
ARTICLE_CACHE_FILE = "articles.sqlite3"
ARTICLE_CACHE_FORMAT = "briefing-article-cache/1"
FILE_STAMPS_FILE = "files.sqlite3"
FILE_STAMPS_FORMAT = "briefing-file-stamps/2"
# Below this many misses a process pool costs more than it saves.
PARALLEL_THRESHOLD = 8
CHUNK = 64

# Called as progress(stage, done, total), stage being "articles" or "pages".
Progress = Callable[[str, int, int], None]


def package_version(dist: str) -> str:
    """An installed distribution's version, or 'unknown'."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _extension_version(top: str) -> str:
    """The versions of the distributions that install the top-level package `top`, and where
    it is and when its folder (or file) last changed: a site's own extension module has no
    distribution to ask."""
    names = metadata.packages_distributions().get(top, [])
    versions = ",".join(f"{name} {package_version(name)}" for name in sorted(names))
    return f"{versions or 'no distribution'}; {installed_package(top)}"


def settings_digest(settings: MarkdownSettings) -> str:
    """A digest of everything besides the file's bytes that decides a rendered body."""
    parts = {
        "settings": repr(settings),
        "generator": generator.__version__,
        "python": sys.version,
        "markdown": package_version("markdown"),
        "nh3": package_version("nh3"),
        "extensions": {top: _extension_version(top)
                       for top in markup.extension_packages(settings.extensions)},
        "tags": sorted(markup.ALLOWED_TAGS),
        "attributes": {k: sorted(v) for k, v in markup.ALLOWED_ATTRIBUTES.items()},
        "schemes": sorted(markup.URL_SCHEMES),
        "markup.py": hashlib.blake2b(Path(markup.__file__).read_bytes()).hexdigest(),
    }
    return hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=16).hexdigest()


def names_markdown(html: str) -> bool:
    """True when a link in `html` names a Markdown file (a target without a scheme or host
    whose path ends in .md or .markdown): only such a body has links for
    `site.link_content` to rewrite."""
    found: list[str] = []

    def probe(href: str) -> None:
        parts = urlsplit(href)
        if not (parts.scheme or parts.netloc) and parts.path.endswith((".md", ".markdown")):
            found.append(href)
        return None
    rewrite_links(html, probe)
    return bool(found)


def body_key(file_key: bytes, settings_key: str) -> str:
    """The cache key of one article file's rendered body, from bytes that stand for the file:
    the digest of its bytes (`sources.file_digest`, made once when the file is read)."""
    # SHA-256 runs in hardware on most CPUs: half the time of BLAKE2 over a big site's bytes.
    digest = hashlib.sha256(settings_key.encode())
    digest.update(file_key)
    return digest.hexdigest()


V = TypeVar("V")


class _KeyedCache(Generic[V]):
    """Values by key in a small SQLite file of our own, read at once (one query costs far less
    than one per article); unusable files are replaced, malformed rows dropped, never trusted.
    A subclass names its table and columns and turns rows into values and back."""

    TABLE = ""
    COLUMNS = ""
    FORMAT = ""
    FILE = ""  # its name in `<site>/.cache/`
    PAGE_SIZE = 4096  # SQLite's page size for a new file

    @classmethod
    def for_site(cls, site_dir: Path) -> Self:
        """The cache of a site (`<site>/.cache/<FILE>`)."""
        return cls(site_dir / CACHE_DIR / cls.FILE)

    @classmethod
    def disabled(cls) -> Self:
        """A cache that never hits and stores nothing."""
        return cls(None)

    def __init__(self, path: Path | None):
        self.path = path
        self._db = (_open_database(path, self.TABLE, self.COLUMNS, self.FORMAT, self.PAGE_SIZE)
                    if path is not None else None)
        self._stored: dict[str, V] | None = None
        # Every row's key as `_load` found them (malformed rows' too), so that `save` need
        # not read them again; None when not loaded.
        self._keys: list[object] | None = None
        self._new: dict[str, V] = {}
        self._used: set[str] = set()

    def _decode_rows(self, rows: list[tuple]) -> dict[str, V]:
        """The well-formed rows' values by key (each row: the key, then the columns), checked
        and decoded in one pass of the subclass's own: 10,000 rows a cache on a big site,
        every build. A malformed row is left out."""
        raise NotImplementedError

    def _encode(self, key: str, value: V) -> tuple:
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
                else:
                    self._keys = [row[0] for row in rows]
                self._stored = self._decode_rows(rows)
        return self._stored

    def get(self, key: str) -> V | None:
        """The stored value for `key`, if there is a well-formed one."""
        self._used.add(key)
        value = self._new.get(key)
        if value is not None:
            return value
        return (self._stored if self._stored is not None else self._load()).get(key)

    def holds(self, key: str) -> bool:
        """True when there is a well-formed value for `key`; unlike `get`, the key does not
        count as used (`save` keeps only the rows the build used)."""
        return key in self._new or key in (
            self._stored if self._stored is not None else self._load())

    def let_go(self) -> None:
        """Forget the loaded values once the build has looked up all it needs (the keys stay,
        for `save`): after an upgrade, a big site's cache holds tens of megabytes of bodies no
        key asks for any more, which would otherwise stay in memory for the whole build."""
        self._stored = None

    def put(self, key: str, value: V) -> None:
        """Remember a new value (saved by `save`)."""
        self._used.add(key)
        self._new[key] = value

    def save(self) -> None:
        """Store new values and drop the rows this build did not use (malformed ones too);
        failures are ignored."""
        if self._db is None:
            return
        keys = self._keys
        if keys is None:
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
                                     [(k, *self._encode(k, v)) for k, v in self._new.items()])
                self._db.executemany(f"DELETE FROM {self.TABLE} WHERE key = ?", stale)
                self._db.execute("COMMIT")
            except sqlite3.Error:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        self._stored = self._keys = None
        self._new.clear()

    def close(self) -> None:
        """Close the database file."""
        self._stored = None
        if self._db is not None:
            self._db.close()
            self._db = None


class RenderCache(_KeyedCache[RenderedBody]):
    """Rendered article bodies (`<site>/.cache/render.sqlite3`), each with whether it has a
    link naming a Markdown file (`names_markdown`, worked out once when it is rendered: the
    link pattern over a big site's HTML cost more than reading it)."""

    TABLE = "bodies"
    COLUMNS = "html TEXT, first TEXT, words INTEGER, links INTEGER"
    FORMAT = CACHE_FORMAT
    FILE = CACHE_FILE
    # A body's HTML is about 5 KB: in 4 KB pages each row spills onto an overflow page, and
    # reading 10,000 of them (every rebuild) took 0.065 s of CPU against 0.038 s in 64 KB pages.
    PAGE_SIZE = 65536

    def __init__(self, path: Path | None):
        super().__init__(path)
        self._linking: set[str] = set()  # loaded keys whose body links a Markdown file
        self._new_linking: set[str] = set()  # the same, of the bodies put since loading

    def _decode_rows(self, rows: list[tuple]) -> dict[str, RenderedBody]:
        # RenderedBody(...) without the frozen __init__'s setattr per field (10,000 rows).
        stored, new, linking = {}, object.__new__, set()
        for key, html, first, words, links in rows:
            if type(key) is str and type(html) is str and type(first) is str \
                    and type(words) is int and (links == 0 or links == 1) \
                    and type(links) is int:
                body = new(RenderedBody)
                body.__dict__.update(html=html, first_paragraph=first, words=words)
                stored[key] = body
                if links:
                    linking.add(key)
        self._linking = linking
        return stored

    def linking(self) -> set[str]:
        """The keys of the loaded bodies that have a link naming a Markdown file (kept when
        the bodies are let go)."""
        self._load()
        return self._linking

    def put(self, key: str, value: RenderedBody) -> bool:
        """Remember a newly rendered body; True when it has a link naming a Markdown file."""
        super().put(key, value)
        links = names_markdown(value.html)
        if links:
            self._new_linking.add(key)
        return links

    def _encode(self, key: str, value: RenderedBody) -> tuple:
        return value.html, value.first_paragraph, value.words, int(key in self._new_linking)


class _TextCache(_KeyedCache[str]):
    """A keyed cache whose values are text (JSON that another module reads and checks)."""

    COLUMNS = "value TEXT"

    def _decode_rows(self, rows: list[tuple]) -> dict[str, str]:
        return {key: value for key, value in rows if type(key) is str and type(value) is str}

    def _encode(self, key: str, value: str) -> tuple:
        return (value,)


class SourceCache(_TextCache):
    """Parsed content files, as JSON text by key (`<site>/.cache/sources.sqlite3`).

    What a value means is `generator.sources`' business; this class only keeps values, drops
    the ones a build did not use, and replaces unusable files rather than trusting them."""

    TABLE = "sources"
    FORMAT = SOURCE_CACHE_FORMAT
    FILE = SOURCE_CACHE_FILE


class ArticleCache(_TextCache):
    """Checked articles, as JSON text by key (`<site>/.cache/articles.sqlite3`): what the
    article check made of a file's front matter. What a value means and what its key is made
    of is `generator.models`' business."""

    TABLE = "articles"
    FORMAT = ARTICLE_CACHE_FORMAT
    FILE = ARTICLE_CACHE_FILE


# What a content file's stat said when it was last read ("size mtime_ns ctime_ns inode
# device"), the SHA-256 of the bytes read then, and when (wall clock, ns, taken before the
# stat) that was. A plain tuple: 10,000 of them are loaded for every build.
FileStamp = tuple[str, bytes, int]


class FileStamps(_KeyedCache[FileStamp]):
    """Content files' stat identities and digests by path inside the site
    (`<site>/.cache/files.sqlite3`): see `generator.sources.read_content`."""

    TABLE = "files"
    COLUMNS = "stamp TEXT, digest BLOB, recorded_ns INTEGER"
    FORMAT = FILE_STAMPS_FORMAT
    FILE = FILE_STAMPS_FILE

    def _decode_rows(self, rows: list[tuple]) -> dict[str, FileStamp]:
        return {key: (stamp, digest, recorded) for key, stamp, digest, recorded in rows
                if type(key) is str and type(stamp) is str and type(digest) is bytes
                and len(digest) == 32 and type(recorded) is int}

    def _encode(self, key: str, value: FileStamp) -> tuple:
        return value


def _connect(path: Path, table: str, columns: str, format_marker: str, page_size: int = 4096
             ) -> sqlite3.Connection:
    """Open a cache database, creating its tables (with pages of `page_size` bytes in a new
    file); raise when it holds another format."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        db.execute(f"PRAGMA page_size = {int(page_size)}")  # no effect once the file has tables
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


def _open_database(path: Path, table: str, columns: str, format_marker: str,
                   page_size: int = 4096) -> sqlite3.Connection | None:
    """The cache database at `path`; a corrupt or foreign file is deleted and started afresh,
    and None means no cache this time (an unwritable folder, a file that cannot be replaced)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore_in_git(path.parent)
    except OSError:
        return None
    for attempt in range(2):
        try:
            return _connect(path, table, columns, format_marker, page_size)
        except sqlite3.Error:
            if attempt:
                return None
            try:  # corrupt or foreign: start again from an empty cache
                path.unlink(missing_ok=True)
            except OSError:
                return None
    return None


def ignore_in_git(cache_dir: Path) -> None:
    """Keep the cache folder out of git (a `.gitignore` of its own)."""
    marker = cache_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# Briefing's render cache: safe to delete.\n*\n", encoding="utf-8")


@dataclass(frozen=True)
class RenderStats:
    """How many bodies were rendered and how many came from the cache."""

    rendered: int
    cached: int


def _render_chunk(texts: Sequence[str], settings: MarkdownSettings
                  ) -> list[RenderedBody | str]:
    """Each text rendered, or the message of the MarkupError it raised: one failure does not
    stop the chunk, so one pass finds every body that cannot be converted."""
    rendered: list[RenderedBody | str] = []
    for text in texts:
        try:
            rendered.append(render_markdown(text, settings))
        except MarkupError as exc:
            rendered.append(str(exc))
    return rendered


# An article's Markdown, or a function that gives it (called only when the body is rendered).
Markdown = str | Callable[[], str]


class BodyErrors(MarkupError):
    """Bodies that cannot be converted: (the item's index, the message) for each."""

    def __init__(self, failed: list[tuple[int, str]]):
        self.failed = failed
        super().__init__("; ".join(message for _, message in failed))


class BodyRenderer:
    """Article bodies as HTML, from the render cache or rendered in `jobs` forked processes.

    `submit` hands over a body as soon as it is known (a cold build submits each while the
    content is still being read), and once `CHUNK` bodies the cache does not hold are waiting
    a worker starts on them; `render` then gives the bodies asked for, in order, and renders
    the rest. Only what `render` is asked for is used, put in the cache and counted: a body
    submitted but not asked for is forgotten, and so is its failure. Leaving it as a context
    manager (or `close`) stops the workers; with one job none is started."""

    def __init__(self, settings: MarkdownSettings, cache: RenderCache, jobs: int = 1):
        self.settings = settings
        self.cache = cache
        self.jobs = jobs
        self.settings_key = settings_digest(settings)
        self._waiting: dict[str, Markdown] = {}  # by key: not yet sent to the workers
        self._sent: dict[str, tuple[Future, int]] = {}  # by key: its chunk and place in it
        self._pool: ProcessPoolExecutor | None = None
        self._stopped = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, file_key: bytes, text: str) -> None:
        """Render ahead the Markdown `text` of the article file whose bytes have the digest
        `file_key`, unless the cache holds its body; nothing with one job or once stopped."""
        if self.jobs <= 1 or self._stopped:
            return
        key = body_key(file_key, self.settings_key)
        if key in self._sent or key in self._waiting or self.cache.holds(key):
            return
        self._waiting[key] = text
        if len(self._waiting) >= CHUNK:
            self._send(self.jobs)

    def stop(self) -> None:
        """Render nothing more ahead (the build is failing): chunks not started are
        cancelled, so the workers stop after the ones they are on."""
        self._stopped = True
        self._waiting.clear()
        for future, _ in self._sent.values():
            future.cancel()

    def close(self) -> None:
        """Stop the workers (each finishes the chunk it is on) and forget what was sent."""
        self._waiting.clear()
        self._sent.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _send(self, workers: int) -> None:
        """Hand the waiting bodies to the workers as one chunk, starting `workers` of them
        if none runs yet (forked: the parent is small while it is still reading)."""
        if self._pool is None:
            context = get_context("fork") if "fork" in _start_methods() else None
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        keys = list(self._waiting)
        texts = [_markdown(self._waiting[key]) for key in keys]
        self._waiting = {}
        future = self._pool.submit(_render_chunk, texts, self.settings)
        for place, key in enumerate(keys):
            self._sent[key] = (future, place)

    def render(self, items: Sequence[tuple[bytes, Markdown]], progress: Progress | None = None,
               linking: set[int] | None = None) -> tuple[list[RenderedBody], RenderStats]:
        """Render (file key, Markdown) pairs, from the cache where possible, else from what
        was submitted, else now (the file key: the digest of the article file's bytes, see
        `body_key`; the Markdown may be a function, called only for a body neither holds).
        `linking`, when given, gets the index of each item whose body has a link naming a
        Markdown file. Raise BodyErrors naming every item that cannot be converted.

        The result is the same, in the same order, whatever `jobs` is."""
        cache = self.cache
        keys = [body_key(raw, self.settings_key) for raw, _ in items]
        bodies: list[RenderedBody | None] = [cache.get(key) for key in keys]
        if linking is not None:
            marked = cache.linking()
            if marked:
                linking.update(index for index, key in enumerate(keys)
                               if key in marked and bodies[index] is not None)
        cache.let_go()
        missing = [i for i, body in enumerate(bodies) if body is None]
        total, done = len(items), len(items) - len(missing)
        if progress:
            progress("articles", done, total)
        sent = self._sent
        rest: dict[str, Markdown] = {}  # neither cached nor sent (or sent and cancelled)
        for index in missing:
            key = keys[index]
            if key not in rest and (key not in sent or sent[key][0].cancelled()):
                rest[key] = items[index][1]
        here: list[tuple[str, Markdown]] = []  # rendered in this process as they are reached
        if self.jobs > 1 and rest and (self._pool is not None
                                       or len(rest) >= PARALLEL_THRESHOLD):
            workers = min(self.jobs, -(-len(rest) // CHUNK))
            if self._pool is None:
                return_free_memory()  # the cache's rows just let go: workers would count them
            for key, text in rest.items():
                self._waiting[key] = text
                if len(self._waiting) >= CHUNK:
                    self._send(workers)
            if self._waiting:
                self._send(workers)
        else:
            here = list(rest.items())
        ready: dict[str, RenderedBody | str] = {}
        failed: list[tuple[int, str]] = []
        for count, index in enumerate(missing, 1):
            key = keys[index]
            result = ready.get(key)
            if result is None:
                if here and key not in sent:
                    batch, here = here[:CHUNK], here[CHUNK:]
                    ready.update(zip((k for k, _ in batch), _render_chunk(
                        [_markdown(text) for _, text in batch], self.settings), strict=True))
                    result = ready[key]
                else:
                    future, place = sent[key]
                    result = future.result()[place]
            if isinstance(result, str):
                failed.append((index, result))
            else:
                bodies[index] = result
                if cache.put(key, result) and linking is not None:
                    linking.add(index)
            if progress and (count % CHUNK == 0 or count == len(missing)):
                progress("articles", done + count, total)
        if failed:
            raise BodyErrors(failed)
        return [b for b in bodies if b is not None], RenderStats(len(missing), total - len(missing))


def render_bodies(items: Sequence[tuple[bytes, Markdown]], settings: MarkdownSettings,
                  cache: RenderCache, jobs: int = 1, progress: Progress | None = None,
                  linking: set[int] | None = None) -> tuple[list[RenderedBody], RenderStats]:
    """`BodyRenderer.render` with nothing submitted ahead: the bodies of (file key, Markdown)
    pairs, from the cache where possible, else rendered in `jobs` processes."""
    with BodyRenderer(settings, cache, jobs) as renderer:
        return renderer.render(items, progress, linking)


def return_free_memory() -> None:
    """Hand memory freed by the build so far (the sources, the caches' rows) back to the
    system, where the C library allows it, so neither the parent nor forked workers carry it."""
    import ctypes  # here: ctypes.util brings subprocess, which a cached rebuild need not load
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _markdown(text: Markdown) -> str:
    return text if isinstance(text, str) else text()


def _start_methods() -> list[str]:
    from multiprocessing import get_all_start_methods
    return get_all_start_methods()


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
