"""Find content files, split front matter from body and parse YAML with line numbers."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import Problem, error, warning

# libyaml's parser when it is installed; the pure-Python one otherwise.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader that keeps dates as strings, so the models parse them in the site's zone."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

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
    """One content file: its front matter with key lines, and its Markdown body."""

    path: Path
    rel: str
    meta: YamlDocument
    body: str
    body_line: int
    raw: bytes = field(repr=False, default=b"")


MAX_TEXT_BYTES = 8_000_000  # far above any real article; beyond it Markdown takes minutes

# Characters web pages and XML feeds cannot carry (C0/C1 controls but tab and newline,
# non-characters); removed with a warning rather than failing a build over a stray byte.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


def read_text(path: Path, rel: str, limit: int | None = None
              ) -> tuple[str | None, bytes, list[Problem]]:
    """Read a UTF-8 file, dropping a BOM and normalising line ends and Unicode (NFC).

    Control characters are removed with a warning; a file over `limit` bytes is refused."""
    try:
        if limit is not None and path.stat().st_size > limit:
            return None, b"", [error(rel, None, f"the file is {path.stat().st_size:,} bytes; "
                                     f"files over {limit:,} bytes are refused: split it")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, b"", [error(rel, None, f"cannot read file: {exc.strerror}")]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, raw, [error(rel, 1, "the file is saved as UTF-16: save it as UTF-8")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, raw, [error(rel, line, "not valid UTF-8 text: save the file as UTF-8")]
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x85", "\n")
    problems: list[Problem] = []
    found = _FORBIDDEN.search(text)
    if found:
        line = text[: found.start()].count("\n") + 1
        count = len(_FORBIDDEN.findall(text))
        problems.append(warning(rel, line, f"removed {count} control character"
                                f"{'s' if count != 1 else ''} (first U+{ord(found.group()):04X}) "
                                "that web pages and feeds cannot carry"))
        text = _FORBIDDEN.sub("", text)
    return unicodedata.normalize("NFC", text), raw, problems


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
    text, raw, problems = read_text(path, rel, MAX_TEXT_BYTES)
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
    return Source(path, rel, document, body, body_line, raw), problems


def find_content_files(content_dir: Path, skipped: list[Path] | None = None
                       ) -> Iterator[Path]:
    """Every regular file below content/, in sorted order, skipping hidden files, links that
    lead outside content/ and things that are not files (appended to `skipped`)."""
    root = content_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(content_dir, followlinks=False):
        kept = []
        for name in sorted(dirnames):
            if name.startswith("."):
                continue
            if _inside(Path(dirpath, name), root):
                kept.append(name)
            elif skipped is not None:
                skipped.append(Path(dirpath, name))
        dirnames[:] = kept
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith("~"):
                continue
            path = Path(dirpath, name)
            if _inside(path, root) and path.is_file():
                yield path
            elif skipped is not None:
                skipped.append(path)


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
class ContentFiles:
    """What content/ holds: article sources, edition-note sources and files copied as they are."""

    articles: tuple[Source, ...]
    editions: tuple[Source, ...]
    assets: tuple[tuple[Path, str], ...]


def read_content(site_dir: Path) -> tuple[ContentFiles, list[Problem]]:
    """Read every file under `<site>/content`: Markdown is parsed, other files are assets."""
    content_dir = site_dir / "content"
    problems: list[Problem] = []
    articles: list[Source] = []
    editions: list[Source] = []
    assets: list[tuple[Path, str]] = []
    if not content_dir.is_dir():
        return ContentFiles((), (), ()), problems
    skipped: list[Path] = []
    for path in find_content_files(content_dir, skipped):
        inner = path.relative_to(content_dir).as_posix()
        rel = f"content/{inner}"
        if path.suffix.lower() not in (".md", ".markdown"):
            assets.append((path, inner))
            continue
        source, found = parse_source(path, rel)
        problems.extend(found)
        if source is None:
            continue
        (editions if inner.startswith("editions/") else articles).append(source)
    for path in skipped:
        reason = ("a symbolic link that leads outside content/" if path.is_symlink()
                  else "not a regular file")
        problems.append(warning(f"content/{path.relative_to(content_dir).as_posix()}", None,
                                f"skipped: {reason}"))
    return ContentFiles(tuple(articles), tuple(editions), tuple(assets)), problems
