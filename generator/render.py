"""The Jinja environment and render_pages(site): every output file as bytes."""

from __future__ import annotations

import email.utils
import functools
import hashlib
import html
import importlib.util
import json
import mimetypes
import operator
import re
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import jinja2
from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_time,
    get_time_format,
    tokenize_pattern,
)
from markupsafe import Markup

import generator
from generator.config import Config
from generator.errors import BuildError, Problem, error
from generator.markup import cut_at_word, plain_text
from generator.models import SUMMARY_LIMIT, Article, Author
from generator.site import Edition, Listing, Page, Site, relative_link
from generator.theme import layout_dirs


@dataclass(frozen=True)
class OutputFile:
    """One file of the site: its path relative to the output folder, and its bytes.

    `same` marks a page the build did not render again because nothing it read changed: its
    bytes are those of the previous build's file at `path` (checked intact with
    `write.intact_files`), and `data` is empty. `digest`, when known, is `write.file_digest`
    of `data` (a page worker makes it for the page's record), so the writer need not make it
    again."""

    path: str
    data: bytes
    same: bool = False
    digest: str | None = None


@dataclass(frozen=True)
class PageInfo:
    """What every template knows about the page it renders."""

    kind: str
    url: str
    title: str
    description: str = ""
    relative: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageJob:
    """One page to render: its layout, what the layout knows about the page, and its context."""

    template: str
    info: PageInfo
    context: dict[str, Any] = field(default_factory=dict)
    # What, with the template and the code, decides `info` and `context` (see
    # `deps.ModelIndex.job_fingerprint`): the site model's objects of `basis[0]` by all their
    # fields; those of `basis[1]` only by which objects they are, and its plain values (str,
    # None...) as they are. None: the info and context are fingerprinted as they are.
    basis: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None

    @property
    def path(self) -> str:
        """The output file the page is written to."""
        return output_path(self.info.url)


def output_path(url: str) -> str:
    """The file a site path is written to: `/a/b/` → `a/b/index.html`."""
    path = url.lstrip("/")
    return path + "index.html" if not path or path.endswith("/") else path


# LDML pattern letters that show only the time of day (period, hours, minutes, seconds,
# fractions, milliseconds in day), and those that show only the time zone.
_CLOCK_FIELDS = frozenset("abBhHKkmsSA")
_ZONE_FIELDS = frozenset("zZOvVXx")


class _Environment(jinja2.Environment):
    """Jinja's environment, with each template's globals copied into a dict when it loads."""

    def make_globals(self, d: dict[str, Any] | None) -> dict[str, Any]:
        """The environment's globals overlaid with the template's own.

        Jinja's own is a ChainMap over the environment's globals, which it copies into a new
        dict for every render and every include, item by item in Python: about 15 µs a page
        for our twenty globals, 2 µs from a dict. Jinja asks that globals not change once a
        template is loaded, so a copy made when it loads holds the same values."""
        return {**self.globals, **(d or {})}


class TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled layouts kept between builds in `<site>/.cache/templates-<key>/`, so a rebuild
    does not compile every layout again (about 0.1 s a process).

    Jinja names each file after the layout's name and path, and uses it only for the very
    source it was compiled from (a SHA-1 of the layout's text is in the file). The folder's
    key covers what else decides the compiled code: Jinja's version, the Python version and
    bytecode format, and the generator's code (the environment's settings and filters).
    Losing the folder loses only the speed-up; a file that cannot be read or written is
    compiled as if it were not there."""

    PREFIX = "templates-"

    def __init__(self, directory: Path):
        super().__init__(str(directory), "%s.jinja")
        self.path = directory

    @classmethod
    def for_site(cls, site_dir: Path) -> TemplateCache:
        """The cache of this site, for this generator, Jinja and Python; older ones are
        removed when this one is first made."""
        cache = site_dir / ".cache"
        directory = cache / f"{cls.PREFIX}{cls.key()}"
        if not directory.is_dir():
            try:
                for old in cache.glob(f"{cls.PREFIX}*"):
                    shutil.rmtree(old, ignore_errors=True)
                directory.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass
        return cls(directory)

    @staticmethod
    def key() -> str:
        """What decides the compiled code besides a layout's own text."""
        digest = hashlib.blake2b(digest_size=10)
        for part in (jinja2.__version__, sys.version, importlib.util.MAGIC_NUMBER.hex(),
                     generator.__version__):
            digest.update(part.encode() + b"\0")
        for path in sorted(Path(generator.__file__).parent.glob("*.py")):
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """The compiled layout, if the file is there and whole; otherwise none."""
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged file: pickle's or marshal's error; compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep the compiled layout (written beside, then renamed into place)."""
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def make_environment(config: Config, templates: jinja2.BytecodeCache | None = None
                     ) -> jinja2.Environment:
    """Jinja with autoescape, StrictUndefined and the date/URL filters templates use;
    compiled layouts are kept in `templates` when given."""
    env = _Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in layout_dirs(config.root)]),
        autoescape=jinja2.select_autoescape(("html", "xml", "htm"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # One environment renders one build: no need to stat every layout on every include.
        auto_reload=False,
        bytecode_cache=templates,
    )
    locale = Locale.parse(config.language, sep="-")
    tz = config.tz

    def local(value: datetime | Date) -> datetime | Date:
        return value.astimezone(tz) if isinstance(value, datetime) else value

    @functools.cache
    def format_day(day: Date, style: str) -> str:
        return format_date(day, format=style, locale=locale)

    def date_filter(value: datetime | Date, style: str = "long") -> str:
        # Babel formats only the calendar day of a datetime: each day is formatted once.
        day = local(value)
        return format_day(day.date() if isinstance(day, datetime) else day, style)

    def datetime_filter(value: datetime, style: str = "medium") -> str:
        return format_datetime(local(value), format=style, tzinfo=tz, locale=locale)

    @functools.cache
    def time_fields(style: str) -> str:
        """"clock" if the time pattern shows only the time of day, "zone" if only the zone."""
        named = style in ("full", "long", "medium", "short")
        pattern = get_time_format(style, locale=locale).pattern if named else style
        fields = {value[0] for kind, value in tokenize_pattern(pattern) if kind == "field"}
        return "clock" if fields <= _CLOCK_FIELDS else "zone" if fields <= _ZONE_FIELDS else ""

    times: dict[tuple[Any, ...], str] = {}

    def time_filter(value: datetime, style: str = "short") -> str:
        # Times are nearly all different, but what a pattern shows of them is not: the time of
        # day ("short"), or the zone on that day ("z"). Key the cache on what is shown.
        moment = local(value)
        if not isinstance(moment, datetime) or not (fields := time_fields(style)):
            return format_time(moment, format=style, tzinfo=tz, locale=locale)
        key = ((style, moment.time()) if fields == "clock" else
               (style, moment.date(), moment.utcoffset(), moment.dst()))
        text = times.get(key)
        if text is None:
            text = times[key] = format_time(moment, format=style, tzinfo=tz, locale=locale)
        return text

    def iso_filter(value: datetime | Date) -> str:
        return local(value).isoformat()

    def month_filter(value: Date) -> str:
        return format_date(value, format="LLLL y", locale=locale)

    def reading_time(minutes: int) -> str:
        return f"{minutes} min read"

    # A story's date and timestamp appear on its page and every list it is in: each is made
    # once. Full date-times appear on few pages: a bounded cache will do.
    datetime_filter = functools.lru_cache(maxsize=8192)(datetime_filter)
    date_filter, iso_filter, month_filter = (
        functools.cache(f) for f in (date_filter, iso_filter, month_filter))

    env.filters.update(
        date=date_filter, datetime=datetime_filter, time=time_filter, isoformat=iso_filter,
        month=month_filter, reading_time=reading_time,
        absolute_url=config.absolute_url,
        # `{{ path | url }}` is `url(path)`: Jinja calls a filter directly, a function through
        # Context.call, which costs more than the link itself (the theme makes ~20 per page).
        url=_url,
    )
    env.globals.update(config=config, generator_version=generator.__version__)
    return env


@jinja2.pass_context
def _url(context: jinja2.runtime.Context, target: str) -> str:
    page: PageInfo = context["page"]
    if not page.relative:
        return context["config"].absolute_url(target) if target.startswith("/") else target
    return relative_link(target, page.url)


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
    """Renders page jobs into OutputFiles, collecting template problems instead of stopping."""

    def __init__(self, site: Site, env: jinja2.Environment | None = None,
                 templates: jinja2.BytecodeCache | None = None):
        self.site = site
        self.env = env or make_environment(site.config, templates)
        self.env.globals.update(site=site, url=_url)
        install_metadata(self.env, site)
        self.dirs = layout_dirs(site.config.root)
        self.problems: list[Problem] = []
        self._failed: set[str] = set()

    def render(self, job: PageJob) -> OutputFile | None:
        """Render one page; on a layout error record it once per template and return None.
        XML files lose the control characters XML 1.0 forbids."""
        if job.template in self._failed:
            return None
        try:
            text = self.env.get_template(job.template).render(page=job.info, **job.context)
        except Exception as exc:  # whatever a layout raises is a problem in that layout
            self._failed.add(job.template)
            self.problems.append(_template_problem(exc, job.template, self.dirs))
            return None
        return xml_safe(OutputFile(job.path, text.encode("utf-8")))


def _pages_of(listing: Listing, title: Callable[[Page], str]) -> Iterator[PageJob]:
    for page in listing.pages:
        info = PageInfo(listing.kind.rstrip("s"), page.url, title(page), listing.description)
        yield PageJob("list.html", info, {"listing": listing, "pagination": page},
                      ((page,), (listing, listing.kind, listing.name, listing.description)))


def page_jobs(site: Site) -> list[PageJob]:
    """Every page of the site, in a fixed order, ready to render."""
    config = site.config
    jobs = [
        PageJob("home.html", PageInfo("home", "/", config.title, config.description),
                {"edition": site.latest, "earlier": site.editions[1:1 + config.home_editions]}),
        PageJob("editions.html", PageInfo("editions", "/editions/", "Editions",
                                          f"Every edition of {config.title}"),
                {"months": site.editions_by_month()}),
    ]
    for index, edition in enumerate(site.editions):
        jobs.append(PageJob(
            "edition.html", _edition_info(edition, config),
            {"edition": edition,
             "newer": site.editions[index - 1] if index > 0 else None,
             "older": site.editions[index + 1] if index + 1 < len(site.editions) else None}))
    for article in site.articles:
        neighbours, edition = site.neighbours[article.url], site.edition_of[article.url]
        jobs.append(PageJob(
            "article.html", PageInfo("article", article.url, article.title, article.summary),
            {"article": article, "neighbours": neighbours, "edition": edition},
            ((article,), (neighbours.previous, neighbours.next, edition))))
    for kind, listings, label in (("topics", site.topics, "Topics"),
                                  ("tags", site.tags, "Tags"),
                                  ("authors", site.authors, "Authors")):
        jobs.append(PageJob("index_of.html", PageInfo("index", f"/{kind}/", label),
                            {"listings": listings, "kind": kind}))
        for listing in listings:
            jobs.extend(_pages_of(listing, _list_title(listing)))
    jobs.append(PageJob("404.html", PageInfo("404", "/404.html", "Page not found",
                                             relative=False)))
    jobs.extend(feed_and_sitemap_jobs(site))
    return jobs


def render_pages(site: Site, env: jinja2.Environment | None = None,
                 jobs: list[PageJob] | None = None) -> list[OutputFile]:
    """The pages of `jobs` (every page of the site by default), rendered; raise BuildError
    listing every layout problem."""
    renderer = Renderer(site, env)
    files = [renderer.render(job) for job in (page_jobs(site) if jobs is None else jobs)]
    if renderer.problems:
        raise BuildError(renderer.problems)
    return [f for f in files if f is not None]


def _edition_info(edition: Edition, config: Config) -> PageInfo:
    day = format_date(edition.day, format="long", locale=Locale.parse(config.language, sep="-"))
    title = edition.note.title if edition.note and edition.note.title else ""
    return PageInfo("edition", edition.url, f"{title} ({day})" if title else f"Briefing, {day}",
                    edition_description(edition), extra={"day": edition.day})


def _list_title(listing: Listing) -> Callable[[Page], str]:
    def title(page: Page) -> str:
        suffix = f" (page {page.number} of {page.count})" if page.number > 1 else ""
        return listing.name + suffix
    return title



def static_files(config: Config) -> list[tuple[Path, str]]:
    """The layouts' static/ files as (source, output path); the site's own win over the theme's."""
    chosen: dict[str, Path] = {}
    for directory in reversed(layout_dirs(config.root)):
        static = directory / "static"
        if not static.is_dir():
            continue
        for path in sorted(static.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                chosen["static/" + path.relative_to(static).as_posix()] = path
    return [(source, rel) for rel, source in sorted(chosen.items())]


# --- Feeds, sitemaps, robots.txt and head metadata ------------------------------------------
# Output formats of the same render path: feed_and_sitemap_jobs(site) returns their page
# jobs, and install_metadata(env, site) gives the HTML layouts what
# partials/head_meta.html needs (Open Graph, Twitter card, JSON-LD, feed autodiscovery).

# The date part RFC 4151 requires in a tag: URI. It is a constant on purpose: anything taken
# from the article (its date, its title) would change the id when the article is edited.
FEED_ID_DATE = "2026"
SITEMAP_LIMIT = 50_000
NEWS_SITEMAP_LIMIT = 1_000
NEWS_WINDOW = timedelta(days=2)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# What absolute_links rewrites: `\s(?:href|src)="([^"]*)"`, found by str.find (a regular
# expression that starts with a class of characters tries every position: 10 ms a megabyte).
_URL_ATTRIBUTES = ('href="', 'src="')
# Characters XML 1.0 forbids (C0 controls but tab and newlines, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Replaced one after another: str.replace is far quicker than str.translate on long text.
_JSON_IN_HTML = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                 ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


@dataclass(frozen=True)
class Person:
    """A byline as feeds and structured data show it: name and absolute profile URL."""

    name: str
    url: str


@dataclass(frozen=True)
class Category:
    """A topic or tag on a feed entry; `scheme` is the absolute URL of its index page."""

    name: str
    scheme: str
    url: str


@dataclass(frozen=True)
class FeedEntry:
    """One article as every feed format carries it, with absolute URLs."""

    id: str
    url: str
    title: str
    published: datetime
    updated: datetime
    authors: tuple[Person, ...]
    categories: tuple[Category, ...]
    summary: str
    content: str
    image: str
    image_type: str


@dataclass(frozen=True)
class Feed:
    """The newest articles of the site or of one topic, ready for Atom, RSS and JSON Feed."""

    id: str
    title: str
    description: str
    home: str
    folder: str
    updated: datetime
    entries: tuple[FeedEntry, ...]

    @property
    def paths(self) -> dict[str, str]:
        """Site path of each format: atom, rss and json."""
        return feed_paths(self.folder)


def feed_paths(folder: str) -> dict[str, str]:
    """The site paths of the Atom, RSS and JSON feeds in `folder` (`/` or `/topics/x/`)."""
    return {"atom": folder + "feed.xml", "rss": folder + "rss.xml", "json": folder + "feed.json"}


@dataclass(frozen=True)
class SitemapEntry:
    """One page in sitemap.xml: absolute URL and, when the content says, its last change."""

    loc: str
    lastmod: datetime | None = None


def absolute(config: Config, target: str) -> str:
    """An absolute URL for a site path; absolute URLs are kept as they are."""
    return target if "://" in target else config.absolute_url(target)


def entry_id(article: Article, config: Config) -> str:
    """The article's permanent feed id: `tag:HOST,2026:PATH`, PATH its source file under content/.

    Editing the title, slug or date keeps the id; renaming or moving the file changes it."""
    parts = urlsplit(config.base_url)
    source = parts.path.lstrip("/") + article.path.removeprefix("content/")
    return f"tag:{parts.hostname},{FEED_ID_DATE}:{quote(source, safe='/-._~')}"


def author_url(author: Author, config: Config) -> str:
    """An author's profile: the configured URL, else their page on this site."""
    return author.url or config.absolute_url(f"/authors/{author.slug}/")


def article_image(article: Article, config: Config) -> str:
    """The absolute URL of the article's picture, or ""."""
    return absolute(config, article.image.src) if article.image and article.image.src else ""


def absolute_links(fragment: str, base: str) -> str:
    """Every href and src in sanitised HTML resolved against `base`, for readers off the site:
    each quoted value of an href= or src= after a whitespace character, matched from the left
    without overlaps."""
    find = fragment.find
    pieces: list[str] = []
    copied = position = 0
    while True:
        found = [(at, at + len(name)) for name in _URL_ATTRIBUTES
                 if (at := find(name, position)) >= 0]
        if not found:
            break
        at, start = min(found)
        if not at or not fragment[at - 1].isspace():  # part of a longer name: no match here
            position = at + 1
            continue
        end = find('"', start)
        if end < 0:  # no closing quote here, nor after
            break
        pieces += (fragment[copied:start],
                   html.escape(urljoin(base, html.unescape(fragment[start:end])), quote=True))
        copied, position = end, end + 1
    if not pieces:
        return fragment
    pieces.append(fragment[copied:])
    return "".join(pieces)


def feed_entry(article: Article, config: Config) -> FeedEntry:
    """An article as a feed entry: absolute URLs, stable id, categories from topic and tags."""
    url = config.absolute_url(article.url)
    categories = []
    if article.topic:
        categories.append(Category(article.topic.name, config.absolute_url("/topics/"),
                                   config.absolute_url(f"/topics/{article.topic.slug}/")))
    categories.extend(Category(tag.name, config.absolute_url("/tags/"),
                               config.absolute_url(f"/tags/{tag.slug}/")) for tag in article.tags)
    image = article_image(article, config)
    return FeedEntry(
        id=entry_id(article, config), url=url, title=article.title,
        published=article.date, updated=article.modified,
        authors=tuple(Person(a.name, author_url(a, config)) for a in article.authors),
        categories=tuple(categories), summary=article.summary,
        content=absolute_links(article.html, url) if config.feed_full_content else "",
        image=image,
        image_type=(mimetypes.guess_type(urlsplit(image).path)[0] or "") if image else "")


def make_feed(site: Site, articles: tuple[Article, ...], folder: str, title: str,
              description: str, made: dict[int, FeedEntry] | None = None) -> Feed:
    """The feed of the newest `feeds.count` of `articles` (newest first) under `folder`;
    entries already in `made` (by the article's id) are used again, new ones added to it."""
    config = site.config
    chosen = articles[:config.feed_count]
    updated = max((a.modified for a in chosen), default=site.now)
    parts = urlsplit(config.base_url)
    feed_id = f"tag:{parts.hostname},{FEED_ID_DATE}:{parts.path.lstrip('/')}{folder.lstrip('/')}"
    return Feed(feed_id + ("feed" if folder == "/" else ""), title, description,
                config.absolute_url(folder), folder, updated,
                tuple(_entry(a, config, made) for a in chosen))


def _entry(article: Article, config: Config, made: dict[int, FeedEntry] | None) -> FeedEntry:
    if made is None:
        return feed_entry(article, config)
    entry = made.get(id(article))
    if entry is None:
        entry = made[id(article)] = feed_entry(article, config)
    return entry


def site_feeds(site: Site) -> list[Feed]:
    """The site's feed and one per topic."""
    config = site.config
    # The site's newest stories are their topics' newest too: each entry is made once.
    made: dict[int, FeedEntry] = {}
    feeds = [make_feed(site, site.articles, "/", config.title, config.description, made)]
    for listing in site.topics:
        feeds.append(make_feed(site, listing.articles, listing.url,
                               f"{listing.name} · {config.title}",
                               f"{listing.name} stories from {config.title}", made))
    return feeds


def json_feed(feed: Feed, config: Config) -> dict[str, Any]:
    """A feed as a JSON Feed 1.1 document."""
    items = []
    for entry in feed.entries:
        item: dict[str, Any] = {"id": entry.id, "url": entry.url, "title": entry.title}
        if entry.content:
            item["content_html"] = entry.content
        else:
            item["content_text"] = entry.summary
        if entry.summary:
            item["summary"] = entry.summary
        if entry.image:
            item["image"] = entry.image
        item["date_published"] = entry.published.astimezone(config.tz).isoformat()
        item["date_modified"] = entry.updated.astimezone(config.tz).isoformat()
        if entry.authors:
            item["authors"] = [{"name": a.name, "url": a.url} for a in entry.authors]
        if entry.categories:
            item["tags"] = [c.name for c in entry.categories]
        items.append(item)
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION, "title": feed.title, "home_page_url": feed.home,
        "feed_url": config.absolute_url(feed.paths["json"]),
    }
    if feed.description:
        document["description"] = feed.description
    if config.publisher_logo:
        document["icon"] = absolute(config, config.publisher_logo)
    document["language"] = config.language
    document["authors"] = [{"name": config.publisher, "url": config.base_url}]
    document["items"] = items
    return document


