"""The whole build, when its output is not up to date: read, validate and render every article,
render the pages that changed, write, remember. Reads top to bottom like a recipe; `build.build`
decides whether it runs. `check` runs the same steps and writes nothing."""

from __future__ import annotations

import dataclasses
import functools
import gc
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from generator import render
from generator.build import BuildOptions, BuildReport, build_clock, raise_if_strict
from generator.cache import (
    ArticleCache,
    BodyErrors,
    BodyRenderer,
    Markdown,
    RenderCache,
    RenderStats,
    default_jobs,
    return_free_memory,
)
from generator.config import Config, load_config
from generator.deps import ModelIndex, PageRecords, article_inputs, code_key, plan_pages
from generator.errors import BuildError, Problem, error, raise_if_errors, sorted_problems
from generator.links import SourceText, check_links
from generator.markup import (
    MarkdownSettings,
    MarkupError,
    extension_packages,
    render_inline,
)
from generator.models import Article, ArticleChecks, EditionNote
from generator.parallel import render_pages_parallel
from generator.render import TemplateCache, output_path, page_jobs, static_files
from generator.shortcut import (
    BuildRecord,
    ContentStats,
    Fingerprint,
    clock_interval,
    manifest_digest,
    outside_inputs,
)
from generator.site import Site, build_site_model, link_content
from generator.sources import ContentFiles, Source, UnreadSource, file_digest, read_content
from generator.theme import layout_dirs
from generator.write import (
    MANIFEST,
    Asset,
    check_output_dir,
    check_paths,
    intact_files,
    kept_files,
    write_output,
)


def markdown_settings(config: Config) -> MarkdownSettings:
    """The Markdown settings a config asks for."""
    return MarkdownSettings.of(config.markdown_extensions, config.markdown_extension_configs,
                               config.unsafe_html)


def shared_urls(articles: list[Article]) -> list[Problem]:
    """An error for each article whose URL an earlier one has."""
    problems: list[Problem] = []
    owners: dict[str, Article] = {}
    for article in articles:
        other = owners.setdefault(article.url, article)
        if other is not article:
            problems.append(error(article.path, 1, f"this article has the same URL {article.url} "
                                  f"as {other.path}: give one of them another 'slug'"))
    return problems


def parse_notes(sources, config: Config) -> tuple[list[EditionNote], list[Problem]]:
    """Validate every edition note and render its Markdown."""
    settings = markdown_settings(config)
    notes, problems = [], []
    for source in sources:
        note, found = EditionNote.from_source(source, config)
        problems.extend(found)
        if note is None:
            continue
        try:
            notes.append(EditionNote(note.path, note.day, note.title, note.byline, note.intro,
                                     note.closing, render_inline(note.intro, settings),
                                     render_inline(note.closing, settings)))
        except MarkupError as exc:
            problems.append(error(source.rel, source.body_line, str(exc)))
    return notes, problems


def is_published(article: Article, now: datetime, options: BuildOptions) -> bool:
    """Drafts and future articles are left out unless the options ask for them."""
    if article.draft and not options.drafts:
        return False
    return options.future or article.date <= now


def body_item(article: Article, source: Source | UnreadSource | None
              ) -> tuple[bytes, Markdown]:
    """An article's (file key, Markdown) for the render cache and the Markdown workers: an
    unread source is read only if its body is rendered."""
    if isinstance(source, UnreadSource):
        return source.digest, functools.partial(unread_body, source)
    digest = ((source.digest or (file_digest(source.raw) if source.raw else b""))
              if source is not None else b"")
    return digest or file_digest(article.body.encode()), article.body


def render_articles(articles: list[Article], sources: tuple[Source | UnreadSource, ...],
                    renderer: BodyRenderer, options: BuildOptions
                    ) -> tuple[list[Article], RenderStats, set[str]]:
    """Every article with its rendered body: from the site's cache, else from what `renderer`
    was given while the content was read, else rendered now in `jobs` processes; and the
    paths of those whose body links to a Markdown file (for `link_content`). Saves the render
    cache and stops the workers. An unread source is read only when its body is not cached.

    The Markdown source is let go once rendered (pages use the HTML): on a big site it is tens
    of megabytes the page-rendering workers would otherwise carry."""
    by_rel = {source.rel: source for source in sources}
    # One pass: 10,000 articles on a big site, every build.
    items = [body_item(a, by_rel.get(a.path)) for a in articles]
    linking: set[int] = set()
    try:
        bodies, stats = renderer.render(items, options.progress, linking)
    except BodyErrors as exc:
        raise BuildError([error(articles[index].path, articles[index].body_line, message)
                          for index, message in exc.failed]) from None
    renderer.close()  # before the page workers are forked
    renderer.cache.save()
    return ([a.with_body(body) for a, body in zip(articles, bodies, strict=True)], stats,
            {articles[index].path for index in linking})


