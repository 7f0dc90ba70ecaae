"""Validated, immutable content: Article, Author, Tag, EditionNote and their parts."""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timezone
from datetime import date as Date
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from slugify import slugify

from generator.cache import ArticleCache
from generator.config import Config, Topic
from generator.errors import Problem, error, warning
from generator.markup import RenderedBody, cut_at_word
from generator.sources import JSON_DECODER, Source, UnreadSource, compact_json

SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Tag and author names repeat across a site's articles: make each one's slug once.
@functools.lru_cache(maxsize=8192)
def _slug(name: str) -> str:
    """A tag's or author's URL slug, short enough to be a file name."""
    return slugify(name, max_length=SLUG_LIMIT)
ARTICLE_FIELDS = (
    "title", "date", "updated", "standfirst", "summary", "author", "topic", "tags", "image",
    "location", "source", "translation", "lead", "priority", "corrections", "slug", "draft",
)
_ARTICLE_FIELD_SET = frozenset(ARTICLE_FIELDS)
EDITION_FIELDS = ("title", "author", "closing")
SUMMARY_LIMIT = 240
SLUG_LIMIT = 120
MIN_YEAR, MAX_YEAR = 1000, 9000


@dataclass(frozen=True)
class Author:
    """A byline: configured authors carry a bio and URL; others just a name."""

    slug: str
    name: str
    bio: str = ""
    url: str = ""


@dataclass(frozen=True)
class Tag:
    """A tag: the slug used in URLs and the first spelling seen."""

    slug: str
    name: str


@dataclass(frozen=True)
class Image:
    """The lead picture. `src` is a site path or an absolute URL; caption-only images have none."""

    src: str
    alt: str
    caption: str = ""
    credit: str = ""


@dataclass(frozen=True)
class Attribution:
    """The original publisher of a wire or syndicated story."""

    name: str
    url: str = ""


@dataclass(frozen=True)
class Correction:
    """A dated correction, shown at the article's foot; it counts as an update."""

    date: datetime
    text: str


@dataclass(frozen=True)
class Article:
    """One published story, validated. `html` and `summary` are set once the body is rendered."""

    path: str
    title: str
    date: datetime
    slug: str
    url: str
    body: str
    body_line: int = 1
    updated: datetime | None = None
    standfirst: str = ""
    summary: str = ""
    authors: tuple[Author, ...] = ()
    topic: Topic | None = None
    tags: tuple[Tag, ...] = ()
    image: Image | None = None
    location: str = ""
    source: Attribution | None = None
    translation: str = ""
    lead: bool = False
    priority: int = 0
    corrections: tuple[Correction, ...] = ()
    draft: bool = False
    html: str = ""
    words: int = 0

    @property
    def modified(self) -> datetime:
        """The latest of date, updated and every correction's date."""
        if not self.corrections:  # most stories; read for every page of every sitemap
            updated = self.updated
            return updated if updated is not None and updated > self.date else self.date
        dates = [self.date, *(c.date for c in self.corrections)]
        if self.updated:
            dates.append(self.updated)
        return max(dates)

    @property
    def reading_minutes(self) -> int:
        """Reading time at 230 words a minute, at least one minute."""
        return max(1, round(self.words / 230))

    def with_body(self, rendered: RenderedBody) -> Article:
        """This article with its rendered body and, where none was given, a derived summary;
        the Markdown is let go (pages use the HTML)."""
        summary = self.summary or self.standfirst or cut_at_word(rendered.first_paragraph,
                                                                 SUMMARY_LIMIT)
        # What dataclasses.replace does, without its walk over every field's options nor the
        # frozen __init__'s object.__setattr__ per field: this runs for every article of every
        # build. The fields are copied in their order, so the new one's __dict__ is the one
        # __init__ would make (pickles, which the page records digest, are the same).
        article = object.__new__(Article)
        article.__dict__.update(vars(self), html=rendered.html, words=rendered.words,
                                summary=summary, body="")
        return article

    @classmethod
    def from_source(cls, source: Source, config: Config) -> tuple[Article | None, list[Problem]]:
        """Validate front matter; return the Article or None, and every problem found."""
        checker = _FieldChecker(source, config)
        article = checker.article()
        return article, checker.problems


