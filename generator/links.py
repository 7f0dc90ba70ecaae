"""Check the internal links of rendered pages: every href and src must reach a file of the site."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from generator.errors import Problem, error

# The attributes that point at another file of the site.
LINK_ATTRIBUTES = {
    "a": ("href",), "area": ("href",), "link": ("href",), "img": ("src",), "script": ("src",),
    "source": ("src",), "video": ("src", "poster"), "audio": ("src",), "iframe": ("src",),
    "track": ("src",), "embed": ("src",), "object": ("data",), "form": ("action",),
}


@dataclass(frozen=True)
class Link:
    """One link found in a page: the target as written and the line of the page it is on."""

    target: str
    line: int


class _LinkCollector(HTMLParser):
    """Collects link targets and element ids (the fragments other links may point at)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = LINK_ATTRIBUTES.get(tag, ())
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name in wanted:
                self.links.append(Link(value.strip(), self.getpos()[0]))

    handle_startendtag = handle_starttag


@dataclass(frozen=True)
class PageLinks:
    """What one HTML page links to, and the ids it holds."""

    links: tuple[Link, ...]
    ids: frozenset[str]


def collect_links(html: str) -> PageLinks:
    """Every link target and id in an HTML page, read with html.parser."""
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    return PageLinks(tuple(collector.links), frozenset(collector.ids))


def resolve(target: str, page_path: str, base_url: str) -> tuple[str, str] | None:
    """(site file path, fragment) a link leads to, or None for an absolute URL: those may
    lead to pages the site is served beside, so only relative and site-root links are checked.
    A site-root link (`/images/a.jpg`) is read below the path of `base_url`."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if not parts.path:
        return page_path, parts.fragment
    start = posixpath.dirname("/" + page_path)
    path = unquote(parts.path)
    prefix = urlsplit(base_url).path.rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix):]
    path = posixpath.normpath(posixpath.join(start, path))
    if parts.path.endswith("/") or path == "/":
        path = path.rstrip("/") + "/index.html"
    return path.lstrip("/"), parts.fragment


@dataclass(frozen=True)
class SourceText:
    """An article page's Markdown file, for pointing at the line a broken link was written on."""

    rel: str
    body: str
    body_line: int


def check_links(pages: Mapping[str, bytes], other_files: Iterable[str], base_url: str,
                sources: Mapping[str, SourceText]) -> tuple[int, list[Problem]]:
    """Check every internal link of every HTML page; return how many links and the problems.

    `pages` maps output paths to bytes, `other_files` are assets and files already in the
    output that the build keeps, `sources` maps an article page's output path to its Markdown.
    """
    known = set(pages) | set(other_files)
    parsed = {path: collect_links(data.decode("utf-8", "replace"))
              for path, data in sorted(pages.items()) if path.endswith(".html")}
    problems: list[Problem] = []
    count = 0
    for path, found in parsed.items():
        for link in found.links:
            resolved = resolve(link.target, path, base_url)
            if resolved is None:
                continue
            count += 1
            target, fragment = resolved
            if target not in known and f"{target}/index.html" in known:
                target = f"{target}/index.html"  # /story → /story/ is what servers do
            if target not in known:
                reason = f"there is no page or file {target} in the site"
            elif fragment and target in parsed and unquote(fragment) not in parsed[target].ids:
                reason = f"{target} has no element with id '{unquote(fragment)}'"
            else:
                continue
            problems.append(_locate(link, path, sources.get(path),
                                    f"broken link to '{link.target}': {reason}"))
    return count, problems


def _locate(link: Link, page: str, source: SourceText | None, message: str) -> Problem:
    """Point at the Markdown line that holds the link, else at the rendered page's line."""
    if source is not None:
        for number, line in enumerate(source.body.split("\n"), start=source.body_line):
            if link.target in line:
                return error(source.rel, number, message)
    return error(f"output {page}", link.line, message + " (the link is made by a layout)")