def unread_body(source: UnreadSource) -> str:
    """The Markdown of a source left unread; BuildError when it cannot be read now."""
    loaded, problems = source.load()
    if loaded is None:
        raise BuildError(problems)
    return loaded.body


def record_build(fingerprint: Fingerprint, now: datetime, dates: list[datetime], config: Config,
                 report: BuildReport) -> None:
    """Remember a successful build so the same build again can stop after checking the output."""
    start, end = clock_interval(dates, now, config.tz, (render.NEWS_WINDOW,))
    digest = manifest_digest(report.output_dir, MANIFEST)
    if digest is None:
        return
    summary = {"articles": report.articles, "pages": report.pages,
               "files": report.written + report.unchanged,
               "warnings": [[p.path, p.line, p.message, p.level] for p in report.warnings]}
    packages = extension_packages(config.markdown_extensions)
    record = BuildRecord(fingerprint.own, now, start, end, digest, summary, config.timezone,
                         packages, tuple(outside_inputs(config.timezone, packages)),
                         fingerprint.racy)
    record.save(BuildRecord.path_for(config.root, report.output_dir))


def page_records(site: Site, config: Config, options: BuildOptions, output_dir: Path,
                 inputs: dict[str, bytes] | None = None
                 ) -> tuple[ModelIndex | None, PageRecords, str]:
    """The previous build's page records for this output, the index of the new site model to
    check them against (with what each article is made from, `deps.article_inputs`), and the
    key of the code and layouts; none of it with --no-cache."""
    if not options.use_cache:
        return None, PageRecords.disabled(), ""
    try:
        config_bytes = (config.root / "config.yaml").read_bytes()
    except OSError:
        config_bytes = b""
    code = code_key(layout_dirs(config.root), config_bytes)
    path = PageRecords.path_for(options.site_dir, output_dir)
    return (ModelIndex(site, inputs),
            PageRecords.load(path, code, manifest_digest(output_dir, MANIFEST)), code)


def read_and_check(options: BuildOptions, config: Config, seen: ContentStats | None = None,
                   renderer: BodyRenderer | None = None, now: datetime | None = None
                   ) -> tuple[ContentFiles, list[Article], list[Problem]]:
    """Read the content and check each article's front matter as soon as it is read, then
    that no two articles share a URL. With the site's article cache unless --no-cache: then
    files whose checked article it holds are not even read (`seen`: the no-change
    fingerprint's stats of content/, so that no file is stat'ed twice), and an article whose
    parse had problems is not kept in it.

    With a `renderer`, each article published at `now` (`is_published`) that was read has its
    body submitted to it at once, so the Markdown workers start while the rest is read; the
    first problem that fails the build stops it (every problem is still reported)."""
    checks = (ArticleChecks(ArticleCache.for_site(options.site_dir), config)
              if options.use_cache else None)
    articles: list[Article] = []
    found: list[Problem] = []

    def check(source: Source | UnreadSource | None, read: list[Problem]) -> None:
        problems: list[Problem] = []
        if source is not None:
            article, problems = (checks.check(source, not read) if checks is not None
                                 else Article.from_source(source, config))
            found.extend(problems)
            if article is not None:
                articles.append(article)
                if (renderer is not None and isinstance(source, Source) and now is not None
                        and is_published(article, now, options)):
                    digest, text = body_item(article, source)
                    if isinstance(text, str):
                        renderer.submit(digest, text)
        if renderer is not None and (read or problems) and any(
                p.is_error for p in (*read, *problems)):
            renderer.stop()  # the build fails: nothing need render

    try:
        content, problems = (read_content(options.site_dir, True, checks.known, seen, check)
                             if checks is not None
                             else read_content(options.site_dir, hook=check))
        found += shared_urls(articles)
        if checks is not None:
            checks.cache.save()
    finally:
        if checks is not None:
            checks.cache.close()
    if renderer is not None and found and any(p.is_error for p in found):
        renderer.stop()
    return content, articles, problems + found


@dataclass(frozen=True)
class Assembly:
    """A site model ready to render, and what the build and check steps need beside it."""

    site: Site
    problems: list[Problem]
    stats: RenderStats
    assets: list[tuple[Path, str]]
    moments: list[datetime]
    sources: dict[str, Source]
    inputs: dict[str, bytes] = field(default_factory=dict)  # see deps.article_inputs