@dataclass(frozen=True)
class EditionNote:
    """An editor's note for one edition: headline, byline, intro and closing item (Markdown)."""

    path: str
    day: Date
    title: str = ""
    byline: str = ""
    intro: str = ""
    closing: str = ""
    intro_html: str = ""
    closing_html: str = ""

    @classmethod
    def from_source(cls, source: Source, config: Config) -> tuple[EditionNote | None,
                                                                  list[Problem]]:
        """Validate an edition file named YYYY-MM-DD.md."""
        problems: list[Problem] = []
        stem = PurePosixPath(source.rel).stem
        try:
            day = Date.fromisoformat(stem)
        except ValueError:
            return None, [error(source.rel, 1, "an edition file must be named YYYY-MM-DD.md")]
        meta = source.meta.data
        values: dict[str, str] = {}
        for key, value in meta.items():
            line = source.meta.line_of(key)
            if key not in EDITION_FIELDS:
                problems.append(warning(source.rel, line, f"unknown field '{key}'"
                                        f"{_did_you_mean(key, EDITION_FIELDS)}"))
            elif not isinstance(value, str):
                problems.append(error(source.rel, line, f"'{key}' must be text"))
            else:
                values[key] = value.strip()
        note = cls(source.rel, day, values.get("title", ""), values.get("author", ""),
                   source.body.strip(), values.get("closing", ""))
        return (None if any(p.is_error for p in problems) else note), problems


