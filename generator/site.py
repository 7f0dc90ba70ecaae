"""Group and order articles into the site: editions, sections, topics, tags, authors, pages."""

from __future__ import annotations

import dataclasses
import functools
import operator
import posixpath
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

from generator.config import Config, Topic
from generator.errors import Problem, warning
from generator.markup import rewrite_links
from generator.models import Article, Author, EditionNote


@dataclass(frozen=True)
class Section:
    """One topic's stories within an edition; `topic` is None for stories without a topic."""

    topic: Topic | None
    articles: tuple[Article, ...]

    @property
    def name(self) -> str:
        """The heading readers see."""
        return self.topic.name if self.topic else "More news"


@dataclass(frozen=True)
class Edition:
    """A calendar day's briefing in the site's time zone."""

    day: Date
    lead: Article
    sections: tuple[Section, ...]
    note: EditionNote | None = None

    @property
    def url(self) -> str:
        """The edition's site path."""
        return f"/editions/{self.day.isoformat()}/"

    @property
    def articles(self) -> tuple[Article, ...]:
        """Every story in reading order: the lead, then each section in order."""
        return (self.lead, *(a for s in self.sections for a in s.articles))

    @property
    def modified(self) -> datetime:
        """The latest change to any story in the edition."""
        return max(a.modified for a in self.articles)


