"""Find content files, split front matter from body and parse YAML with line numbers."""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import generator
from generator.cache import FileStamp, FileStamps, SourceCache, package_version
from generator.errors import Problem, error, warning
from generator.shortcut import RACY_NS, ContentStats, stat_identity

# libyaml's parser when it is installed; the pure-Python one otherwise.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader that keeps dates as strings, so the models parse them in the site's zone."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> Any:
        """A node's tag, as PyYAML's resolver finds it but with each first character's
        resolvers and the wildcard ones joined once, not for every value (libyaml asks for
        every node: 17 in a typical front matter)."""
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _RESOLVERS.get(value[:1], _WILDCARD):
                    if regexp.match(value):
                        return tag
            return self.DEFAULT_SCALAR_TAG
        if kind is yaml.SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        if kind is yaml.MappingNode:
            return self.DEFAULT_MAPPING_TAG
        return None


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
# What `_Loader.resolve` tries for a plain scalar, by its first character ('' when empty).
_WILDCARD = tuple(_Loader.yaml_implicit_resolvers.get(None, []))
_RESOLVERS = {first: (*resolvers, *_WILDCARD)
              for first, resolvers in _Loader.yaml_implicit_resolvers.items() if first is not None}

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML mapping and the 1-based line of every key in it (nested keys too)."""

    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    def line_of(self, *path: str | int, default: int | None = None) -> int | None:
        """The line of the deepest key of `path` that is known."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is None:  # a key YAML read as a number, true or null: try its text
                line = self.lines.get(tuple(_key_text(p) for p in path[:end]))
            if line is not None:
                return line
        return default


def _key_text(key: object) -> object:
    if isinstance(key, bool):
        return str(key).lower()
    if key is None:
        return "null"
    return key if isinstance(key, int) else str(key)


def load_yaml(text: str, rel: str, first_line: int = 1, allow_aliases: bool = True
              ) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse `text` safely; `first_line` is where it starts in its file, for messages.

    Refused, each with its line: syntax errors, tags that would build Python objects, duplicate
    keys, values no plain type can hold, and (unless `allow_aliases`) `&anchor`/`*alias` pairs.
    """
    offset = first_line - 1
    lines: dict[KeyPath, int] = {}
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return YamlDocument(None, lines), []
            data = _plain_document(node, offset, lines, loader)
            if data is not _UNUSUAL:
                return YamlDocument(data, lines), []
            lines.clear()
            problems = _check_nodes(node, rel, offset, lines, allow_aliases)
            if problems:
                return None, problems
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError:
                raise
            except RecursionError:
                return None, [error(rel, first_line, "invalid YAML: values are nested too "
                                    "deeply")]
            except Exception as exc:  # a constructor rejected a value: find which one
                return None, [_bad_value(node, rel, offset, exc)]
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        return None, [_marked_problem(exc, rel, first_line, offset)]
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + first_line
        return None, [error(rel, line, f"invalid YAML: character U+{exc.character:04X} is not "
                            "allowed here (control characters cannot be used)")]
    except yaml.YAMLError as exc:
        return None, [error(rel, first_line, f"invalid YAML: {exc}")]
    except RecursionError:
        return None, [error(rel, first_line, "invalid YAML: values are nested too deeply")]
    return YamlDocument(data, lines), []


def _marked_problem(exc: yaml.MarkedYAMLError, rel: str, first_line: int, offset: int
                    ) -> Problem:
    """A syntax or constructor error at its line in the file, with where it started."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 + offset if mark else first_line
    message = f"invalid YAML: {_describe_yaml_error(exc)}"
    context = exc.context_mark
    if exc.problem and exc.context and context and context.line + 1 + offset != line:
        message += f" ({exc.context} that starts on line {context.line + 1 + offset})"
    return error(rel, line, message)


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "syntax error"
    if "could not determine a constructor" in problem:
        tag = problem.split("for the tag", 1)[-1].strip(" '")
        if tag.startswith("tag:yaml.org,2002:"):
            tag = "!!" + tag.removeprefix("tag:yaml.org,2002:")
        return f"the tag '{tag}' is not allowed (only plain YAML values are)"
    return problem


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "seq", "map"))
# The scalars besides text `_plain_document` makes with the loader's own constructors.
_PLAIN_SCALARS = {f"tag:yaml.org,2002:{kind}": _Loader.yaml_constructors[
    f"tag:yaml.org,2002:{kind}"] for kind in ("int", "float", "bool", "null")}