def _did_you_mean(key: object, choices: tuple[str, ...]) -> str:
    match = difflib.get_close_matches(str(key), choices, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def parse_datetime(value: Any, tz: ZoneInfo) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is read in `tz`. None if invalid."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, Date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None  # far dates overflow when moved between zones or given a news window
    return parsed


def title_slug(title: str) -> str:
    """The URL slug made from an article's title."""
    # slugify first decodes HTML entities (&amp; &#38; &#x26;), with three regex searches that
    # are half its time; an ASCII title without '&' has none to decode.
    decode = not title.isascii() or "&" in title
    return slugify(title, max_length=80, word_boundary=True, entities=decode, decimal=decode,
                   hexadecimal=decode)


def permalink_for(pattern: str, day: datetime, slug: str, topic: Topic | None) -> str:
    """The article's site path from the permalink pattern, in the date's local day."""
    return pattern.format(year=f"{day.year:04d}", month=f"{day.month:02d}",
                          day=f"{day.day:02d}", slug=slug, topic=topic.slug if topic else "news")


class _FieldChecker:
    """Checks each front matter field in turn, collecting every problem."""

    def __init__(self, source: Source, config: Config):
        self.source = source
        self.config = config
        self.meta: dict[str, Any] = source.meta.data
        self.problems: list[Problem] = []
        # What the article cache keeps besides the article (see `encode_checked`): each kept
        # tag's name as written, each author's name, and each local image file looked for.
        self.tag_names: list[str] = []
        self.author_names: list[str] = []
        self.images: list[tuple[str, bool]] = []

    def line(self, *path: str | int) -> int | None:
        return self.source.meta.line_of(*path, default=1)

    def fail(self, message: str, *path: str | int) -> None:
        self.problems.append(error(self.source.rel, self.line(*path), message))

    def warn(self, message: str, *path: str | int) -> None:
        self.problems.append(warning(self.source.rel, self.line(*path), message))

    def text(self, key: str, required: bool = False) -> str:
        value = self.meta.get(key)
        if value is None:
            if required:
                self.fail(f"missing required field '{key}'")
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(f"'{key}' must be text, not {_kind(value)}", key)
            return ""
        if required and not value.strip():
            self.fail(f"'{key}' must not be empty", key)
        return " ".join(value.split())

    def boolean(self, key: str) -> bool:
        value = self.meta.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"'{key}' must be true or false, not {_kind(value)}", key)
            return False
        return value

    def when(self, key: str, required: bool = False) -> datetime | None:
        value = self.meta.get(key)
        if value is None:
            if required:
                self.fail(f"missing required field '{key}'")
            return None
        parsed = parse_datetime(value, self.config.tz)
        if parsed is None:
            self.fail(f"'{key}' must be an ISO 8601 date or date-time such as 2026-11-24 or "
                      f"2026-11-24T07:30:00+04:00 (years {MIN_YEAR}-{MAX_YEAR}), "
                      f"not {_shown(value)}", key)
        return parsed

    def article(self) -> Article | None:
        for key in self.meta:
            if key not in _ARTICLE_FIELD_SET:
                self.warn(f"unknown field '{key}'{_did_you_mean(key, ARTICLE_FIELDS)}", key)
        title = self.text("title", required=True)
        published = self.when("date", required=True)
        updated = self.when("updated")
        if published and updated and updated < published:
            self.fail("'updated' is before 'date'", "updated")
        slug = self.slug(title)
        topic = self.topic()
        priority = self.meta.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.fail(f"'priority' must be a whole number, not {_kind(priority)}", "priority")
            priority = 0
        translation = self.text("translation")
        if translation and translation not in ("machine", "human"):
            self.fail(f"'translation' must be 'machine' or 'human', not {_shown(translation)}",
                      "translation")
        fields = dict(
            standfirst=self.text("standfirst"), summary=self.summary(),
            authors=self.authors(), topic=topic, tags=self.tags(), image=self.image(),
            location=self.text("location"), source=self.attribution(),
            translation=translation, lead=self.boolean("lead"), priority=priority,
            corrections=self.corrections(published), draft=self.boolean("draft"),
        )
        if (self.problems and any(p.is_error for p in self.problems)) or published is None \
                or not slug:
            return None
        local = published.astimezone(self.config.tz)
        url = permalink_for(self.config.permalink, local, slug, topic)
        # Article(...) without the frozen __init__'s object.__setattr__ per field (every article
        # of every build): every field, in the order __init__ sets them (tested).
        article = object.__new__(Article)
        article.__dict__.update(path=self.source.rel, title=title, date=published, slug=slug,
                                url=url, body=self.source.body, body_line=self.source.body_line,
                                updated=updated, **fields, html="", words=0)
        return article

    def summary(self) -> str:
        summary = self.text("summary")
        if len(summary) > SUMMARY_LIMIT:
            self.warn(f"'summary' is {len(summary)} characters; search results and feeds show "
                      f"about {SUMMARY_LIMIT}, so shorten it", "summary")
        return summary

    def slug(self, title: str) -> str:
        value = self.meta.get("slug")
        if value is None:
            memo = self.source.title_slug  # from the source cache, for this very title only
            slug = (memo[1] if memo is not None and memo[0] == title
                    else title_slug(title) if title else "")
            if title and not slug:
                self.fail("cannot make a URL slug from this title; add a 'slug:' field", "title")
            return slug
        if isinstance(value, str) and SLUG_RE.fullmatch(value) and len(value) > SLUG_LIMIT:
            self.fail(f"'slug' is {len(value)} characters long; use at most {SLUG_LIMIT}", "slug")
            return ""
        if not isinstance(value, str) or not SLUG_RE.fullmatch(value):
            self.fail("'slug' may use only a-z, 0-9 and single '-' between them, "
                      f"not {_shown(value)}", "slug")
            return ""
        return value

    def topic(self) -> Topic | None:
        value = self.meta.get("topic")
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"'topic' must be text, not {_kind(value)}", "topic")
            return None
        topic = self.config.topic(value)
        if topic is None:
            names = tuple(t.slug for t in self.config.topics)
            known = ", ".join(names) or "none are configured in config.yaml"
            self.fail(f"unknown topic '{value}'{_did_you_mean(value, names)}; topics: {known}",
                      "topic")
        return topic

    def authors(self) -> tuple[Author, ...]:
        value = self.meta.get("author")
        if value is None:
            return ()
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list):
            self.fail("'author' must be a name or a list of names", "author")
            return ()
        authors = []
        for index, name in enumerate(names):
            if not isinstance(name, str) or not name.strip():
                self.fail("each author must be a name", "author", index)
                continue
            self.author_names.append(" ".join(name.split()))
            authors.append(_author(self.config, self.author_names[-1]))
        return tuple(authors)

    def tags(self) -> tuple[Tag, ...]:
        value = self.meta.get("tags")
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail("'tags' must be a list of names", "tags")
            return ()
        tags: dict[str, Tag] = {}
        for index, name in enumerate(value):
            if isinstance(name, (int, float)) and not isinstance(name, bool):
                name = str(name)
            tag = _tag(name) if isinstance(name, str) else None
            if tag is None:
                self.fail(f"tag {_shown(name)} must be a word or phrase", "tags", index)
                continue
            if tag.slug not in tags:
                tags[tag.slug] = tag
                self.tag_names.append(name)
        return tuple(tags.values())

    def image(self) -> Image | None:
        value = self.meta.get("image")
        if value is None:
            return None
        if isinstance(value, str):
            value = {"src": value}
        if not isinstance(value, dict):
            self.fail("'image' must be a mapping with src, alt, caption and credit", "image")
            return None
        for key in value:
            if key not in ("src", "alt", "caption", "credit"):
                self.warn(f"unknown image field '{key}'"
                          f"{_did_you_mean(key, ('src', 'alt', 'caption', 'credit'))}",
                          "image", key)
        parts = {}
        for key in ("src", "alt", "caption", "credit"):
            item = value.get(key) or ""
            if not isinstance(item, str):
                self.fail(f"'image.{key}' must be text", "image", key)
                item = ""
            parts[key] = " ".join(item.split())
        src = parts["src"]
        if src:
            src = self.image_src(src)
            if not parts["alt"]:
                self.warn("'image.alt' is missing: describe the picture for readers who "
                          "cannot see it", "image", "src")
        elif not parts["caption"]:
            self.fail("'image' needs a 'src' (with 'alt') or a 'caption'", "image")
        return Image(src, parts["alt"], parts["caption"], parts["credit"])

    def image_src(self, src: str) -> str:
        parts = urlsplit(src)
        if parts.scheme or parts.netloc:
            if parts.scheme not in ("http", "https"):
                self.fail(f"'image.src' must be a path or an http(s) URL, not {_shown(src)}",
                          "image", "src")
                return ""
            return src
        path = PurePosixPath(parts.path)
        if not path.is_absolute():
            path = PurePosixPath("/", path)
        if ".." in path.parts:
            self.fail(f"'image.src' must not leave the site with '..': {_shown(src)}",
                      "image", "src")
            return ""
        exists = _image_file(self.config, str(path)).is_file()
        self.images.append((str(path), exists))
        if not exists:
            self.warn(f"image file content{path} does not exist", "image", "src")
        return str(path)

    def attribution(self) -> Attribution | None:
        value = self.meta.get("source")
        if value is None:
            return None
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.fail("'source' must be a mapping with 'name' and optional 'url'", "source")
            return None
        url = value.get("url") or ""
        if url and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")):
            self.fail("'source.url' must be an absolute http(s) URL", "source", "url")
            url = ""
        return Attribution(" ".join(value["name"].split()), url)

    def corrections(self, published: datetime | None) -> tuple[Correction, ...]:
        value = self.meta.get("corrections")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("'corrections' must be a list of {date, text}", "corrections")
            return ()
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                self.fail("each correction needs 'date' and 'text'", "corrections", index)
                continue
            when = parse_datetime(item.get("date"), self.config.tz)
            if when is None:
                self.fail("a correction's 'date' must be an ISO 8601 date or date-time",
                          "corrections", index)
                continue
            if published and when < published:
                self.fail("a correction is dated before the article", "corrections", index)
            result.append(Correction(when, " ".join(item["text"].split())))
        return tuple(sorted(result, key=lambda c: c.date))