def sitemap_entries(site: Site) -> list[SitemapEntry]:
    """Every HTML page but the 404, with lastmod from its articles' updated/corrections/date."""
    config = site.config
    modified = [a.modified for a in site.articles]
    # Each article's last change, worked out once: the listing pages hold every article
    # five times over (topic, tags, author).
    modified_of = dict(zip(map(id, site.articles), modified, strict=True))
    entries = [SitemapEntry(config.absolute_url("/"),
                            site.latest.modified if site.latest else None),
               SitemapEntry(config.absolute_url("/editions/"), max(modified, default=None))]
    entries += [SitemapEntry(config.absolute_url(e.url), _newest(e.articles, modified_of))
                for e in site.editions]
    entries += [SitemapEntry(config.absolute_url(a.url), when)
                for a, when in zip(site.articles, modified, strict=True)]
    for kind, listings in (("topics", site.topics), ("tags", site.tags),
                           ("authors", site.authors)):
        pages = [(page, _newest(page.articles, modified_of))
                 for listing in listings for page in listing.pages]
        # The pages split their listings' articles, so the newest page is the newest of all.
        entries.append(SitemapEntry(config.absolute_url(f"/{kind}/"),
                                    max((when for _, when in pages if when is not None),
                                        default=None)))
        entries += [SitemapEntry(config.absolute_url(page.url), when) for page, when in pages]
    return entries