_PLAIN_DEPTH = 32  # far below where the constructor's recursion could fail
_UNUSUAL = object()


class _Unusual(Exception):
    """A node `_plain_document` leaves to `_check_nodes` and the constructor."""


def _plain_document(root: yaml.Node, offset: int, lines: dict[KeyPath, int],
                    loader: yaml.BaseLoader) -> Any:
    """The document's data and every key's line (into `lines`) in one walk over the nodes,
    when it is made only of text-keyed mappings without a key twice, sequences and plain
    scalars (text, numbers, booleans, null), and no node is used twice (an alias) nor nested
    deeply: then `_check_nodes` finds no problem and the constructor makes the same data.
    `_UNUSUAL` for anything else. Every front matter is read this way (10,000 on a big site,
    in a third of the time of the check and the constructor)."""
    try:
        return _plain_data(root, (), 0, offset, lines, loader, set())
    except Exception:  # _Unusual, or a value the constructor refuses: the full check says why
        return _UNUSUAL


def _plain_data(node: yaml.Node, path: KeyPath, depth: int, offset: int,
                lines: dict[KeyPath, int], loader: yaml.BaseLoader, seen: set[int]) -> Any:
    """`_plain_document` of one node; raise _Unusual for anything it leaves to the rest."""
    # A module function, not a closure: a recursive closure is a reference cycle, which would
    # keep every file's loader and nodes alive until the collector's rare full pass.
    if id(node) in seen or depth > _PLAIN_DEPTH:
        raise _Unusual
    seen.add(id(node))
    kind, tag = type(node), node.tag
    if kind is yaml.ScalarNode:
        if tag == _STR:
            return node.value
        construct = _PLAIN_SCALARS.get(tag)
        if construct is None:
            raise _Unusual
        return construct(loader, node)
    depth += 1
    if kind is yaml.SequenceNode and tag == _SEQ:
        items = []
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            lines[item_path] = item.start_mark.line + 1 + offset
            items.append(_plain_data(item, item_path, depth, offset, lines, loader, seen))
        return items
    if kind is yaml.MappingNode and tag == _MAP:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not yaml.ScalarNode or key_node.tag != _STR:
                raise _Unusual
            key = key_node.value
            if key in mapping:
                raise _Unusual
            key_path = (*path, key)
            lines[key_path] = key_node.start_mark.line + 1 + offset
            mapping[key] = _plain_data(value_node, key_path, depth, offset, lines, loader,
                                       seen)
        return mapping
    raise _Unusual


def _check_nodes(root: yaml.Node, rel: str, offset: int, lines: dict[KeyPath, int],
                 allow_aliases: bool) -> list[Problem]:
    """Record the line of every key; report duplicate keys and, if refused, aliases."""
    problems: list[Problem] = []
    seen: set[int] = {id(root)}
    stack: list[tuple[yaml.Node, KeyPath, int]] = [(root, (), root.start_mark.line + 1 + offset)]
    while stack:
        node, path, line = stack.pop()
        if isinstance(node, yaml.MappingNode):
            children = []
            first_seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1 + offset
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":merge"):
                    children.append((value_node, path, key_line))
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(
                    key_node.value)
                if isinstance(key_node, yaml.ScalarNode):
                    if key in first_seen:
                        problems.append(error(rel, key_line, f"duplicate key '{key}' (first on "
                                              f"line {first_seen[key]}): keep one of them"))
                    first_seen.setdefault(key, key_line)
                lines.setdefault(path + (key,), key_line)
                children.append((value_node, path + (key,), key_line))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, path + (index,), item.start_mark.line + 1 + offset)
                        for index, item in enumerate(node.value)]
            for (_, item_path, item_line) in children:
                lines.setdefault(item_path, item_line)
        else:
            children = []
        for child, child_path, child_line in children:
            if id(child) in seen:
                if not allow_aliases:
                    problems.append(error(rel, child_line, "anchors and aliases (&name, *name) "
                                          "are not allowed in front matter: write the value "
                                          "out"))
                continue
            seen.add(id(child))
            stack.append((child, child_path, child_line))
    return sorted(set(problems))


