"""Find content files, split front matter from body and parse YAML with line numbers."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import Problem, error

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
            if line is not None:
                return line
        return default


def load_yaml(text: str, rel: str, first_line: int = 1
              ) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse `text` safely; `first_line` is where it starts in its file, for messages."""
    offset = first_line - 1
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + offset if mark else first_line
        return None, [error(rel, line, f"invalid YAML: {_describe_yaml_error(exc)}")]
    except yaml.YAMLError as exc:
        return None, [error(rel, first_line, f"invalid YAML: {exc}")]
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _record_lines(node, (), lines, offset)
    return YamlDocument(data, lines), []


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "syntax error"
    if "could not determine a constructor" in problem:
        tag = problem.split("tag", 1)[-1].strip(" '!")
        return f"the tag '!{tag}' is not allowed (only plain YAML values are)"
    return problem


def _record_lines(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], offset: int) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[path + (key,)] = key_node.start_mark.line + 1 + offset
            _record_lines(value_node, path + (key,), lines, offset)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1 + offset
            _record_lines(item, path + (index,), lines, offset)


@dataclass(frozen=True)
class Source:
    """One content file: its front matter with key lines, and its Markdown body."""

    path: Path
    rel: str
    meta: YamlDocument
    body: str
    body_line: int
    raw: bytes = field(repr=False, default=b"")


def read_text(path: Path, rel: str) -> tuple[str | None, bytes, list[Problem]]:
    """Read a UTF-8 file, dropping a BOM and normalising line ends and Unicode (NFC)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, b"", [error(rel, None, f"cannot read file: {exc.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, raw, [error(rel, line, "not valid UTF-8 text: save the file as UTF-8")]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text), raw, []


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
    text, raw, problems = read_text(path, rel)
    if text is None:
        return None, problems
    front, front_line, body, body_line, problems = split_front_matter(text, rel)
    if problems:
        return None, problems
    document, problems = load_yaml(front, rel, front_line)
    if document is None:
        return None, problems
    if document.data is None:
        document = YamlDocument({}, {})
    if not isinstance(document.data, dict):
        message = "front matter must be a mapping of `key: value` lines"
        return None, [error(rel, front_line, message)]
    return Source(path, rel, document, body, body_line, raw), []


def find_content_files(content_dir: Path) -> Iterator[Path]:
    """Every file below content/, in sorted order, skipping hidden files and foreign links."""
    root = content_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(content_dir, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and _inside(Path(dirpath, d), root)
        )
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith("~"):
                continue
            path = Path(dirpath, name)
            if _inside(path, root):
                yield path


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
    for path in find_content_files(content_dir):
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
    return ContentFiles(tuple(articles), tuple(editions), tuple(assets)), problems
