"""build(options) -> BuildReport: read, validate, render, write. Reads like a recipe."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from generator.config import Config, load_config
from generator.errors import BuildError, Problem, error, raise_if_errors, sorted_problems
from generator.markup import MarkdownSettings, render_inline, render_markdown
from generator.models import Article, EditionNote
from generator.render import render_pages, static_files
from generator.site import build_site_model, link_content
from generator.sources import read_content
from generator.write import Asset, check_output_dir, write_output


@dataclass(frozen=True)
class BuildOptions:
    """What the person running the build asked for."""

    site_dir: Path
    output_dir: Path | None = None
    drafts: bool = False
    future: bool = False
    now: datetime | None = None
    jobs: int | None = None


@dataclass(frozen=True)
class BuildReport:
    """What a successful build did, and the warnings it met."""

    output_dir: Path
    articles: int
    pages: int
    seconds: float
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    warnings: tuple[Problem, ...] = field(default_factory=tuple)


def build_clock(now: datetime | None, tz: tzinfo) -> datetime:
    """The build's pinned clock: --now (naive means the site's zone), else SOURCE_DATE_EPOCH,
    else the wall clock."""
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=tz)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise BuildError([error("SOURCE_DATE_EPOCH", None,
                                    f"must be a whole number of seconds, not {epoch!r}")]) from None
    return datetime.now(UTC)


def markdown_settings(config: Config) -> MarkdownSettings:
    """The Markdown settings a config asks for."""
    return MarkdownSettings.of(config.markdown_extensions, config.markdown_extension_configs,
                               config.unsafe_html)


def parse_articles(sources, config: Config) -> tuple[list[Article], list[Problem]]:
    """Validate every article's front matter and check that no two share a URL."""
    articles: list[Article] = []
    problems: list[Problem] = []
    for source in sources:
        article, found = Article.from_source(source, config)
        problems.extend(found)
        if article is not None:
            articles.append(article)
    owners: dict[str, Article] = {}
    for article in articles:
        other = owners.setdefault(article.url, article)
        if other is not article:
            problems.append(error(article.path, 1, f"this article has the same URL {article.url} "
                                  f"as {other.path}: give one of them another 'slug'"))
    return articles, problems


def parse_notes(sources, config: Config) -> tuple[list[EditionNote], list[Problem]]:
    """Validate every edition note and render its Markdown."""
    settings = markdown_settings(config)
    notes, problems = [], []
    for source in sources:
        note, found = EditionNote.from_source(source, config)
        problems.extend(found)
        if note is not None:
            notes.append(EditionNote(note.path, note.day, note.title, note.byline, note.intro,
                                     note.closing, render_inline(note.intro, settings),
                                     render_inline(note.closing, settings)))
    return notes, problems


def is_published(article: Article, now: datetime, options: BuildOptions) -> bool:
    """Drafts and future articles are left out unless the options ask for them."""
    if article.draft and not options.drafts:
        return False
    return options.future or article.date <= now


def build(options: BuildOptions) -> BuildReport:
    """Build the site in `options.site_dir`; raise BuildError with every problem found."""
    started = time.perf_counter()
    site_dir = options.site_dir
    config = load_config(site_dir)
    output_dir = options.output_dir or site_dir / "output"
    raise_if_errors(check_output_dir(output_dir, site_dir))
    now = build_clock(options.now, config.tz)

    content, problems = read_content(site_dir)
    articles, found = parse_articles(content.articles, config)
    problems += found
    notes, found = parse_notes(content.editions, config)
    problems += found
    raise_if_errors(problems)

    settings = markdown_settings(config)
    published = [a.with_body(render_markdown(a.body, settings))
                 for a in articles if is_published(a, now, options)]
    published, found = link_content(published, articles)
    problems += found
    site, found = build_site_model(published, notes, config, now)
    problems += found
    pages = render_pages(site)

    assets = [Asset(source, rel) for source, rel in static_files(config) + list(content.assets)]
    written = write_output(pages, assets, output_dir)
    return BuildReport(
        output_dir=output_dir, articles=len(published), pages=len(pages),
        seconds=time.perf_counter() - started, written=written.written,
        unchanged=written.unchanged, removed=written.removed,
        warnings=tuple(sorted_problems(p for p in problems if not p.is_error)))
