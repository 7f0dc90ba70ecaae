"""Load and validate config.yaml into a frozen Config, reporting every problem with its line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from slugify import slugify

from generator.errors import Problem, error, raise_if_errors
from generator.sources import YamlDocument, load_yaml, read_text

DEFAULT_EXTENSIONS = ("tables", "footnotes", "attr_list", "toc", "fenced_code", "sane_lists")
DEFAULT_PERMALINK = "/{year}/{month}/{day}/{slug}/"
PERMALINK_FIELDS = ("year", "month", "day", "slug", "topic")
IMPORT_KEYS = ("credit_words", "notice_patterns", "drop_patterns")


@dataclass(frozen=True)
class Topic:
    """A briefing section: slug for URLs, name for readers."""

    slug: str
    name: str


@dataclass(frozen=True)
class AuthorProfile:
    """A configured author: display name, short bio, optional home page."""

    slug: str
    name: str
    bio: str = ""
    url: str = ""


@dataclass(frozen=True)
class Config:
    """Validated site settings. Each field is documented in README.md under "config.yaml"."""

    root: Path
    title: str
    base_url: str
    description: str = ""
    language: str = "en"
    text_direction: str = "ltr"
    timezone: str = "UTC"
    topics: tuple[Topic, ...] = ()
    per_page: int = 10
    authors: Mapping[str, AuthorProfile] = field(default_factory=lambda: MappingProxyType({}))
    markdown_extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    markdown_extension_configs: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )
    unsafe_html: bool = False
    permalink: str = DEFAULT_PERMALINK
    home_editions: int = 7
    feed_count: int = 50
    feed_full_content: bool = True
    publisher_name: str = ""
    publisher_logo: str = ""
    share_image: str = ""
    import_settings: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({key: () for key in IMPORT_KEYS})
    )
    path: str = "config.yaml"

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    def topic(self, key: str) -> Topic | None:
        """The configured topic with this slug or name (case-insensitive), if any."""
        folded = key.strip().casefold()
        for topic in self.topics:
            if folded in (topic.slug, topic.name.casefold()):
                return topic
        return None

    @property
    def publisher(self) -> str:
        """The news organisation's name: `publisher.name`, else the site title."""
        return self.publisher_name or self.title

    def absolute_url(self, path: str) -> str:
        """The absolute URL of a site path such as `/2026/11/24/story/`."""
        return self.base_url + path.lstrip("/")


# The schema: key -> (checker, docstring). A checker takes (value, line, doc) and returns
# (converted value, problems). Keys not listed are reported with a did-you-mean.
Checker = Callable[[Any, "_Ctx"], Any]


@dataclass
class _Ctx:
    rel: str
    doc: YamlDocument
    key: str
    problems: list[Problem]

    def line(self, *path: str | int) -> int | None:
        return self.doc.line_of(self.key, *path)

    def fail(self, message: str, *path: str | int) -> None:
        self.problems.append(error(self.rel, self.line(*path), message))


