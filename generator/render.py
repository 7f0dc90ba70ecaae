"""The Jinja environment and render_pages(site): every output file as bytes."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from markupsafe import Markup

import generator
from generator.config import Config
from generator.errors import BuildError, Problem, error
from generator.site import Edition, Listing, Page, Site, relative_link


@dataclass(frozen=True)
class OutputFile:
    """One file of the site: its path relative to the output folder, and its bytes."""

    path: str
    data: bytes


# Stands in for a page another worker renders (see render_pages' `shard`).
SKIPPED = OutputFile("", b"")


@dataclass(frozen=True)
class PageInfo:
    """What every template knows about the page it renders."""

    kind: str
    url: str
    title: str
    description: str = ""
    relative: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def default_theme_dir() -> Path:
    """The default theme: package data when installed, the repository's layouts/ otherwise."""
    packaged = Path(generator.__file__).parent / "layouts"
    if packaged.is_dir():
        return packaged
    return Path(generator.__file__).parent.parent / "layouts"


def layout_dirs(config: Config) -> list[Path]:
    """The site's own layouts/ first, then the default theme, without duplicates."""
    dirs = []
    for candidate in (config.root / "layouts", default_theme_dir()):
        if candidate.is_dir() and candidate.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(candidate)
    return dirs


def output_path(url: str) -> str:
    """The file a site path is written to: `/a/b/` → `a/b/index.html`."""
    path = url.lstrip("/")
    return path + "index.html" if not path or path.endswith("/") else path


def relative_url(target: str, from_url: str) -> str:
    """A link from the page at `from_url` to the site path `target`, relative to the page."""
    return relative_link(target, from_url)