def _author(config: Config, name: str) -> Author:
    """The author of that name: its configured profile, else a byline."""
    folded = name.casefold()
    for profile in config.authors.values():
        if folded in (profile.slug, profile.name.casefold()):
            return Author(profile.slug, profile.name, profile.bio, profile.url)
    return _byline(name)


def _image_file(config: Config, site_path: str) -> Path:
    """Where a local image (`/images/a.jpg`) is looked for."""
    return config.root / "content" / PurePosixPath(site_path).relative_to("/")


# Tags and bylines repeat across a site's articles: each name's value is made once a build.
@functools.lru_cache(maxsize=8192)
def _tag(name: str) -> Tag | None:
    """The tag for a name as written; None when the name makes no slug."""
    slug = _slug(name)
    return Tag(slug, " ".join(name.split())) if slug else None


@functools.lru_cache(maxsize=8192)
def _byline(name: str) -> Author:
    """An author without a configured profile."""
    return Author(_slug(name) or "author", name)


def _shown(value: Any) -> str:
    """A short repr for messages: a huge or deeply nested value stays one readable line."""
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list",
            dict: "a mapping", type(None): "empty"}.get(type(value), type(value).__name__)


# --- The article cache -----------------------------------------------------------------------
# What the check makes of a file depends only on its path, its bytes (through their parse),
# the config, the code and the packages it uses, the time zone's rules and whether the local
# images it names exist: so a rebuild takes an unchanged file's checked article (before its
# body is rendered) and problems from `<site>/.cache/articles.sqlite3`, keyed by the path, the
# bytes' digest and `check_context` of all the rest; the images are looked for again. As with
# the source cache, an entry is plain text, checked when it is read, and one that is not well
# formed is a miss; a value the entry cannot give back exactly is not kept.
# An entry is its rarely used parts (problems, images looked for, image, source, corrections)
# as JSON, then the article's plain fields as text, each after a FIELD_SEP (lists of names
# joined by LIST_SEP): splitting text is a fraction of the cost of decoding JSON, which a big
# site paid for every article of every build. An article with a separator in any of its text
# (only possible through a YAML escape) is not kept.