def _bad_value(root: yaml.Node, rel: str, offset: int, exc: Exception) -> Problem:
    """The first scalar no constructor accepts (a 5000-digit number, `!!timestamp x`)."""
    constructor = yaml.constructor.SafeConstructor()
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except Exception:  # this is the value that failed
                kind = node.tag.rsplit(":", 1)[-1]
                shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
                return error(rel, node.start_mark.line + 1 + offset,
                             f"invalid YAML: {shown!r} is not a valid {kind}")
        elif isinstance(node, yaml.MappingNode):
            stack.extend(v for pair in reversed(node.value) for v in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return error(rel, root.start_mark.line + 1 + offset, f"invalid YAML: {exc}")


@dataclass(frozen=True)
class Source:
    """One content file: its front matter with key lines, and its Markdown body. `path` is
    where it is on disk (text from `read_content`: a Path per file costs 4 us at 10,000);
    `digest` is `file_digest(raw)` when the reader made it (both caches' keys start from it,
    so a big site's bytes are hashed once a build, not once a cache)."""

    path: str | Path
    rel: str
    meta: YamlDocument
    body: str
    body_line: int
    raw: bytes = field(repr=False, default=b"")
    digest: bytes = field(repr=False, default=b"")
    # (title, its slug) from the source cache: see `title_memo`.
    title_slug: tuple[str, str] | None = field(repr=False, default=None, compare=False)


MAX_TEXT_BYTES = 8_000_000  # far above any real article; beyond it Markdown takes minutes

# Characters web pages and XML feeds cannot carry (C0/C1 controls but tab and newline,
# non-characters); removed with a warning rather than failing a build over a stray byte.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
# The same characters in UTF-8: C0 controls and DEL are single bytes, C1 controls start with
# 0xC2 and U+FFFE/U+FFFF with 0xEF 0xBF. Bytes without any of those hold none, which
# bytes.translate (a C loop) tells ten times faster than the regex above.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _may_hold_forbidden(raw: bytes) -> bool:
    """False when `raw`, decoded, cannot hold a character `_FORBIDDEN` matches."""
    return (len(raw.translate(None, _CONTROL_BYTES)) != len(raw) or b"\xc2" in raw
            or b"\xef\xbf" in raw)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def read_bytes(path: Path | str, rel: str, limit: int | None = None
               ) -> tuple[bytes | None, list[Problem]]:
    """A file's bytes, or the problem that stops reading it (over `limit` bytes, unreadable)."""
    raw, _, problems = _read_stat(path, rel, limit)
    return raw, problems


def _read_stat(path: Path | str, rel: str, limit: int | None = None
               ) -> tuple[bytes | None, os.stat_result | None, list[Problem]]:
    """`read_bytes`, with what the open file's stat said before it was read."""
    # Plain file descriptors: a third cheaper than open() per file, which counts at 10,000.
    try:
        fd = os.open(path, _READ_FLAGS)
        try:
            stat = os.fstat(fd)
            size = stat.st_size
            if limit is not None and size > limit:
                return None, None, [error(rel, None, f"the file is {size:,} bytes; files over "
                                          f"{limit:,} bytes are refused: split it")]
            chunks = [os.read(fd, size + 1)]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 20))
        finally:
            os.close(fd)
    except OSError as exc:
        return None, None, [error(rel, None, f"cannot read file: {exc.strerror}")]
    # Usually one read and an empty one: the first chunk as it is, not a copy by join.
    return (chunks[0] if len(chunks) == 2 else b"".join(chunks)), stat, []