_modified = operator.attrgetter("modified")


def _newest(articles: tuple[Article, ...], modified_of: dict[int, datetime]
            ) -> datetime | None:
    """The latest change to any of the articles (looked up in `modified_of` by id, else
    worked out); None for none."""
    try:
        return max(map(modified_of.__getitem__, map(id, articles)), default=None)
    except KeyError:  # an article the site's list does not hold
        return max(map(_modified, articles), default=None)


def news_articles(site: Site) -> list[Article]:
    """Articles published in the two days up to the build's clock, newest first."""
    start = site.now - NEWS_WINDOW
    return [a for a in site.articles if start <= a.date <= site.now]


def news_language(language: str) -> str:
    """The language code Google News expects: ISO 639 (`en`), or `zh-cn` / `zh-tw`."""
    parts = language.lower().split("-")
    if parts[0] == "zh":
        return "zh-tw" if {"hant", "tw", "hk", "mo"} & set(parts[1:]) else "zh-cn"
    return parts[0]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def _sitemap_jobs(config: Config, name: str, template: str, items: list[Any], limit: int,
                  lastmod: Callable[[list[Any]], datetime | None]) -> list[PageJob]:
    """`/NAME.xml` with every item, or, past `limit` items, an index of `/NAME-N.xml` files."""
    chunks = _chunks(items, limit)
    if len(chunks) == 1:
        return [PageJob(template, PageInfo("sitemap", f"/{name}.xml", name, relative=False),
                        {"entries": items})]
    jobs = [PageJob(template, PageInfo("sitemap", f"/{name}-{n}.xml", name, relative=False),
                    {"entries": chunk})
            for n, chunk in enumerate(chunks, 1)]
    parts = [SitemapEntry(config.absolute_url(f"/{name}-{n}.xml"), lastmod(chunk))
             for n, chunk in enumerate(chunks, 1)]
    jobs.append(PageJob("sitemap-index.xml",
                        PageInfo("sitemap", f"/{name}.xml", name, relative=False),
                        {"sitemaps": parts}))
    return jobs