CHECK_ENTRY_FORMAT = "briefing-article-entry/2"
FIELD_SEP, LIST_SEP = "\x1f", "\x1e"
# The JSON part of an entry without problems, images, source or corrections: most articles.
_PLAIN_HEAD = '[[],[],null,null,[]]'
_FLAGS = {"0": False, "1": True}
# What the check's slugs depend on besides python-slugify (whose version the parse digest holds).
_SLUG_PACKAGES = ("slugify", "unidecode", "text_unidecode")


def check_context(config: Config) -> bytes:
    """A digest of everything but a file's path and bytes that decides what the article check
    makes of it: the parse's digest, this module's, the config's and the errors' code, the
    whole config, the time zone's rules file and the slug packages' folders (random, so that
    nothing is reused, when the code cannot be read)."""
    from generator import config as config_module
    from generator import errors
    from generator.shortcut import installed_package, zone_source
    from generator.sources import parse_digest
    parts = [CHECK_ENTRY_FORMAT, (parse_digest() or b"").hex(), repr(config),
             zone_source(config.timezone), *(installed_package(m) for m in _SLUG_PACKAGES)]
    try:
        for module in (__file__, config_module.__file__, errors.__file__):
            parts.append(hashlib.sha256(Path(module).read_bytes()).hexdigest())
    except OSError:
        parts.append(os.urandom(16).hex())
    return hashlib.sha256("\n".join(parts).encode()).digest()


def check_key(context: bytes, rel: str, digest: bytes) -> str:
    """The article cache's key of the file at `rel` whose bytes have the SHA-256 `digest`."""
    return hashlib.sha256(context + digest + rel.encode()).hexdigest()


def check_article(source: Source, config: Config
                  ) -> tuple[Article | None, list[Problem], str | None]:
    """`Article.from_source`, and the result as an article cache entry (None when it cannot
    be kept exactly)."""
    checker = _FieldChecker(source, config)
    article = checker.article()
    return article, checker.problems, encode_checked(article, checker, config.tz)


def _encode_when(value: datetime | None, tz: ZoneInfo) -> str | None:
    """A checked date as text `_decode_when` gives back exactly; '' for None, None when it
    cannot: 'z' and the local time for one read in the site's zone, 'o' and ISO 8601 with the
    offset for one with a fixed offset (as `parse_datetime` makes them)."""
    if value is None:
        return ""
    zone = value.tzinfo
    if value.fold:
        return None
    if zone is tz:
        return "z" + value.replace(tzinfo=None).isoformat()
    if zone is UTC:  # most fixed offsets: +00:00 and Z
        return "o" + value.isoformat()
    if type(zone) is timezone and zone == timezone(zone.utcoffset(None)) and zone.tzname(
            None) == timezone(zone.utcoffset(None)).tzname(None):
        return "o" + value.isoformat()
    return None