def decode_text(raw: bytes, rel: str) -> tuple[str | None, list[Problem]]:
    """UTF-8 bytes as text without a BOM, with normalised line ends and Unicode (NFC).

    Control characters are removed with a warning."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [error(rel, 1, "the file is saved as UTF-16: save it as UTF-8")]
    try:
        text = _plain_text(raw)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [error(rel, line, "not valid UTF-8 text: save the file as UTF-8")]
    problems: list[Problem] = []
    found = _FORBIDDEN.search(text) if _may_hold_forbidden(raw) else None
    if found:
        line = text[: found.start()].count("\n") + 1
        count = len(_FORBIDDEN.findall(text))
        problems.append(warning(rel, line, f"removed {count} control character"
                                f"{'s' if count != 1 else ''} (first U+{ord(found.group()):04X}) "
                                "that web pages and feeds cannot carry"))
        text = _FORBIDDEN.sub("", text)
    return unicodedata.normalize("NFC", text), problems


def _plain_text(raw: bytes) -> str:
    """UTF-8 without a BOM, every line end as \\n: the cheap part of `decode_text`."""
    # bytes.decode("utf-8") is C all the way; the utf-8-sig codec goes through Python.
    text = raw[3:].decode() if raw.startswith(codecs.BOM_UTF8) else raw.decode()
    if "\r" in text or "\x85" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x85", "\n")
    return text


def read_text(path: Path, rel: str, limit: int | None = None
              ) -> tuple[str | None, bytes, list[Problem]]:
    """Read a UTF-8 file, dropping a BOM and normalising line ends and Unicode (NFC).

    Control characters are removed with a warning; a file over `limit` bytes is refused."""
    raw, problems = read_bytes(path, rel, limit)
    if raw is None:
        return None, b"", problems
    text, problems = decode_text(raw, rel)
    return text, raw, problems


def split_front_matter(text: str, rel: str) -> tuple[str, int, str, int, list[Problem]]:
    """Split `---` front matter from the body: (yaml, its first line, body, body line, problems)."""
    if not text.strip():
        return "", 1, "", 1, [error(rel, 1, "the file is empty: an article needs front matter")]
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return "", 1, text, 1, [
            error(rel, 1, "no front matter: the file must start with a '---' line")
        ]
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            front = "\n".join(lines[1:index]) + "\n"
            body = "\n".join(lines[index + 1 :])
            return front, 2, body, index + 2, []
    return "", 1, "", 1, [
        error(rel, 1, "the front matter has no closing '---' line")
    ]


def parse_source(path: Path, rel: str) -> tuple[Source | None, list[Problem]]:
    """Read one content file into a Source, or the problems that stop it."""
    raw, problems = read_bytes(path, rel, MAX_TEXT_BYTES)
    if raw is None:
        return None, problems
    return parse_bytes(path, rel, raw)


def file_digest(raw: bytes) -> bytes:
    """The SHA-256 of a file's bytes (SHA-256 runs in hardware on most CPUs)."""
    return hashlib.sha256(raw).digest()


def parse_bytes(path: str | Path, rel: str, raw: bytes, digest: bytes = b""
                ) -> tuple[Source | None, list[Problem]]:
    """A content file's bytes as a Source, or the problems that stop it; `digest` is kept as
    the Source's."""
    text, problems = decode_text(raw, rel)
    if text is None:
        return None, problems
    front, front_line, body, body_line, found = split_front_matter(text, rel)
    if found:
        return None, problems + found
    document, found = load_yaml(front, rel, front_line, allow_aliases=False)
    if document is None:
        return None, problems + found
    if document.data is None:
        document = YamlDocument({}, {})
    if not isinstance(document.data, dict):
        message = "front matter must be a mapping of `key: value` lines"
        return None, problems + [error(rel, front_line, message)]
    return Source(path, rel, document, body, body_line, raw, digest), problems


def find_content_files(content_dir: Path, skipped: list[Path] | None = None
                       ) -> Iterator[Path]:
    """Every regular file below content/, in sorted order, skipping hidden files, links that
    lead outside content/ and things that are not files (appended to `skipped`)."""
    for path, _ in _walk_content(content_dir, skipped):
        yield Path(path)