def xml_safe(file: OutputFile | None) -> OutputFile | None:
    """An XML file without the control characters XML 1.0 forbids (front matter may hold them)."""
    if file is None or not file.path.endswith(".xml"):
        return file
    text = file.data.decode("utf-8")
    cleaned = _NOT_XML.sub("", text)
    return file if cleaned == text else OutputFile(file.path, cleaned.encode("utf-8"))


def feed_and_sitemap_jobs(site: Site) -> list[PageJob]:
    """Atom, RSS and JSON feeds (site and topics), sitemap.xml, news-sitemap.xml, robots.txt."""
    jobs: list[PageJob] = []
    for feed in site_feeds(site):
        paths = feed.paths
        for template, kind in (("feed.xml", "atom"), ("rss.xml", "rss"), ("feed.json", "json")):
            jobs.append(PageJob(template, PageInfo("feed", paths[kind], feed.title,
                                                   relative=False), {"feed": feed}))
    jobs += _sitemap_jobs(site.config, "sitemap", "sitemap.xml", sitemap_entries(site),
                          SITEMAP_LIMIT,
                          lambda chunk: max((e.lastmod for e in chunk if e.lastmod), default=None))
    jobs += _sitemap_jobs(site.config, "news-sitemap", "news-sitemap.xml", news_articles(site),
                          NEWS_SITEMAP_LIMIT,
                          lambda chunk: max((a.modified for a in chunk), default=None))
    jobs.append(PageJob("robots.txt", PageInfo("robots", "/robots.txt", "robots.txt",
                                               relative=False)))
    return jobs


