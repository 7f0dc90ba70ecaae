"""Shared helpers: write a tiny site into a temporary folder, build it, read its HTML.

Use the fixtures in tests, or import the functions (`from tests.conftest import make_site`):

    def test_something(tmp_path, make_site, build_site):
        site = make_site(tmp_path, articles={"a": ({"title": "A", "date": "2026-11-24"}, "Hi.")})
        report = build_site(site)
        tree = parse_html(site / "output" / "index.html")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import yaml

from generator.build import BuildOptions, BuildReport, build

# The pinned clock every helper build uses unless told otherwise.
NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")

# The config make_site writes when given none; a dict `config=` is merged over it.
DEFAULT_CONFIG: dict[str, Any] = {
    "title": "Test Briefing",
    "base_url": "https://example.org/",
    "language": "en",
    "timezone": "UTC",
    "topics": [{"slug": "world", "name": "World"}, {"slug": "business", "name": "Business"}],
}

FrontMatter = Mapping[str, Any] | str


def front_matter_text(meta: FrontMatter, body: str) -> str:
    """An article file: `---`, the front matter (a dict is dumped as YAML; text is kept), `---`."""
    yaml_text = meta if isinstance(meta, str) else yaml.safe_dump(
        dict(meta), sort_keys=False, allow_unicode=True)
    return f"---\n{yaml_text.rstrip(chr(10))}\n---\n\n{body}\n"


def make_site(root: Path, config: Mapping[str, Any] | str | None = None,
              articles: Mapping[str, tuple[FrontMatter, str]] | None = None,
              editions: Mapping[str, tuple[FrontMatter, str]] | None = None,
              files: Mapping[str, bytes | str] | None = None,
              layouts: Mapping[str, str] | None = None) -> Path:
    """Write a site into `root` and return it.

    - config: a dict merged over DEFAULT_CONFIG, or the literal text of config.yaml.
    - articles: {"name": (front matter dict or YAML text, Markdown body)} → content/name.md
      (".md" is added when the name has no suffix; names may contain folders).
    - editions: {"2026-11-24": (front matter, intro)} → content/editions/2026-11-24.md.
    - files: {"content/images/a.jpg": b"..."}: any other file, relative to the site.
    - layouts: {"home.html": "..."}: the site's own layouts/ overriding the default theme.
    """
    root.mkdir(parents=True, exist_ok=True)
    if isinstance(config, str):
        config_text = config
    else:
        config_text = yaml.safe_dump({**DEFAULT_CONFIG, **(config or {})}, sort_keys=False,
                                     allow_unicode=True)
    (root / "config.yaml").write_text(config_text, encoding="utf-8")
    (root / "content").mkdir(exist_ok=True)
    written: dict[str, bytes | str] = {}
    for name, (meta, body) in (articles or {}).items():
        filename = name if Path(name).suffix else f"{name}.md"
        written[f"content/{filename}"] = front_matter_text(meta, body)
    for day, (meta, body) in (editions or {}).items():
        written[f"content/editions/{day}.md"] = front_matter_text(meta, body)
    for name, text in (layouts or {}).items():
        written[f"layouts/{name}"] = text
    written.update(files or {})
    for rel, data in written.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    return root


def build_site(site: Path, now: datetime | str | None = NOW, output: Path | None = None,
               **options: Any) -> BuildReport:
    """Build `site` into `output` (default `<site>/output`) with a pinned clock.

    Extra keyword arguments go to BuildOptions (drafts=True, future=True, jobs=1 …).
    """
    if isinstance(now, str):
        now = datetime.fromisoformat(now)
    options.setdefault("jobs", 1)
    return build(BuildOptions(site_dir=site, output_dir=output or site / "output", now=now,
                              **options))


def article(title: str, date: str = "2026-11-24T08:00:00+00:00", **fields: Any
            ) -> dict[str, Any]:
    """Front matter for a test article: title and date, plus any other fields."""
    return {"title": title, "date": date, **fields}


def three_stories(root: Path) -> Path:
    """A site with three short stories over three days (one tagged), for cache and rebuild
    tests."""
    return make_site(root, articles={
        "one": (article("One", tags=["alpha"]), "First story body."),
        "two": (article("Two", "2026-11-23T08:00:00+00:00"), "Second story body."),
        "three": (article("Three", "2026-11-22T08:00:00+00:00"), "Third story body.")})


def parse_html(path: Path) -> lxml.html.HtmlElement:
    """Parse an output HTML file with a real HTML parser."""
    return lxml.html.fromstring(path.read_bytes())


def html_pages(output: Path) -> Iterator[Path]:
    """Every .html file the build wrote, in sorted order."""
    yield from sorted(output.rglob("*.html"))


def page_text(path: Path) -> str:
    """A page's visible text and every attribute value (links, alt text), for 'appears nowhere'
    checks."""
    tree = parse_html(path)
    parts = [tree.text_content()]
    for element in tree.iter():
        if isinstance(element.tag, str):
            parts.extend(str(v) for v in element.attrib.values())
    return "\n".join(parts)


def links(tree: lxml.html.HtmlElement) -> list[str]:
    """Every href in a parsed page, in document order."""
    return [a.get("href") for a in tree.iter("a") if a.get("href") is not None]


@pytest.fixture(name="make_site")
def _make_site_fixture() -> Callable[..., Path]:
    """The make_site helper, as a fixture."""
    return make_site


@pytest.fixture(name="build_site")
def _build_site_fixture() -> Callable[..., BuildReport]:
    """The build_site helper, as a fixture."""
    return build_site