def assemble(options: BuildOptions, config: Config, now: datetime,
             problems: Iterable[Problem] = (), keep_sources: bool = False,
             seen: ContentStats | None = None) -> Assembly:
    """Read, validate and render every article, then group them into the site model.

    Raise BuildError with every problem when any is an error. Unless `keep_sources`, the
    sources are let go before the site model is built, to keep a big build's peak down.
    `seen`: the fingerprint's stats of content/ (see `read_and_check`)."""
    settings = markdown_settings(config)
    cache = (RenderCache.for_site(options.site_dir) if options.use_cache
             else RenderCache.disabled())
    try:
        # The Markdown workers start on the bodies while the content is still being read.
        with BodyRenderer(settings, cache, options.jobs or default_jobs()) as renderer:
            content, articles, found = read_and_check(options, config, seen, renderer, now)
            problems = [*problems, *found]
            notes, found = parse_notes(content.editions, config)
            problems += found
            raise_if_errors(problems)
            published, stats, linking = render_articles(
                [a for a in articles if is_published(a, now, options)], content.articles,
                renderer, options)
    finally:
        cache.close()
    inputs = (article_inputs(content.articles, published, config, settings)
              if options.use_cache else {})
    published, found = link_content(published, articles, linking)
    problems += found
    moments = [a.date for a in articles]
    assets = list(content.assets)
    sources = {source.rel: source for source in content.articles} if keep_sources else {}
    del content, articles
    site, found = build_site_model(published, notes, config, now)
    problems += found
    return Assembly(site, problems, stats, assets, moments, sources, inputs)


def build_site(options: BuildOptions, output_dir: Path, fingerprint: Fingerprint | None,
               started: float) -> BuildReport:
    """Read, validate, render and write the whole site (the build's output is not up to date);
    remember the build when `fingerprint` is given."""
    config = load_config(options.site_dir)
    now = build_clock(options.now, config.tz)
    assembly = assemble(options, config, now,
                        seen=fingerprint.content if fingerprint is not None else None)
    site, problems, stats = assembly.site, assembly.problems, assembly.stats
    raise_if_strict(problems, options)
    gc.collect()  # the sources and the caches' rows are garbage now: return their memory
    return_free_memory()
    jobs = page_jobs(site)
    index, records, code = page_records(site, config, options, output_dir, assembly.inputs)
    intact = intact_files(output_dir) if records.pages else {}
    same, to_render = plan_pages(jobs, records, index, intact)
    templates = TemplateCache.for_site(options.site_dir) if options.use_cache else None
    pages = render_pages_parallel(site, options.jobs or default_jobs(), options.progress,
                                  to_render, index, records.add, templates)

    assets = [Asset(source, rel) for source, rel in static_files(config) + assembly.assets]
    written = write_output(same, assets, output_dir, intact, pages)
    records.save(index, {job.path for job in jobs}, code, manifest_digest(output_dir, MANIFEST))
    report = BuildReport(
        output_dir=output_dir, articles=len(site.articles), pages=len(same) + pages.count,
        seconds=time.perf_counter() - started, written=written.written,
        unchanged=written.unchanged, removed=written.removed,
        warnings=tuple(sorted_problems(p for p in problems if not p.is_error)),
        rendered=stats.rendered, cached=stats.cached, pages_rendered=pages.count)
    if fingerprint and site.articles:
        record_build(fingerprint, now, assembly.moments, config, report)
    return report


@dataclass(frozen=True)
class CheckReport:
    """What `briefing check` looked at, and the warnings it met."""

    articles: int
    pages: int
    links: int
    warnings: tuple[Problem, ...] = field(default_factory=tuple)


def check(options: BuildOptions) -> CheckReport:
    """Every validation of a build, plus the internal links of the rendered pages; writes
    nothing (not even the render cache). Raise BuildError with every problem found."""
    site_dir = options.site_dir
    options = dataclasses.replace(options, use_cache=False)
    config = load_config(site_dir)
    output_dir = options.output_dir or site_dir / "output"
    problems = check_output_dir(output_dir, site_dir)
    now = build_clock(options.now, config.tz)

    assembly = assemble(options, config, now, problems, keep_sources=True)
    site, problems = assembly.site, assembly.problems
    pages = {page.path: page.data
             for page in render_pages_parallel(site, options.jobs or default_jobs())}
    assets = [rel for _, rel in static_files(config) + assembly.assets]
    problems += check_paths(list(pages) + assets)[1]

    bodies = assembly.sources
    sources = {output_path(a.url): SourceText(a.path, bodies[a.path].body, a.body_line)
               for a in site.articles}
    links, found = check_links(pages, assets + kept_files(output_dir), config.base_url, sources)
    problems += found
    raise_if_errors(problems)
    raise_if_strict(problems, options)
    return CheckReport(len(site.articles), len(pages), links,
                       tuple(sorted_problems(p for p in problems if not p.is_error)))