def json_ld(data: Any) -> Markup:
    """JSON for a <script type="application/ld+json">: `<`, `>` and `&` escaped, so no value
    can close the script element."""
    text = json.dumps(data, ensure_ascii=False)
    for char, escaped in _JSON_IN_HTML:
        text = text.replace(char, escaped)
    return Markup(text)


def publisher_schema(config: Config) -> dict[str, Any]:
    """The news organisation as a schema.org Organization."""
    publisher: dict[str, Any] = {"@type": "Organization", "name": config.publisher,
                                 "url": config.base_url}
    if config.publisher_logo:
        publisher["logo"] = {"@type": "ImageObject",
                             "url": absolute(config, config.publisher_logo)}
    return publisher


def article_schema(article: Article, config: Config) -> dict[str, Any]:
    """An article as a schema.org NewsArticle (JSON-LD)."""
    url = config.absolute_url(article.url)
    data: dict[str, Any] = {
        "@context": "https://schema.org", "@type": "NewsArticle",
        "headline": article.title,
        "datePublished": article.date.astimezone(config.tz).isoformat(),
        "dateModified": article.modified.astimezone(config.tz).isoformat(),
        "author": [{"@type": "Person", "name": a.name, "url": author_url(a, config)}
                   for a in article.authors],
        "publisher": publisher_schema(config),
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "url": url, "inLanguage": config.language,
    }
    if article.summary:
        data["description"] = article.summary
    image = article_image(article, config)
    if image:
        data["image"] = [image]
    if article.topic:
        data["articleSection"] = article.topic.name
    if article.tags:
        data["keywords"] = [tag.name for tag in article.tags]
    if article.location:
        data["dateline"] = article.location
    if article.words:
        data["wordCount"] = article.words
    if article.corrections:
        data["correction"] = [
            {"@type": "CorrectionComment", "text": c.text,
             "datePublished": c.date.astimezone(config.tz).isoformat()}
            for c in article.corrections]
    return data