def _decode_when(text: str, tz: ZoneInfo) -> datetime | None:
    """A date `_encode_when` wrote (None for ''); ValueError when the text is not one."""
    if type(text) is not str:
        raise ValueError("not a date")
    if not text:
        return None
    value = datetime.fromisoformat(text[1:])
    if text[0] == "z" and value.tzinfo is None:
        return value.replace(tzinfo=tz)
    if text[0] == "o" and type(value.tzinfo) is timezone:
        return value
    raise ValueError("not a date")


def encode_checked(article: Article | None, checker: _FieldChecker, tz: ZoneInfo) -> str | None:
    """A checked article and its problems as an article cache entry, or None."""
    rel = checker.source.rel
    if checker.problems and any(p.path != rel for p in checker.problems):
        return None
    listed = [[p.line, p.message, p.level] for p in checker.problems]
    if article is None:
        try:
            return compact_json([listed, checker.images, None, None, []])
        except (ValueError, TypeError, RecursionError):
            return None
    dates = [_encode_when(article.date, tz), _encode_when(article.updated, tz),
             *(_encode_when(c.date, tz) for c in article.corrections)]
    if None in dates or not article.date:
        return None
    image, source, topic = article.image, article.source, article.topic
    names = [*checker.author_names, *checker.tag_names]
    if not all(type(name) is str and name for name in names) or (topic and not topic.slug):
        return None
    fields = [
        article.title, dates[0], article.slug, article.url, str(article.body_line), dates[1],
        article.standfirst, article.summary, LIST_SEP.join(checker.author_names),
        topic.slug if topic else "", LIST_SEP.join(checker.tag_names), article.location,
        article.translation, str(int(article.lead)), str(article.priority),
        str(int(article.draft)),
    ]
    if (any(FIELD_SEP in field for field in fields)
            or any(LIST_SEP in name for name in names)):
        return None
    if not listed and not checker.images and image is None and source is None \
            and not article.corrections:
        return FIELD_SEP.join([_PLAIN_HEAD, *fields])  # most articles: no JSON to make
    try:
        head = compact_json([listed, checker.images,
                         [image.src, image.alt, image.caption, image.credit] if image else None,
                         [source.name, source.url] if source else None,
                         [[d, c.text] for d, c in zip(dates[2:], article.corrections,
                                                      strict=True)]])
    except (ValueError, TypeError, RecursionError):
        return None
    return FIELD_SEP.join([head, *fields])


def decode_checked(value: str, source: Source | UnreadSource, config: Config,
                   topics: Mapping[str, Topic] | None = None
                   ) -> tuple[Article | None, list[Problem]] | None:
    """An article cache entry as (article, problems), or None when it is not well formed or
    an image it names has come or gone. The article's Markdown is the source's (empty for an
    `UnreadSource`: ask the source). `topics`: the config's by slug, when already made."""
    rel, tz = source.rel, config.tz
    if topics is None:
        topics = topics_by_slug(config)
    try:
        parts = value.split(FIELD_SEP)
        head = parts[0]
        if head == _PLAIN_HEAD:
            problems: list[Problem] = []
            image = attribution = None
            corrections: list = []
        else:
            entry, end = JSON_DECODER.raw_decode(head)
            if end != len(head):
                return None
            listed, images, image, attribution, corrections = entry
            if (type(listed) is not list or type(images) is not list
                    or type(corrections) is not list
                    or (image is not None and (type(image) is not list or len(image) != 4))
                    or (attribution is not None and type(attribution) is not list)):
                return None
            problems = [_cached_problem(rel, item) for item in listed]
            for path, existed in images:
                if type(existed) is not bool or _image_file(config, path).is_file() is not existed:
                    return None
        if len(parts) == 1:  # an article without an article always had an error
            if image is not None or attribution is not None or corrections:
                return None
            return (None, problems) if any(p.is_error for p in problems) else None
        (_, title, date, slug, url, body_line, updated, standfirst, summary, authors, topic,
         tags, location, translation, lead, priority, draft) = parts
        if problems and any(p.is_error for p in problems):
            return None
        published = _decode_when(date, tz)
        if published is None:
            return None
        found_topic = None
        if topic:
            found_topic = topics.get(topic)
            if found_topic is None:
                return None
        names = authors.split(LIST_SEP) if authors else ()
        bylines = (tuple(map(_byline, names)) if not config.authors
                   else tuple(_author(config, name) for name in names))
        kept = tuple(map(_tag, tags.split(LIST_SEP))) if tags else ()
        if not all(kept):  # a name without a slug is None
            return None
        if image is not None:
            image = Image(*map(_text, image))
        if attribution is not None:
            name, link = attribution
            attribution = Attribution(_text(name), _text(link))
        corrected = tuple(Correction(_checked(_decode_when(when, tz)), _text(text))
                          for when, text in corrections) if corrections else ()
        article = object.__new__(Article)
        article.__dict__.update(
            path=rel, title=title, date=published, slug=slug, url=url,
            body=source.body if isinstance(source, Source) else "",
            body_line=_number(body_line),
            updated=_decode_when(updated, tz) if updated else None,
            standfirst=standfirst, summary=summary, authors=bylines, topic=found_topic,
            tags=kept, image=image, location=location, source=attribution,
            translation=translation, lead=_FLAGS[lead],
            priority=0 if priority == "0" else _number(priority),
            corrections=corrected, draft=_FLAGS[draft], html="", words=0)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
        return None
    return article, problems