@dataclass(frozen=True)
class Page:
    """One page of a paginated list of articles."""

    number: int
    count: int
    articles: tuple[Article, ...]
    base: str

    @property
    def url(self) -> str:
        """This page's site path: the base for page 1, `base/page/N/` after."""
        return page_url(self.base, self.number)

    @property
    def previous_url(self) -> str | None:
        """The newer page's path, if any."""
        return page_url(self.base, self.number - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        """The older page's path, if any."""
        return page_url(self.base, self.number + 1) if self.number < self.count else None


@dataclass(frozen=True)
class Listing:
    """A topic, tag or author with its articles (newest first), split into pages."""

    kind: str
    slug: str
    name: str
    articles: tuple[Article, ...]
    pages: tuple[Page, ...]
    description: str = ""
    url_of_profile: str = ""

    @property
    def url(self) -> str:
        """The first page's site path (from the kind and slug, not the pages, so that a page
        showing the link does not depend on how many pages the listing has)."""
        return f"/{self.kind}/{self.slug}/"


@dataclass(frozen=True)
class Neighbours:
    """The previous and next story in an article's edition, in reading order."""

    previous: Article | None
    next: Article | None


@dataclass(frozen=True)
class Site:
    """Everything the renderer needs, computed once per build."""

    config: Config
    now: datetime
    articles: tuple[Article, ...]
    editions: tuple[Edition, ...]
    topics: tuple[Listing, ...]
    tags: tuple[Listing, ...]
    authors: tuple[Listing, ...]
    neighbours: Mapping[str, Neighbours]
    edition_of: Mapping[str, Edition]

    @property
    def latest(self) -> Edition | None:
        """The newest edition, shown on the home page."""
        return self.editions[0] if self.editions else None

    def editions_by_month(self) -> tuple[tuple[Date, tuple[Edition, ...]], ...]:
        """Editions grouped by month, newest month first."""
        months: dict[Date, list[Edition]] = {}
        for edition in self.editions:
            months.setdefault(edition.day.replace(day=1), []).append(edition)
        return tuple((month, tuple(items)) for month, items in months.items())


def page_url(base: str, number: int) -> str:
    """`base` for page 1, `base/page/N/` for later pages."""
    return base if number <= 1 else f"{base}page/{number}/"


def paginate(articles: tuple[Article, ...], per_page: int, base: str) -> tuple[Page, ...]:
    """Split articles into pages of `per_page`; an empty list still has one page."""
    count = max(1, -(-len(articles) // per_page))
    return tuple(Page(n + 1, count, articles[n * per_page:(n + 1) * per_page], base)
                 for n in range(count))


def newest_first(articles: Iterable[Article]) -> tuple[Article, ...]:
    """Articles by date, newest first; ties by slug so the order is stable."""
    by_slug = sorted(articles, key=_SLUG)
    return tuple(sorted(by_slug, key=_DATE, reverse=True))


_SLUG, _DATE = operator.attrgetter("slug"), operator.attrgetter("date")


def _briefing_order(article: Article) -> tuple[int, float, str]:
    return (-article.priority, -article.date.timestamp(), article.slug)


def edition_day(article: Article, config: Config) -> Date:
    """The edition an article belongs to: its calendar day in the site's time zone."""
    return article.date.astimezone(config.tz).date()


def build_edition(day: Date, articles: Iterable[Article], config: Config,
                  note: EditionNote | None) -> Edition:
    """Pick the lead, then group the rest into sections in the configured topic order."""
    stories = sorted(articles, key=_briefing_order)
    leads = [a for a in stories if a.lead] or stories
    lead = leads[0]
    order = {topic.slug: index for index, topic in enumerate(config.topics)}
    groups: dict[str | None, list[Article]] = {}
    for article in stories:
        if article is not lead:
            groups.setdefault(article.topic.slug if article.topic else None, []).append(article)
    sections = [Section(config.topic(slug) if slug else None, tuple(items))
                for slug, items in sorted(groups.items(),
                                          key=lambda kv: order.get(kv[0] or "", len(order)))]
    return Edition(day, lead, tuple(sections), note)


def _listings(kind: str, groups: Mapping[str, list[Article]], names: Mapping[str, str],
              per_page: int, describe: Callable[[str], tuple[str, str]] | None = None
              ) -> tuple[Listing, ...]:
    """Listings of groups that are each already newest first."""
    listings = []
    for slug in groups:
        articles = tuple(groups[slug])
        base = f"/{kind}/{slug}/"
        description, profile = describe(slug) if describe else ("", "")
        listings.append(Listing(kind, slug, names[slug], articles,
                                paginate(articles, per_page, base), description, profile))
    return tuple(listings)


def build_site_model(articles: Iterable[Article], notes: Iterable[EditionNote], config: Config,
                     now: datetime) -> tuple[Site, list[Problem]]:
    """Group published articles into editions and listings; pure, deterministic."""
    problems: list[Problem] = []
    ordered = newest_first(articles)
    by_day: dict[Date, list[Article]] = {}
    for article in ordered:
        by_day.setdefault(edition_day(article, config), []).append(article)
    notes_by_day = {note.day: note for note in notes}
    for day, note in sorted(notes_by_day.items()):
        if day not in by_day and day <= now.astimezone(config.tz).date():
            problems.append(warning(note.path, 1, f"no published stories on {day}: "
                                    "this edition note is not shown"))
    editions = tuple(build_edition(day, by_day[day], config, notes_by_day.get(day))
                     for day in sorted(by_day, reverse=True))

    neighbours: dict[str, Neighbours] = {}
    edition_of: dict[str, Edition] = {}
    new = object.__new__
    for edition in editions:
        story_list = edition.articles
        # Each story's neighbours: (None, *stories, None) read three at a time. Neighbours(...)
        # without the frozen __init__'s object.__setattr__ per field (one per article).
        padded = (None, *story_list, None)
        for previous, article, following in zip(padded, story_list, padded[2:], strict=False):
            pair = new(Neighbours)
            pair.__dict__.update(previous=previous, next=following)
            neighbours[article.url] = pair
            edition_of[article.url] = edition

    topic_groups: dict[str, list[Article]] = {t.slug: [] for t in config.topics}
    tag_groups: dict[str, list[Article]] = {}
    tag_names: dict[str, str] = {}
    author_groups: dict[str, list[Article]] = {}
    authors: dict[str, Author] = {}
    for article in ordered:  # so every group is newest first too
        if article.topic:
            topic_groups[article.topic.slug].append(article)
        for tag in article.tags:
            group = tag_groups.get(tag.slug)
            if group is None:  # the first spelling seen names the tag
                group = tag_groups[tag.slug] = []
                tag_names[tag.slug] = tag.name
            group.append(article)
        for author in article.authors:
            group = author_groups.get(author.slug)
            if group is None:
                group = author_groups[author.slug] = []
                authors[author.slug] = author
            group.append(article)

    topics = _listings("topics", {s: g for s, g in topic_groups.items() if g},
                       {t.slug: t.name for t in config.topics}, config.per_page)
    tags = _listings("tags", dict(sorted(tag_groups.items())), tag_names, config.per_page)
    author_listing = _listings(
        "authors", dict(sorted(author_groups.items())),
        {slug: a.name for slug, a in authors.items()}, config.per_page,
        lambda slug: (authors[slug].bio, authors[slug].url))
    site = Site(config, now, ordered, editions, topics, tags, author_listing,
                MappingProxyType(neighbours), MappingProxyType(edition_of))
    return site, problems



def link_content(articles: Iterable[Article], every: Iterable[Article],
                 linking: Container[str] | None = None
                 ) -> tuple[tuple[Article, ...], list[Problem]]:
    """Turn links to other articles' Markdown files (`other.md#part`) into their page URLs.

    `every` holds all valid articles, published or not, so a link to a draft or a future story
    is reported as such rather than as a missing file. `linking`, when given, holds the paths
    of the articles whose HTML has such links (`cache.names_markdown`): the others' HTML is
    not searched.
    """
    published = tuple(articles)
    url_of = {a.path: a.url for a in published}
    known = {a.path for a in every}
    problems: list[Problem] = []
    linked = []
    for article in published:
        if linking is not None and article.path not in linking:
            linked.append(article)
            continue

        def resolve(href: str, article: Article = article) -> str | None:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.endswith((".md", ".markdown")):
                return None
            base = posixpath.dirname(article.path)
            target = posixpath.normpath(posixpath.join(base, parts.path))
            if target in url_of:
                return relative_link(url_of[target], article.url) + (
                    f"#{parts.fragment}" if parts.fragment else "")
            reason = ("is not published (a draft or dated in the future)" if target in known
                      else "does not exist")
            problems.append(warning(article.path, article.body_line,
                                    f"link to {parts.path}: {target} {reason}"))
            return None
        html = rewrite_links(article.html, resolve)
        linked.append(article if html == article.html else dataclasses.replace(article, html=html))
    return tuple(linked), problems


@functools.lru_cache(maxsize=1024)
def _folders(start: str) -> tuple[tuple[str, str], ...]:
    """The folders from the root down to `start` (`/a/b/`), each with the steps up to it from
    `start`: `(("/", "../../"), ("/a/", "../"), ("/a/b/", ""))`; () unless `start` is a plain
    site folder (no empty, `.` or `..` segments)."""
    if start[:1] != "/" or "//" in start or "/." in start:
        return ()
    cuts = [i + 1 for i, char in enumerate(start) if char == "/"]
    return tuple((start[:cut], "../" * (len(cuts) - n)) for n, cut in enumerate(cuts, 1))


def relative_link(target: str, from_url: str) -> str:
    """A link from the page at `from_url` to the site path `target`, relative to the page.

    The same as `posixpath.relpath` from the page's folder, with a trailing slash kept and
    `./` for the folder itself. It runs for every link of every page, so plain site paths
    take a shortcut: the steps up to the deepest folder above the page that holds the target,
    then the rest of the target."""
    if "://" in target or target.startswith(("#", "mailto:", "tel:")):
        return target
    start = from_url if from_url.endswith("/") else from_url.rpartition("/")[0] + "/"
    path, _, fragment = target.partition("#")
    folders = _folders(start)
    if folders and path[:1] == "/" and "//" not in path and "/." not in path:
        # Without empty, "." or ".." segments, whole segments compare as text.
        inside = path if path[-1] == "/" else path + "/"
        rel = folders[0][1] + inside[1:]
        for folder, up in folders[1:]:
            if not inside.startswith(folder):
                break
            rel = up + inside[len(folder):]
        if path[-1] != "/":
            rel = rel[:-1]
        rel = rel or "./"
    else:
        rel = posixpath.relpath(path, start)
        if path.endswith("/") and rel != ".":
            rel += "/"
        if rel == ".":
            rel = "./"
    return rel + "#" + fragment if fragment else rel