def _string(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not value.strip():
        ctx.fail(f"'{ctx.key}' must be a non-empty text")
        return None
    return value.strip()


def _text(value: Any, ctx: _Ctx) -> Any:
    if value is None:
        return ""
    if not isinstance(value, str):
        ctx.fail(f"'{ctx.key}' must be text")
        return None
    return value.strip()


def _bool(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, bool):
        ctx.fail(f"'{ctx.key}' must be true or false")
        return None
    return value


def _positive_int(value: Any, ctx: _Ctx) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        ctx.fail(f"'{ctx.key}' must be a whole number of at least 1")
        return None
    return value


def _base_url(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, str):
        ctx.fail("'base_url' must be an absolute URL such as https://example.org/")
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        ctx.fail(f"'base_url' must be an absolute http(s) URL, not {value!r}")
        return None
    if parts.query or parts.fragment:
        ctx.fail("'base_url' must not have a query or fragment")
        return None
    return value.strip().rstrip("/") + "/"


def _language(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
        ctx.fail(f"'language' must be a BCP 47 tag such as en or en-GB, not {value!r}")
        return None
    try:
        Locale.parse(value, sep="-")
    except (UnknownLocaleError, ValueError):
        ctx.fail(f"'language' {value!r} is not a language this build knows")
        return None
    return value


def _timezone(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, str):
        ctx.fail("'timezone' must be an IANA zone name such as Europe/London")
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.fail(f"'timezone' {value!r} is not an IANA time zone (e.g. Europe/London, Asia/Dubai)")
        return None
    return value


def _topics(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, list):
        ctx.fail("'topics' must be a list of `- slug: …` / `name: …` entries")
        return None
    topics: list[Topic] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            ctx.fail("each topic must be a mapping with 'slug' and 'name'", index)
            continue
        for key in item:
            if key not in ("slug", "name"):
                ctx.fail(f"unknown topic key '{key}'{_suggest(key, ('slug', 'name'))}", index, key)
        name = item.get("name")
        slug = item.get("slug") or (slugify(name) if isinstance(name, str) else None)
        if not isinstance(name, str) or not name.strip():
            ctx.fail("a topic needs a 'name'", index)
            continue
        if not isinstance(slug, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):
            ctx.fail(f"topic slug {slug!r} must use only a-z, 0-9 and '-'", index, "slug")
            continue
        if slug in seen:
            ctx.fail(f"topic slug '{slug}' is listed twice", index, "slug")
            continue
        seen.add(slug)
        topics.append(Topic(slug, name.strip()))
    return tuple(topics)


def _authors(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.fail("'authors' must map an author slug to `name:`, `bio:` and `url:`")
        return None
    authors: dict[str, AuthorProfile] = {}
    for slug, item in value.items():
        if not isinstance(slug, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):
            ctx.fail(f"author slug {slug!r} must use only a-z, 0-9 and '-'", str(slug))
            continue
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            ctx.fail(f"author '{slug}' needs a 'name'", slug)
            continue
        for key in item:
            if key not in ("name", "bio", "url"):
                ctx.fail(f"unknown author key '{key}'{_suggest(key, ('name', 'bio', 'url'))}",
                         slug, key)
        url = item.get("url") or ""
        if url and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")):
            ctx.fail(f"author '{slug}' url must be an absolute http(s) URL", slug, "url")
            url = ""
        bio = item.get("bio") or ""
        authors[slug] = AuthorProfile(slug, item["name"].strip(), str(bio).strip(), url)
    return MappingProxyType(authors)


def _markdown(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.fail("'markdown' must be a mapping with 'extensions' (and 'extension_configs')")
        return None
    result: dict[str, Any] = {}
    for key in value:
        if key not in ("extensions", "extension_configs"):
            ctx.fail(f"unknown markdown key '{key}'"
                     f"{_suggest(key, ('extensions', 'extension_configs'))}", key)
    extensions = value.get("extensions", list(DEFAULT_EXTENSIONS))
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        ctx.fail("'markdown.extensions' must be a list of extension names", "extensions")
    else:
        from generator.markup import check_extensions

        for message in check_extensions(extensions):
            ctx.fail(message, "extensions")
        result["extensions"] = tuple(extensions)
    configs = value.get("extension_configs", {})
    if not isinstance(configs, dict):
        ctx.fail("'markdown.extension_configs' must map extension names to settings",
                 "extension_configs")
    else:
        result["extension_configs"] = MappingProxyType(dict(configs))
    return result


def _permalink(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, str) or not value.startswith("/") or not value.endswith("/"):
        ctx.fail("'permalink' must start and end with '/', e.g. /{year}/{month}/{day}/{slug}/")
        return None
    names = re.findall(r"{(\w+)}", value)
    unknown = [n for n in names if n not in PERMALINK_FIELDS]
    if unknown or "slug" not in names:
        ctx.fail(f"'permalink' may use {', '.join('{' + f + '}' for f in PERMALINK_FIELDS)} "
                 "and must contain {slug}")
        return None
    return value


def _feeds(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.fail("'feeds' must be a mapping with 'count' and 'full_content'")
        return None
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key == "count":
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                ctx.fail("'feeds.count' must be a whole number of at least 1", key)
            else:
                result["feed_count"] = item
        elif key == "full_content":
            if not isinstance(item, bool):
                ctx.fail("'feeds.full_content' must be true or false", key)
            else:
                result["feed_full_content"] = item
        else:
            ctx.fail(f"unknown feeds key '{key}'{_suggest(key, ('count', 'full_content'))}", key)
    return result


def _image_url(value: Any, ctx: _Ctx, *path: str | int) -> str | None:
    """A picture given as a site path (`/images/logo.png`) or an absolute http(s) URL."""
    name = ".".join([ctx.key, *map(str, path)])
    if not isinstance(value, str) or not value.strip():
        ctx.fail(f"'{name}' must be a site path such as /images/logo.png or an http(s) URL",
                 *path)
        return None
    parts = urlsplit(value.strip())
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or not parts.netloc:
            ctx.fail(f"'{name}' must be a site path or an http(s) URL, not {value!r}", *path)
            return None
        return value.strip()
    site_path = "/" + value.strip().lstrip("/")
    if ".." in site_path.split("/"):
        ctx.fail(f"'{name}' must not leave the site with '..': {value!r}", *path)
        return None
    return site_path


def _publisher(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.fail("'publisher' must be a mapping with 'name' and optional 'logo'")
        return None
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key == "name":
            if not isinstance(item, str) or not item.strip():
                ctx.fail("'publisher.name' must be a non-empty text", key)
            else:
                result["publisher_name"] = " ".join(item.split())
        elif key == "logo":
            logo = _image_url(item, ctx, key)
            if logo is not None:
                result["publisher_logo"] = logo
        else:
            ctx.fail(f"unknown publisher key '{key}'{_suggest(key, ('name', 'logo'))}", key)
    return result


def _share_image(value: Any, ctx: _Ctx) -> Any:
    return _image_url(value, ctx)


def _import(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.fail(f"'import' must be a mapping with {', '.join(IMPORT_KEYS)}")
        return None
    result = {key: () for key in IMPORT_KEYS}
    for key, items in value.items():
        if key not in IMPORT_KEYS:
            ctx.fail(f"unknown import key '{key}'{_suggest(key, IMPORT_KEYS)}", key)
            continue
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            ctx.fail(f"'import.{key}' must be a list of texts", key)
            continue
        if key.endswith("_patterns"):
            for index, pattern in enumerate(items):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    ctx.fail(f"'import.{key}' pattern {pattern!r} is not a valid regular "
                             f"expression: {exc}", key, index)
        result[key] = tuple(items)
    return MappingProxyType(result)


SCHEMA: dict[str, tuple[Checker, str]] = {
    "title": (_string, "The site's name, in the header and every page title."),
    "description": (_text, "One sentence about the site, for the home page and feeds."),
    "base_url": (_base_url, "Absolute URL the site is served from; for canonical URLs and feeds."),
    "language": (_language, "BCP 47 tag (en, en-GB, ar-AE): <html lang>, dir and date formats."),
    "timezone": (_timezone, "IANA zone: editions are calendar days here; naive dates read here."),
    "topics": (_topics, "Ordered list of {slug, name}: the briefing's sections, in order."),
    "per_page": (_positive_int, "Articles per page on topic, tag and author pages."),
    "authors": (_authors, "Map of author slug to {name, bio, url}."),
    "markdown": (_markdown, "{extensions: [...], extension_configs: {...}} for Python-Markdown."),
    "unsafe_html": (_bool, "true keeps raw HTML in articles unsanitised (trusted newsrooms)."),
    "permalink": (_permalink, "Article URL pattern; {year} {month} {day} {slug} {topic}."),
    "home_editions": (_positive_int, "How many earlier editions the home page links to."),
    "feeds": (_feeds, "{count: 50, full_content: true}: feed length and body."),
    "publisher": (_publisher, "{name, logo}: the news organisation in structured data and the "
                  "news sitemap; name defaults to the title."),
    "share_image": (_share_image, "Picture for og:image/twitter:image on pages without their "
                    "own (site path or URL)."),
    "import": (_import, "Extra rules for `briefing import`: credit_words, notice/drop patterns."),
}
REQUIRED = ("title", "base_url")


def _suggest(key: object, choices: tuple[str, ...] | list[str]) -> str:
    match = difflib.get_close_matches(str(key), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def parse_config(data: Any, doc: YamlDocument, root: Path, rel: str) -> Config:
    """Validate a loaded config mapping; raise BuildError with every problem found."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise_if_errors([error(rel, 1, "config must be a mapping of `key: value` lines")])
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in SCHEMA:
            problems.append(error(rel, doc.line_of(key), f"unknown key '{key}'"
                                  f"{_suggest(key, list(SCHEMA))}"))
            continue
        checker, _ = SCHEMA[key]
        ctx = _Ctx(rel, doc, key, problems)
        checked = checker(value, ctx)
        if checked is None:
            continue
        if key == "markdown":
            if "extensions" in checked:
                values["markdown_extensions"] = checked["extensions"]
            if "extension_configs" in checked:
                values["markdown_extension_configs"] = checked["extension_configs"]
        elif key in ("feeds", "publisher"):
            values.update(checked)
        elif key == "import":
            values["import_settings"] = checked
        else:
            values[key] = checked
    for key in REQUIRED:
        if key not in data:
            problems.append(error(rel, 1, f"missing required key '{key}'"))
    raise_if_errors(problems)
    language = values.get("language", "en")
    values["text_direction"] = _direction(language)
    return Config(root=root, path=rel, **values)


def _direction(language: str) -> str:
    locale = Locale.parse(language, sep="-")
    return "rtl" if locale.character_order == "right-to-left" else "ltr"


def load_config(site_dir: Path) -> Config:
    """Read `<site>/config.yaml`; raise BuildError listing every problem in it."""
    path = site_dir / "config.yaml"
    rel = "config.yaml"
    if not path.is_file():
        raise_if_errors([error(rel, None, f"no config.yaml in {site_dir} "
                               "(run `briefing init DIR` to start a site)")])
    text, _, problems = read_text(path, rel)
    raise_if_errors(problems)
    assert text is not None
    doc, problems = load_yaml(text, rel)
    raise_if_errors(problems)
    assert doc is not None
    return parse_config(doc.data if doc.data is not None else {}, doc, site_dir.resolve(), rel)