def make_environment(config: Config) -> jinja2.Environment:
    """Jinja with autoescape, StrictUndefined and the date/URL filters templates use."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in layout_dirs(config)]),
        autoescape=jinja2.select_autoescape(("html", "xml", "htm"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    locale = Locale.parse(config.language, sep="-")
    tz = config.tz

    def local(value: datetime | Date) -> datetime | Date:
        return value.astimezone(tz) if isinstance(value, datetime) else value

    def date_filter(value: datetime | Date, style: str = "long") -> str:
        return format_date(local(value), format=style, locale=locale)

    def datetime_filter(value: datetime, style: str = "medium") -> str:
        return format_datetime(local(value), format=style, tzinfo=tz, locale=locale)

    def time_filter(value: datetime, style: str = "short") -> str:
        return format_time(local(value), format=style, tzinfo=tz, locale=locale)

    def iso_filter(value: datetime | Date) -> str:
        return local(value).isoformat()

    def month_filter(value: Date) -> str:
        return format_date(value, format="LLLL y", locale=locale)

    def reading_time(minutes: int) -> str:
        return f"{minutes} min read"

    env.filters.update(
        date=date_filter, datetime=datetime_filter, time=time_filter, isoformat=iso_filter,
        month=month_filter, reading_time=reading_time,
        absolute_url=config.absolute_url,
    )
    env.globals.update(config=config, generator_version=generator.__version__)
    return env


@jinja2.pass_context
def _url(context: jinja2.runtime.Context, target: str) -> str:
    page: PageInfo = context["page"]
    if not page.relative:
        return context["config"].absolute_url(target) if target.startswith("/") else target
    return relative_url(target, page.url)


def _template_problem(exc: BaseException, name: str, dirs: list[Path]) -> Problem:
    """A Problem naming the layout file and line a Jinja error came from."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return error(_layout_rel(exc.filename or name, dirs), exc.lineno, exc.message or str(exc))
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and any(frame.filename.startswith(str(d)) for d in dirs):
            return error(_layout_rel(frame.filename, dirs), frame.lineno, _describe(exc))
    return error(f"layouts/{name}", None, _describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined value in layout: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _layout_rel(filename: str, dirs: list[Path]) -> str:
    for directory in dirs:
        try:
            return "layouts/" + Path(filename).relative_to(directory).as_posix()
        except ValueError:
            continue
    return filename


class Renderer:
    """Renders templates into OutputFiles, collecting template problems instead of stopping."""

    def __init__(self, site: Site, env: jinja2.Environment | None = None,
                 shard: tuple[int, int] | None = None):
        self.site = site
        self.shard = shard
        self._calls = 0
        self.env = env or make_environment(site.config)
        self.env.globals.update(site=site, url=_url)
        self.dirs = layout_dirs(site.config)
        self.problems: list[Problem] = []
        self._failed: set[str] = set()

    def page(self, template: str, info: PageInfo, **context: Any) -> OutputFile | None:
        """Render one page; on a layout error record it once per template and return None."""
        if template in self._failed:
            return None
        self._calls += 1
        if self.shard and (self._calls - 1) % self.shard[1] != self.shard[0]:
            return SKIPPED  # another worker process renders this page
        try:
            text = self.env.get_template(template).render(page=info, **context)
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
            self._failed.add(template)
            self.problems.append(_template_problem(exc, template, self.dirs))
            return None
        return OutputFile(output_path(info.url), text.encode("utf-8"))


def _pages_of(listing: Listing, renderer: Renderer, title: Callable[[Page], str]
              ) -> Iterator[OutputFile | None]:
    for page in listing.pages:
        info = PageInfo(listing.kind.rstrip("s"), page.url, title(page), listing.description)
        yield renderer.page("list.html", info, listing=listing, pagination=page)


def render_pages(site: Site, env: jinja2.Environment | None = None,
                 shard: tuple[int, int] | None = None) -> list[OutputFile]:
    """Every page of the site, rendered; raise BuildError listing every layout problem.

    With `shard=(k, n)` only every n-th template page from the k-th is rendered, the others are
    SKIPPED placeholders: n workers' lists line up, so `generator.parallel` can merge them."""
    renderer = Renderer(site, env, shard)
    config = site.config
    files: list[OutputFile | None] = []
    latest = site.latest
    files.append(renderer.page(
        "home.html", PageInfo("home", "/", config.title, config.description),
        edition=latest, earlier=site.editions[1:1 + config.home_editions]))
    files.append(renderer.page(
        "editions.html", PageInfo("editions", "/editions/", "Editions",
                                  f"Every edition of {config.title}"),
        months=site.editions_by_month()))
    for index, edition in enumerate(site.editions):
        files.append(renderer.page(
            "edition.html", _edition_info(edition, config), edition=edition,
            newer=site.editions[index - 1] if index > 0 else None,
            older=site.editions[index + 1] if index + 1 < len(site.editions) else None))
    for article in site.articles:
        files.append(renderer.page(
            "article.html",
            PageInfo("article", article.url, article.title, article.summary),
            article=article, neighbours=site.neighbours[article.url],
            edition=site.edition_of[article.url]))
    for kind, listings, label in (("topics", site.topics, "Topics"),
                                  ("tags", site.tags, "Tags"),
                                  ("authors", site.authors, "Authors")):
        files.append(renderer.page(
            "index_of.html", PageInfo("index", f"/{kind}/", label), listings=listings,
            kind=kind))
        for listing in listings:
            files.extend(_pages_of(listing, renderer, _list_title(listing)))
    files.append(renderer.page(
        "404.html", PageInfo("404", "/404.html", "Page not found", relative=False)))
    if renderer.problems:
        raise BuildError(renderer.problems)
    return [f for f in files if f is not None]


def _edition_info(edition: Edition, config: Config) -> PageInfo:
    day = format_date(edition.day, format="long", locale=Locale.parse(config.language, sep="-"))
    title = edition.note.title if edition.note and edition.note.title else ""
    return PageInfo("edition", edition.url, f"{title} ({day})" if title else f"Briefing, {day}",
                    edition.note.intro if edition.note else edition.lead.summary,
                    extra={"day": edition.day})


def _list_title(listing: Listing) -> Callable[[Page], str]:
    def title(page: Page) -> str:
        suffix = f" (page {page.number} of {page.count})" if page.number > 1 else ""
        return listing.name + suffix
    return title


__all__ = ["OutputFile", "PageInfo", "Markup", "render_pages", "make_environment",
           "relative_url", "output_path", "default_theme_dir", "layout_dirs"]


def static_files(config: Config) -> list[tuple[Path, str]]:
    """The layouts' static/ files as (source, output path); the site's own win over the theme's."""
    chosen: dict[str, Path] = {}
    for directory in reversed(layout_dirs(config)):
        static = directory / "static"
        if not static.is_dir():
            continue
        for path in sorted(static.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                chosen["static/" + path.relative_to(static).as_posix()] = path
    return [(source, rel) for rel, source in sorted(chosen.items())]