def _walk_content(content_dir: Path, skipped: list[Path] | None
                  ) -> Iterator[tuple[str, str]]:
    """`find_content_files` as (path, path inside content/ with '/'), without pathlib's cost
    per file: a folder's files in name order, then its folders' in name order, like os.walk.
    Linked folders are not entered (those leading outside content/ are reported)."""
    root = content_dir.resolve()
    pending = [(os.fspath(content_dir), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue
        files, folders = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (folders if is_dir else files).append(entry)
        for entry in folders:
            if entry.name.startswith("."):
                continue
            if not entry.is_symlink():
                continue
            if skipped is not None and not _inside(Path(entry.path), root):
                skipped.append(Path(entry.path))
        for entry in files:
            if entry.name.startswith(".") or entry.name.endswith("~"):
                continue
            if entry.is_symlink():
                regular = _inside(Path(entry.path), root) and Path(entry.path).is_file()
            else:
                regular = entry.is_file(follow_symlinks=False)
            if regular:
                yield entry.path, prefix + entry.name
            elif skipped is not None:
                skipped.append(Path(entry.path))
        pending.extend((entry.path, f"{prefix}{entry.name}/") for entry in reversed(folders)
                       if not entry.name.startswith(".") and not entry.is_symlink())


def _inside(path: Path, root: Path) -> bool:
    """False for a symbolic link that leads outside the content folder."""
    if not path.is_symlink():
        return True
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


@dataclass(frozen=True)
class UnreadSource:
    """A content file left unread: its stat identity is the one recorded when bytes with the
    SHA-256 `digest` were last read from it, and the caller said it needs no Source for those
    bytes (see `read_content`). `load` reads it when something is wanted after all."""

    path: str
    rel: str
    digest: bytes

    def load(self) -> tuple[Source | None, list[Problem]]:
        """The file read and parsed now; an error if its bytes are no longer `digest`'s."""
        return self._loaded

    @functools.cached_property
    def _loaded(self) -> tuple[Source | None, list[Problem]]:
        raw, problems = read_bytes(self.path, self.rel, MAX_TEXT_BYTES)
        if raw is None:
            return None, problems
        digest = file_digest(raw)
        if digest != self.digest:
            return None, [error(self.rel, None, "the file changed while the site was being "
                                "built: build again")]
        return parse_bytes(self.path, self.rel, raw, digest)


@dataclass(frozen=True)
class ContentFiles:
    """What content/ holds: article sources, edition-note sources and files copied as they are.

    Articles are `UnreadSource`s where `read_content` was told it need not read them."""

    articles: tuple[Source | UnreadSource, ...]
    editions: tuple[Source, ...]
    assets: tuple[tuple[Path, str], ...]


_clock = time.time_ns  # the wall clock file times are set from (replaced in tests)


# Told of each article file as soon as it is read (see `read_content`).
ReadHook = Callable[[Source | UnreadSource | None, list[Problem]], None]


def read_content(site_dir: Path, use_cache: bool = False,
                 known: Callable[[str, bytes], bool] | None = None,
                 seen: ContentStats | None = None, hook: ReadHook | None = None
                 ) -> tuple[ContentFiles, list[Problem]]:
    """Read every file under `<site>/content`: Markdown is parsed, other files are assets.

    With `use_cache`, a file whose bytes were parsed before by the same code is taken from
    `<site>/.cache/sources.sqlite3` instead of being parsed again; and an article file whose
    stat identity (size, mtime, ctime, inode, device) is the one `<site>/.cache/files.sqlite3`
    recorded when it was last read, longer than `RACY_NS` after its last change, is not read
    at all when `known(rel, digest)` says its recorded digest's bytes need no Source: it is an
    `UnreadSource`. `seen`: the identities a stat pass over content/ found just before (the
    no-change fingerprint's), taken instead of a stat of each file with a row.

    `hook`, when given, is called in order with each article's source (Source or UnreadSource)
    and the problems reading it found, as soon as it is read, and with None and the problems
    of each Markdown file that could not be parsed: the caller can start on the articles while
    the rest are being read."""
    content_dir = site_dir / "content"
    problems: list[Problem] = []
    articles: list[Source | UnreadSource] = []
    editions: list[Source] = []
    assets: list[tuple[Path, str]] = []
    if not content_dir.is_dir():
        return ContentFiles((), (), ()), problems
    digest = parse_digest() if use_cache else None
    cache = SourceCache.for_site(site_dir) if digest is not None else None
    stamps = FileStamps.for_site(site_dir) if digest is not None else None
    # Before any stat (see RACY_NS): the shared pass's clock when its stats are used.
    started = seen.taken if seen is not None else _clock()
    files = seen.files if seen is not None else None
    skipped: list[Path] = []
    try:
        for name, inner in _walk_content(content_dir, skipped):
            rel = f"content/{inner}"
            # A name ending in .md has that extension (the walk skips names starting with '.').
            if not inner.endswith(".md") and os.path.splitext(inner)[1].lower() not in (
                    ".md", ".markdown"):
                assets.append((Path(name), inner))
                continue
            stamp = row = None
            if stamps is not None:
                stamp, row, unread = _stamped(name, rel, stamps, known, files)
                if unread is not None:
                    # Its parse is not needed, so its source cache row goes at `save`: the
                    # cache holds the parses of the files read in the last build (the few
                    # edited ones, once the article cache holds the rest), cheap to load.
                    articles.append(unread)
                    if hook is not None:
                        hook(unread, [])
                    continue
            raw, stat, found = _read_stat(name, rel, MAX_TEXT_BYTES)
            source = None
            if raw is not None:
                sha = file_digest(raw)
                if stamps is not None and stat is not None and (row is None or sha != row[1]):
                    # The identity from before the read: the stat made to decide, else the
                    # open file's (a file without a row is not stat'ed twice).
                    stamps.put(rel, (stamp or stat_identity(stat), sha, started))
                source, found = (_parse_cached(name, rel, raw, sha, cache, digest)
                                 if cache is not None and digest is not None
                                 else parse_bytes(name, rel, raw, sha))
            problems.extend(found)
            if source is None:
                if hook is not None:
                    hook(None, found)
                continue
            if inner.startswith("editions/"):
                editions.append(source)
                continue
            articles.append(source)
            if hook is not None:
                hook(source, found)
        if cache is not None:
            cache.save()
        if stamps is not None:
            stamps.save()
    finally:
        if cache is not None:
            cache.close()
        if stamps is not None:
            stamps.close()
    for path in skipped:
        reason = ("a symbolic link that leads outside content/" if path.is_symlink()
                  else "not a regular file")
        problems.append(warning(f"content/{path.relative_to(content_dir).as_posix()}", None,
                                f"skipped: {reason}"))
    return ContentFiles(tuple(articles), tuple(editions), tuple(assets)), problems


def _stamped(name: str, rel: str, stamps: FileStamps,
             known: Callable[[str, bytes], bool] | None,
             files: Mapping[str, tuple[str, int]] | None = None
             ) -> tuple[str | None, FileStamp | None, UnreadSource | None]:
    """A file's stat identity now (None when no row was recorded for it: then it is not
    stat'ed), from `files` (a stat pass just before) when it is there; the row recorded for it
    when that is still right (the same identity, and the file unchanged for `RACY_NS` before it
    was recorded), else None; and an `UnreadSource` when that row's digest is one `known` wants
    no Source for."""
    row = stamps.get(rel)
    if row is None:
        return None, None, None
    found = files.get(rel) if files is not None else None
    if found is None:
        try:
            stat = os.stat(name)
        except OSError:
            return None, None, None
        found = stat_identity(stat), max(stat.st_mtime_ns, stat.st_ctime_ns)
    stamp, newest = found
    if row[0] != stamp or newest >= row[2] - RACY_NS:
        return stamp, None, None
    if known is None or rel.startswith("content/editions/") or not known(rel, row[1]):
        return stamp, row, None
    # UnreadSource(name, rel, row[1]) without the frozen __init__'s object.__setattr__ per
    # field: one per article of a big site, every build.
    unread = object.__new__(UnreadSource)
    unread.__dict__.update(path=name, rel=rel, digest=row[1])
    return stamp, row, unread


# --- The parsed-source cache ---------------------------------------------------------------
# Parsing a file (decoding, splitting, YAML with key lines) depends only on its bytes and on
# the code that parses them, so a rebuild takes an unchanged file's parse from the site's
# source cache: the front matter, its key lines, the body (or where it starts in the decoded
# bytes) and the problems, as JSON of plain values. JSON, not pickle or marshal, so whatever a
# row holds it can only ever be plain data, and every row is checked before it is used (its
# key lines when they are first asked for: `_KeyLines`).
# Front matter JSON cannot hold exactly (dates from an explicit `!!timestamp`, sets, bytes,
# keys that are not text) is simply not cached.

ENTRY_FORMAT = "briefing-source-entry/2"
# JSON as the caches keep it (here and in `generator.models`): one decoder, whose raw_decode
# skips json.loads' two scans, and compact text, without making an encoder for every call.
JSON_DECODER = json.JSONDecoder()
compact_json = json.JSONEncoder(separators=(",", ":")).encode


def parse_digest() -> bytes | None:
    """A digest of everything but a file's bytes that decides its parse: this module's source,
    the YAML parser and its version, python-slugify's version (an entry keeps its title's slug),
    Python's Unicode tables and Briefing's version (None when this module's source cannot be
    read: no caching then)."""
    try:
        code = Path(__file__).read_bytes()
    except OSError:
        return None
    parts = [ENTRY_FORMAT, generator.__version__, yaml.__version__, _BaseLoader.__name__,
             _libyaml_version(), _slugify_version(), unicodedata.unidata_version, sys.version,
             hashlib.sha256(code).hexdigest()]
    return hashlib.sha256("\n".join(parts).encode()).digest()


def _libyaml_version() -> str:
    try:
        from yaml import _yaml  # type: ignore[attr-defined]
        return str(_yaml.get_version_string())
    except (ImportError, AttributeError):
        return "none"


def _slugify_version() -> str:
    import slugify  # only where the cache is used: a no-change rebuild never gets here
    version = getattr(slugify, "__version__", None)
    return version if isinstance(version, str) else package_version("python-slugify")


def title_memo(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The front matter's title as the article check reads it, and its URL slug, for the source
    cache to keep (slugify is a good part of checking an article); None when there is no title
    or it is not ASCII (a non-ASCII title's slug also depends on a transliteration package whose
    version the cache's key does not hold). The check uses the slug only for the same title."""
    from generator.models import title_slug  # models imports this module
    value = data.get("title")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    title = " ".join(value.split())
    if not title or not title.isascii():
        return None
    return title, title_slug(title)


# What a cached slug may be: what slugify makes of an ASCII title, at most 80 characters.
_CACHED_SLUG = re.compile(r"(?:[a-z0-9]+(?:-[a-z0-9]+)*)?")


def entry_key(digest: bytes, sha: bytes) -> str:
    """The cache key of one content file's parse, from `parse_digest()` and the file's
    `file_digest`."""
    return hashlib.sha256(digest + sha).hexdigest()


def _parse_cached(path: str | Path, rel: str, raw: bytes, sha: bytes, cache: SourceCache,
                  digest: bytes) -> tuple[Source | None, list[Problem]]:
    """`parse_bytes`, from the cache when these bytes (whose `file_digest` is `sha`) were
    parsed before by this code."""
    key = entry_key(digest, sha)
    value = cache.get(key)
    if value is not None:
        cached = decode_entry(value, path, rel, raw, sha)
        if cached is not None:
            return cached
    source, problems = parse_bytes(path, rel, raw, sha)
    memo = title_memo(source.meta.data) if source is not None else None
    if memo is not None and source is not None:
        # The new Source's own field set before anything else sees it: dataclasses.replace
        # walks every field's options (once per new file: 10,000 in a cold build).
        object.__setattr__(source, "title_slug", memo)
    value = encode_entry(source, problems, rel, raw)
    if value is not None:
        cache.put(key, value)
    return source, problems


def encode_entry(source: Source | None, problems: list[Problem], rel: str, raw: bytes
                 ) -> str | None:
    """A parse as text (JSON of the parse and the title's slug, a newline, JSON of the key
    lines), or None when JSON cannot hold it exactly."""
    if any(p.path != rel for p in problems):
        return None
    listed = [[p.line, p.message, p.level] for p in problems]
    memo = None
    if source is None:
        parsed, lines = None, []
    else:
        memo = list(source.title_slug) if source.title_slug is not None else None
        if not _json_exact(source.meta.data):
            return None
        try:
            text = _plain_text(raw)
        except UnicodeDecodeError:
            return None
        # Usually the body is the decoded bytes' tail: store where it starts, not the text.
        body: str | int = (len(text) - len(source.body) if text.endswith(source.body)
                           else source.body)
        parsed = [source.meta.data, body, source.body_line]
        lines = [[*path, line] for path, line in source.meta.lines.items()]
    try:  # compact JSON never holds a raw newline, so it can separate the two parts
        return compact_json([listed, parsed, memo]) + "\n" + compact_json(lines)
    except (ValueError, TypeError, RecursionError):
        return None


def decode_entry(value: str, path: str | Path, rel: str, raw: bytes, digest: bytes = b""
                 ) -> tuple[Source | None, list[Problem]] | None:
    """A cached parse of `raw`, or None when the text is not a well-formed entry; `digest` is
    kept as the Source's."""
    try:
        # The first part read in place: no copy of it, no whitespace scans around it.
        entry, end = JSON_DECODER.raw_decode(value)
        if value[end:end + 1] not in ("\n", ""):
            return None
        lines = value[end + 1:]
        if type(entry) is not list or len(entry) != 3 or type(entry[0]) is not list:
            return None
        problems = [_problem(rel, item) for item in entry[0]]
        parsed, memo = entry[1], _memo(entry[2])
        if parsed is None:  # a file that failed to parse always had an error
            return (None, problems) if any(p.is_error for p in problems) else None
        data, body, body_line = parsed
        if type(data) is not dict or type(body_line) is not int:
            return None
        if type(body) is int:
            text = _plain_text(raw)
            if not 0 <= body <= len(text):
                return None
            body = text[body:]
        elif type(body) is not str:
            return None
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return None
    return (Source(path, rel, YamlDocument(data, _KeyLines(lines)), body, body_line, raw,
                   digest, memo), problems)


def _memo(item: object) -> tuple[str, str] | None:
    """A cached `title_memo`; ValueError when it is not one (an ASCII title, and a slug
    slugify could have made of it)."""
    if item is None:
        return None
    if type(item) is not list or len(item) != 2:
        raise ValueError("not a title and slug")
    title, slug = item
    if (type(title) is not str or type(slug) is not str or not title.isascii()
            or len(slug) > 80 or not _CACHED_SLUG.fullmatch(slug)):
        raise ValueError("not a title and slug")
    return title, slug


class _KeyLines(Mapping[KeyPath, int]):
    """Cached key lines, kept as JSON text until first asked for: only a file with a problem
    in its front matter ever needs them. Text that is not a list of [key, ..., line] reads as
    no lines (messages then fall back to the front matter's first line)."""

    def __init__(self, text: str):
        self._text = text
        self._lines: dict[KeyPath, int] | None = None

    def _decoded(self) -> dict[KeyPath, int]:
        if self._lines is None:
            try:
                lines = {tuple(item[:-1]): item[-1] for item in json.loads(self._text)}
                valid = all(type(line) is int for line in lines.values())
            except (ValueError, TypeError, KeyError, IndexError, RecursionError):
                lines, valid = {}, False
            self._lines = lines if valid else {}
        return self._lines

    def __getitem__(self, key: KeyPath) -> int:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[KeyPath]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


def _problem(rel: str, item: object) -> Problem:
    """A cached problem of the file at `rel`; ValueError when it is not one."""
    if type(item) is not list or len(item) != 3:
        raise ValueError("not a problem")
    line, message, level = item
    if ((line is not None and type(line) is not int) or type(message) is not str
            or level not in ("error", "warning")):
        raise ValueError("not a problem")
    return Problem(rel, line, message, level)


def _json_exact(value: Any) -> bool:
    """True when JSON gives `value` back exactly: text-keyed dicts, lists, text, numbers,
    booleans and null."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if not all(type(key) is str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind not in (str, int, float, bool, type(None)):
            return False
    return True