def _number(text: str) -> int:
    """A whole number as `str` wrote it; ValueError for any other text."""
    number = int(text)
    if str(number) != text:
        raise ValueError("not a number as written")
    return number


def topics_by_slug(config: Config) -> dict[str, Topic]:
    """The configured topics by slug (the first of a slug)."""
    topics: dict[str, Topic] = {}
    for topic in config.topics:
        topics.setdefault(topic.slug, topic)
    return topics


def _text(item: object) -> str:
    if type(item) is not str:
        raise ValueError("not text")
    return item


def _checked(when: datetime | None) -> datetime:
    if when is None:
        raise ValueError("not a date")
    return when


def _cached_problem(rel: str, item: object) -> Problem:
    """A cached problem of the file at `rel`; ValueError when it is not one."""
    line, message, level = item  # type: ignore[misc]
    if ((line is not None and type(line) is not int) or type(message) is not str
            or level not in ("error", "warning")):
        raise ValueError("not a problem")
    return Problem(rel, line, message, level)


class ArticleChecks:
    """The article check with the site's article cache: each file's checked article from the
    cache when its path, bytes and `check_context` were checked before, else checked now (and
    kept). An `UnreadSource` is read only when its entry cannot be used."""

    def __init__(self, cache: ArticleCache, config: Config):
        self.cache = cache
        self.config = config
        self.topics = topics_by_slug(config)
        self.context = check_context(config)
        # The key and entry `known` found for a file, for `check`: one key and one look-up.
        self._found: dict[tuple[str, bytes], tuple[str, str | None]] = {}

    def known(self, rel: str, digest: bytes) -> bool:
        """True when the cache holds an entry for the file at `rel` with these bytes (for
        `read_content`: such a file need not be read)."""
        key = check_key(self.context, rel, digest)
        value = self.cache.get(key)
        self._found[rel, digest] = key, value
        return value is not None

    def check(self, source: Source | UnreadSource, keep: bool = True
              ) -> tuple[Article | None, list[Problem]]:
        """The checked article and its problems; `keep` False when the file's parse had
        problems of its own (such a file is always read, so that they are reported)."""
        key = value = None
        if source.digest:
            found = self._found.pop((source.rel, source.digest), None)
            if found is not None:
                key, value = found
            else:
                key = check_key(self.context, source.rel, source.digest)
                value = self.cache.get(key)
        if value is not None:
            cached = decode_checked(value, source, self.config, self.topics)
            if cached is not None:
                return cached
        read: list[Problem] = []
        if isinstance(source, UnreadSource):
            loaded, read = source.load()
            if loaded is None:
                return None, read
            keep = keep and not read
            source = loaded
        article, problems, entry = check_article(source, self.config)
        if keep and key is not None and entry is not None:
            self.cache.put(key, entry)
        return article, read + problems