def edition_schema(edition: Edition, config: Config, name: str) -> dict[str, Any]:
    """An edition's stories, in reading order, as a schema.org ItemList (JSON-LD)."""
    return {
        "@context": "https://schema.org", "@type": "ItemList", "name": name,
        "url": config.absolute_url(edition.url),
        "numberOfItems": len(edition.articles),
        "itemListElement": [
            {"@type": "ListItem", "position": n, "url": config.absolute_url(a.url),
             "name": a.title}
            for n, a in enumerate(edition.articles, 1)],
    }


def edition_description(edition: Edition) -> str:
    """An edition's meta description: its note's intro as plain text, else the lead's summary."""
    intro = plain_text(edition.note.intro_html) if edition.note else ""
    return cut_at_word(intro, SUMMARY_LIMIT) if intro.strip() else edition.lead.summary


def share_image(config: Config, article: Article | None = None) -> dict[str, str]:
    """og:image for a page: the article's picture, else `share_image` from config, else none."""
    if article is not None and article_image(article, config):
        assert article.image is not None
        return {"url": article_image(article, config), "alt": article.image.alt}
    if config.share_image:
        return {"url": absolute(config, config.share_image), "alt": ""}
    return {}


def install_metadata(env: jinja2.Environment, site: Site) -> None:
    """Give the layouts the feed list, JSON-LD builders and feed date filters."""
    config = site.config
    tz = config.tz
    env.filters.update(
        rfc822=lambda value: email.utils.format_datetime(value.astimezone(tz)),
        json_ld=json_ld,
        absolute=lambda target: absolute(config, target),
    )
    env.globals.update(
        feed_paths=feed_paths,
        site_feed_urls={kind: absolute(config, path) for kind, path in feed_paths("/").items()},
        article_schema=lambda article: article_schema(article, config),
        edition_schema=lambda edition, name: edition_schema(edition, config, name),
        share_image=lambda article=None: share_image(config, article),
        author_url=lambda author: author_url(author, config),
        og_locale=config.language.replace("-", "_"),
        news_language=news_language(config.language),
        json_feed=lambda feed: json.dumps(json_feed(feed, config), ensure_ascii=False, indent=2),
    )
