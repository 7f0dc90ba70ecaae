"""render.py: URLs, output paths, filters, theme overrides and layout errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from markupsafe import escape

from generator.config import Config
from generator.errors import BuildError
from generator.models import Article, Author, Correction, Tag
from generator.render import (
    PageInfo,
    make_environment,
    output_path,
    sitemap_entries,
    static_files,
)
from generator.site import build_site_model
from generator.theme import default_theme_dir
from tests.conftest import article, build_site, make_site, parse_html

THEME_TEMPLATES = ("base.html", "home.html", "edition.html", "editions.html", "article.html",
                   "list.html", "404.html")


def config_for(tmp_path: Path, language: str = "en", timezone: str = "Asia/Dubai") -> Config:
    return Config(root=tmp_path, title="T", base_url="https://e.org/news/", language=language,
                  timezone=timezone)


@pytest.mark.parametrize(("url", "path"), [
    ("/", "index.html"), ("/a/b/", "a/b/index.html"), ("/404.html", "404.html"),
    ("/feed.xml", "feed.xml"), ("/tags/x/page/2/", "tags/x/page/2/index.html"),
])
def test_output_path(url: str, path: str) -> None:
    assert output_path(url) == path


def test_default_theme_has_every_template() -> None:
    theme = default_theme_dir()
    for name in THEME_TEMPLATES:
        assert (theme / name).is_file(), name
    assert (theme / "static" / "style.css").is_file()


def test_filters_in_site_zone_and_language(tmp_path: Path) -> None:
    env = make_environment(config_for(tmp_path))
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    render = lambda text, **kw: env.from_string(text).render(**kw)  # noqa: E731
    assert render("{{ d | date }}", d=late) == "November 25, 2026"
    assert render("{{ d | date('short') }}", d=late) == "11/25/26"
    assert render("{{ d | isoformat }}", d=late) == "2026-11-25T03:30:00+04:00"
    assert render("{{ d | isoformat }}", d=date(2026, 11, 25)) == "2026-11-25"
    assert render("{{ d | time }}", d=late).replace("\u202f", " ") == "3:30 AM"
    assert "2026" in render("{{ d | datetime }}", d=late)
    assert render("{{ d | month }}", d=date(2026, 11, 1)) == "November 2026"
    assert render("{{ 4 | reading_time }}") == "4 min read"
    assert render("{{ '/a/' | absolute_url }}") == "https://e.org/news/a/"
    assert render("{{ config.title }}") == "T"


def test_filters_follow_the_language(tmp_path: Path) -> None:
    env = make_environment(config_for(tmp_path, language="fr", timezone="UTC"))
    result = env.from_string("{{ d | date }} {{ m | month }}").render(
        d=datetime(2026, 11, 24, 8, tzinfo=UTC), m=date(2026, 2, 1))
    assert result == "24 novembre 2026 février 2026"


@pytest.mark.parametrize(("language", "timezone"), [
    ("en", "America/New_York"), ("fr", "Europe/Paris"), ("zh-Hant", "Asia/Taipei"),
    ("ar", "Asia/Dubai"), ("en-AU", "Australia/Lord_Howe"), ("de", "UTC")])
def test_cached_date_and_time_filters_equal_babel(tmp_path: Path, language: str,
                                                   timezone: str) -> None:
    # The filters cache what a pattern shows (the day; the time of day; the zone on a day), so
    # many moments share a time of day, and some fall next to daylight-saving changes.
    import random
    from zoneinfo import ZoneInfo

    from babel import Locale
    from babel.dates import format_date, format_time

    config = config_for(tmp_path, language=language, timezone=timezone)
    env = make_environment(config)
    locale, tz = Locale.parse(language, sep="-"), ZoneInfo(timezone)
    rng = random.Random(language)
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        days=rng.randrange(365), hours=rng.randrange(24), minutes=rng.choice((0, 30, 45)))
        for _ in range(150)]
    moments += [datetime(2026, month, day, hour, minute, tzinfo=UTC)
                for month, day in ((3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1))
                for hour in range(24) for minute in (0, 30)]
    time_styles = ("short", "medium", "long", "full", "z", "zzzz", "HH:mm", "h:mm a z", "v",
                   "B h:mm", "xxx", "H:mm:ss.SSS")
    date_styles = ("short", "medium", "long", "full", "EEEE d MMMM y")
    template = env.from_string(
        "{% for m in moments %}{% for s in times %}{{ m | time(s) }}|{% endfor %}"
        "{% for s in dates %}{{ m | date(s) }}|{% endfor %}{{ m | isoformat }}\n{% endfor %}")
    rendered = template.render(moments=moments, times=time_styles, dates=date_styles)
    expected = "".join(
        "".join(format_time(m.astimezone(tz), s, tzinfo=tz, locale=locale) + "|"
                for s in time_styles)
        + "".join(format_date(m.astimezone(tz), s, locale=locale) + "|" for s in date_styles)
        + m.astimezone(tz).isoformat() + "\n"
        for m in moments)
    assert rendered == str(escape(expected))


def test_url_filter_is_the_url_function(tmp_path: Path) -> None:
    env = make_environment(config_for(tmp_path))
    env.globals["url"] = env.filters["url"]
    template = env.from_string("{{ url(t) }}|{{ t | url }}")
    for page in (PageInfo("article", "/2026/11/24/x/", "X"),
                 PageInfo("feed", "/feed.xml", "F", relative=False)):
        for target in ("/", "/2026/11/24/y/#a", "/tags/a b/", "https://x.org/?a=1&b=2"):
            by_function, by_filter = template.render(page=page, t=target).split("|")
            assert by_function == by_filter
    page = PageInfo("article", "/2026/11/24/x/", "X")
    assert template.render(page=page, t="/tags/") == "../../../../tags/|../../../../tags/"


def test_templates_take_the_globals_set_before_they_load(tmp_path: Path) -> None:
    env = make_environment(config_for(tmp_path))
    env.globals["edition_name"] = "Morning"
    assert env.from_string("{{ edition_name }}").render() == "Morning"
    own = env.from_string("{{ edition_name }}", globals={"edition_name": "Evening"})
    assert own.render() == "Evening"
    assert env.globals["edition_name"] == "Morning"  # a template's own stay its own
    assert env.from_string("{{ config.title }}").render() == "T"


def test_autoescape_is_on(tmp_path: Path) -> None:
    env = make_environment(config_for(tmp_path))
    for name in ("home.html", "x.xml"):
        assert env.autoescape(name) if callable(env.autoescape) else env.autoescape
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_static_files_site_overrides_theme(tmp_path: Path) -> None:
    (tmp_path / "layouts" / "static" / "img").mkdir(parents=True)
    (tmp_path / "layouts" / "static" / "style.css").write_text("body{}", encoding="utf-8")
    (tmp_path / "layouts" / "static" / "img" / "logo.svg").write_text("<svg/>", encoding="utf-8")
    (tmp_path / "layouts" / "static" / ".hidden").write_text("x", encoding="utf-8")
    chosen = dict((rel, src) for src, rel in static_files(config_for(tmp_path)))
    assert chosen["static/style.css"] == tmp_path / "layouts" / "static" / "style.css"
    assert chosen["static/img/logo.svg"].name == "logo.svg"
    assert "static/.hidden" not in chosen


STORY = {"story": (article("Ship runs aground", topic="world"), "A ship ran aground.")}


def test_site_layout_overrides_theme_file_by_file(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles=STORY, layouts={
        "404.html": '{% extends "base.html" %}{% block main %}<h1>Lost at sea</h1>'
                    '{% endblock %}'})
    build_site(site)
    assert parse_html(site / "output" / "404.html").findtext(".//h1") == "Lost at sea"
    # Other templates still come from the default theme.
    home = parse_html(site / "output" / "index.html")
    assert home.find(".//main//article") is not None


def test_undefined_value_in_layout_names_file_and_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles=STORY, layouts={
        "404.html": '{% extends "base.html" %}\n{% block main %}\n<h1>Lost</h1>\n'
                    '<p>{{ config.titel }}</p>\n{% endblock %}\n'})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("layouts/404.html", 4)
    assert "titel" in problem.message
    assert not (site / "output").exists()


def test_syntax_error_in_layout_names_file_and_line(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles=STORY, layouts={
        "list.html": '{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}\n'})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("layouts/list.html", 3)


def test_undefined_in_theme_partial_is_reported_once(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={**STORY, "two": (article("Two"), "x")}, layouts={
        "article.html": '{% extends "base.html" %}\n{% block main %}{{ article.headline }}'
                        '{% endblock %}\n'})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    assert [(p.path, p.line) for p in caught.value.problems] == [("layouts/article.html", 2)]


def test_theme_is_package_data_with_one_copy_in_the_repository() -> None:
    import tomllib

    repo = Path(__file__).parent.parent
    assert not (repo / "generator" / "layouts").exists()
    setuptools = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"]
    assert setuptools["package-dir"]["generator.layouts"] == "layouts"
    assert "generator.layouts" in setuptools["packages"]
    data = setuptools["package-data"]["generator.layouts"]
    assert "*.html" in data and "static/**/*" in data


def test_sitemap_lastmod_of_listing_pages_is_their_newest_change(tmp_path: Path) -> None:
    config = Config(root=tmp_path, title="T", base_url="https://e.org/", timezone="UTC",
                    per_page=2)
    day = datetime(2026, 11, 1, tzinfo=UTC)
    stories = [Article(path=f"s{i}.md", title=f"S{i}", date=day + timedelta(days=i),
                       slug=f"s{i}", url=f"/s{i}/", body="", authors=(Author("ann", "Ann"),),
                       tags=(Tag("odd" if i % 2 else "even", "x"),),
                       updated=day + timedelta(days=20 - i) if i in (1, 4) else None,
                       corrections=(Correction(day + timedelta(days=30), "Fixed."),)
                       if i == 2 else ())
               for i in range(7)]
    site, _ = build_site_model(stories, (), config, day + timedelta(days=40))
    lastmod = {entry.loc: entry.lastmod for entry in sitemap_entries(site)}

    def newest(articles: tuple[Article, ...]) -> datetime:
        return max(a.modified for a in articles)

    for listing in (*site.tags, *site.authors):
        for page in listing.pages:
            assert lastmod[config.absolute_url(page.url)] == newest(page.articles)
    assert lastmod["https://e.org/tags/"] == lastmod["https://e.org/authors/"] == \
        day + timedelta(days=30)
    assert lastmod["https://e.org/tags/odd/page/2/"] == lastmod["https://e.org/s1/"] == \
        day + timedelta(days=19)
    assert lastmod["https://e.org/editions/"] == day + timedelta(days=30)


# --- compiled layouts kept between builds -----------------------------------------------------


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the layouts Jinja compiles from now on (in this process)."""
    import jinja2
    names: list[str] = []
    compile_ = jinja2.Environment.compile

    def counted(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
        names.append(name)
        return compile_(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    return names


def test_compiled_layouts_are_kept_and_used_again(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.render import TemplateCache
    site = make_site(tmp_path / "site", layouts={"extra.html": "{{ page.title }} one"},
                     articles={"a": (article("A", "2026-11-24T08:00:00+00:00"), "Hi.")})
    compiled = _compiles(monkeypatch)
    first = make_environment(config_for(site), TemplateCache.for_site(site))
    assert first.get_template("extra.html").render(page=PageInfo("x", "/", "T")) == "T one"
    assert first.get_template("article.html") and compiled == ["extra.html", "article.html"]
    compiled.clear()
    again = make_environment(config_for(site), TemplateCache.for_site(site))
    assert again.get_template("extra.html").render(page=PageInfo("x", "/", "T")) == "T one"
    assert again.get_template("article.html") and compiled == []
    # An edited layout is compiled again: the cache is keyed on its text, not its name.
    (site / "layouts" / "extra.html").write_text("{{ page.title }} two", encoding="utf-8")
    edited = make_environment(config_for(site), TemplateCache.for_site(site))
    assert edited.get_template("extra.html").render(page=PageInfo("x", "/", "T")) == "T two"
    assert compiled == ["extra.html"]


def test_compiled_layouts_are_kept_per_jinja_and_python(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    from generator.render import TemplateCache
    site = make_site(tmp_path / "site")
    mine = TemplateCache.for_site(site)
    make_environment(config_for(site), mine).get_template("home.html")
    assert list(mine.path.iterdir())
    monkeypatch.setattr(jinja2, "__version__", "99.0")
    other_jinja = TemplateCache.for_site(site)
    assert other_jinja.path != mine.path and not mine.path.exists()  # the old one is removed
    monkeypatch.setattr("sys.version", "3.99.0 (elsewhere)")
    assert TemplateCache.for_site(site).path not in (mine.path, other_jinja.path)


def test_a_damaged_compiled_layout_is_compiled_again(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.render import TemplateCache
    site = make_site(tmp_path / "site", layouts={"extra.html": "{{ page.title }}!"})
    make_environment(config_for(site), TemplateCache.for_site(site)).get_template("extra.html")
    cache = TemplateCache.for_site(site)
    for path in cache.path.iterdir():
        path.write_bytes(path.read_bytes()[:20])  # the header and half a checksum
    compiled = _compiles(monkeypatch)
    env = make_environment(config_for(site), cache)
    assert env.get_template("extra.html").render(page=PageInfo("x", "/", "T")) == "T!"
    assert compiled == ["extra.html"]


def test_builds_keep_compiled_layouts_unless_told_not_to_cache(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site",
                     articles={"a": (article("A", "2026-11-24T08:00:00+00:00"), "Hi.")})
    build_site(site, use_cache=False)
    assert not list((site / ".cache").glob("templates-*")) if (site / ".cache").exists() else True
    build_site(site, output=tmp_path / "out")
    (folder,) = (site / ".cache").glob("templates-*")
    assert list(folder.iterdir())


def test_feeds_share_entries_equal_to_each_article_s_own(tmp_path: Path) -> None:
    """The site's feed and the topics' feeds use one entry per article (made once): each is
    the entry that article makes on its own."""
    from generator.render import feed_entry, site_feeds
    from tests.test_deps import model, small_site
    site = model(small_site(tmp_path / "site", count=6))
    feeds = site_feeds(site)
    count = site.config.feed_count
    lists = [site.articles, *(listing.articles for listing in site.topics)]
    assert len(feeds) == len(lists) and all(len(feed.entries) > 1 for feed in feeds)
    for feed, articles in zip(feeds, lists, strict=True):
        assert list(feed.entries) == [feed_entry(a, site.config) for a in articles[:count]]


def test_absolute_links_match_the_attribute_pattern_from_the_left() -> None:
    """absolute_links finds what `\\s(?:href|src)="([^"]*)"` would, without a regex: the same
    result on attributes that look alike, overlap, lack a closing quote or span lines."""
    import html
    import random
    import re
    from urllib.parse import urljoin

    from generator.render import absolute_links
    pattern = re.compile(r'(\s(?:href|src)=")([^"]*)(")')

    def by_regex(fragment: str, base: str) -> str:
        return pattern.sub(lambda m: m.group(1) + html.escape(
            urljoin(base, html.unescape(m.group(2))), quote=True) + m.group(3), fragment)

    base = "https://news.example/2026/11/24/story/"
    cases = ['<p><a href="../x/">x</a> <img src="/i.png" alt="a"></p>',
             '<a href="/x src=">y</a> src="z"', 'xhref="a" href="b"', '<a\nhref="c\nd">',
             'href="start"', ' href="no end', ' src="a" href="b"', '\u00a0href="nbsp"',
             '<a title="q" href="?a=1&amp;b=2#f">', " href='single'", "", "plain text"]
    pieces = [" ", "\n", "x", '"', "=", "href", "src", 'href="', 'src="', "/a", "?q=1", "&amp;"]
    rng = random.Random(5)
    cases += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
              for _ in range(3000)]
    for fragment in cases:
        assert absolute_links(fragment, base) == by_regex(fragment, base), fragment
