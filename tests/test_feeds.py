"""Feeds, sitemaps and robots.txt (render.py's non-HTML formats), read by real consumers:
feedparser, json, lxml with the sitemaps.org XSD."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import lxml.etree
import lxml.html
import pytest

from generator import render
from tests.conftest import article, build_site, html_pages, make_site

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
NS = {"s": SITEMAP_NS, "news": NEWS_NS}
XSD = lxml.etree.XMLSchema(lxml.etree.parse(str(Path(__file__).parent / "sitemap.xsd")))
FEED_FILES = ("feed.xml", "rss.xml")

CONFIG = {
    "timezone": "Asia/Dubai",
    "authors": {"amira": {"name": "Amira Haddad", "url": "https://amira.example.net/"}},
}
ARTICLES: dict[str, tuple[Any, str]] = {
    "strait": (article(
        "Strait closed & ships <wait>", "2026-11-24T08:00:00+04:00",
        updated="2026-11-24T10:30:00+04:00", author=["Amira Haddad", "Tomas Lindqvist"],
        topic="world", tags=["shipping", "Marrak Strait"], summary="The strait is shut.",
        image={"src": "/images/ship.jpg", "alt": "A ship"}),
        "Ships wait. See [the map](/maps/strait/) and ![chart](chart.png \"c\").\n"),
    "prices": (article("Prices rise", "2026-11-23T09:00:00+04:00", topic="business",
                       corrections=[{"date": "2026-11-24T07:00:00+04:00",
                                     "text": "An earlier version gave the wrong figure."}]),
               "Prices rose by 4 per cent.\n"),
    "old": (article("An older story", "2026-11-18T09:00:00+04:00", topic="world"),
            "Long ago.\n"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small site above, built once for the read-only tests of this module."""
    site = make_site(tmp_path_factory.mktemp("feeds"), config=CONFIG, articles=ARTICLES,
                     files={"content/images/ship.jpg": b"\xff\xd8"})
    build_site(site)
    return site / "output"


def parse_feed(path: Path) -> feedparser.FeedParserDict:
    """A feed as feedparser reads it; a malformed one fails the test."""
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
    return parsed


def read_json(path: Path) -> dict[str, Any]:
    """A JSON Feed file."""
    return json.loads(path.read_text(encoding="utf-8"))


def sitemap_urls(path: Path) -> dict[str, str | None]:
    """loc → lastmod (or None) of a sitemap that must validate against the sitemaps.org XSD."""
    tree = lxml.etree.parse(str(path))
    assert XSD.validate(tree), XSD.error_log
    return {url.findtext("s:loc", namespaces=NS): url.findtext("s:lastmod", namespaces=NS)
            for url in tree.getroot().iterfind("s:url", NS)}


def page_url(output: Path, page: Path) -> str:
    """The absolute URL an output HTML file is served at."""
    rel = page.relative_to(output).as_posix()
    return "https://example.org/" + (rel[:-len("index.html")] if rel.endswith("index.html")
                                     else rel)


# --- Atom and RSS ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", FEED_FILES)
def test_feeds_parse_cleanly_and_list_the_articles_newest_first(built: Path, name: str) -> None:
    parsed = parse_feed(built / name)
    assert parsed.version == ("atom10" if name == "feed.xml" else "rss20")
    assert [e.title for e in parsed.entries] == [
        "Strait closed & ships <wait>", "Prices rise", "An older story"]
    assert [e.link for e in parsed.entries] == [
        "https://example.org/2026/11/24/strait-closed-ships-wait/",
        "https://example.org/2026/11/23/prices-rise/",
        "https://example.org/2026/11/18/an-older-story/"]
    assert parsed.feed.title == "Test Briefing"
    assert parsed.feed.link == "https://example.org/"


@pytest.mark.parametrize("name", FEED_FILES)
def test_entry_fields_authors_categories_image_and_summary(built: Path, name: str) -> None:
    entry = parse_feed(built / name).entries[0]
    assert [a.name for a in entry.authors] == ["Amira Haddad", "Tomas Lindqvist"]
    assert [t.term for t in entry.tags] == ["World", "shipping", "Marrak Strait"]
    assert entry.summary == "The strait is shut."
    assert entry.media_content[0]["url"] == "https://example.org/images/ship.jpg"
    assert entry.media_content[0]["type"] == "image/jpeg"
    assert entry.id == "tag:example.org,2026:strait.md"


def test_atom_authors_carry_profile_urls(built: Path) -> None:
    entry = parse_feed(built / "feed.xml").entries[0]
    assert [a.get("href") for a in entry.authors] == [
        "https://amira.example.net/", "https://example.org/authors/tomas-lindqvist/"]


@pytest.mark.parametrize("name", FEED_FILES)
def test_dates_keep_the_site_offset_in_each_formats_syntax(built: Path, name: str) -> None:
    entry = parse_feed(built / name).entries[0]
    if name == "feed.xml":
        assert entry.published == "2026-11-24T08:00:00+04:00"
    else:
        assert entry.published == "Tue, 24 Nov 2026 08:00:00 +0400"
    assert entry.updated == "2026-11-24T10:30:00+04:00"
    assert datetime(*entry.published_parsed[:6]).isoformat() == "2026-11-24T04:00:00"
    corrected = parse_feed(built / name).entries[1]
    assert corrected.updated == "2026-11-24T07:00:00+04:00"


def test_atom_feed_updated_is_the_newest_change(built: Path) -> None:
    assert parse_feed(built / "feed.xml").feed.updated == "2026-11-24T10:30:00+04:00"


@pytest.mark.parametrize("name", FEED_FILES)
def test_full_content_has_absolute_links(built: Path, name: str) -> None:
    entry = parse_feed(built / name).entries[0]
    fragment = lxml.html.fragment_fromstring(entry.content[0].value, create_parent="div")
    assert [a.get("href") for a in fragment.iter("a")] == ["https://example.org/maps/strait/"]
    assert [i.get("src") for i in fragment.iter("img")] == [
        "https://example.org/2026/11/24/strait-closed-ships-wait/chart.png"]


def test_topic_feeds_hold_only_their_topic(built: Path) -> None:
    for name in FEED_FILES:
        world = parse_feed(built / "topics" / "world" / name)
        assert [e.title for e in world.entries] == ["Strait closed & ships <wait>",
                                                    "An older story"]
        business = parse_feed(built / "topics" / "business" / name)
        assert [e.title for e in business.entries] == ["Prices rise"]
    world_json = read_json(built / "topics" / "world" / "feed.json")
    assert world_json["feed_url"] == "https://example.org/topics/world/feed.json"
    assert world_json["home_page_url"] == "https://example.org/topics/world/"
    assert len(world_json["items"]) == 2


# --- JSON Feed ------------------------------------------------------------------------------

def test_json_feed_has_every_required_field(built: Path) -> None:
    feed = read_json(built / "feed.json")
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Test Briefing"
    assert feed["home_page_url"] == "https://example.org/"
    assert feed["feed_url"] == "https://example.org/feed.json"
    assert len(feed["items"]) == 3
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        assert item["url"].startswith("https://example.org/")
        for key in ("date_published", "date_modified"):
            assert datetime.fromisoformat(item[key]).utcoffset() is not None


def test_json_feed_item_matches_the_article(built: Path) -> None:
    item = read_json(built / "feed.json")["items"][0]
    assert item["id"] == "tag:example.org,2026:strait.md"
    assert item["title"] == "Strait closed & ships <wait>"
    assert item["date_published"] == "2026-11-24T08:00:00+04:00"
    assert item["date_modified"] == "2026-11-24T10:30:00+04:00"
    assert item["authors"] == [
        {"name": "Amira Haddad", "url": "https://amira.example.net/"},
        {"name": "Tomas Lindqvist", "url": "https://example.org/authors/tomas-lindqvist/"}]
    assert item["tags"] == ["World", "shipping", "Marrak Strait"]
    assert item["image"] == "https://example.org/images/ship.jpg"
    assert item["summary"] == "The strait is shut."
    assert "https://example.org/maps/strait/" in item["content_html"]


def test_ids_are_the_same_in_every_format(built: Path) -> None:
    atom = [e.id for e in parse_feed(built / "feed.xml").entries]
    rss = [e.id for e in parse_feed(built / "rss.xml").entries]
    json_ids = [i["id"] for i in read_json(built / "feed.json")["items"]]
    assert atom == rss == json_ids
    assert len(set(atom)) == 3


def test_ids_survive_edits_to_title_and_date(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={"story": (article("First title", "2026-11-23"), "x")})
    build_site(site)
    before = read_json(site / "output" / "feed.json")["items"][0]
    make_site(tmp_path, articles={"story": (article("A new title", "2026-11-24"), "x")})
    build_site(site)
    after = read_json(site / "output" / "feed.json")["items"][0]
    assert before["url"] != after["url"]
    assert before["id"] == after["id"] == "tag:example.org,2026:story.md"
    assert parse_feed(site / "output" / "rss.xml").entries[0].id == before["id"]


def test_count_and_summary_only_settings(tmp_path: Path) -> None:
    site = make_site(tmp_path, config={"feeds": {"count": 2, "full_content": False}},
                     articles=ARTICLES)
    build_site(site)
    for name in FEED_FILES:
        entries = parse_feed(site / "output" / name).entries
        assert [e.title for e in entries] == ["Strait closed & ships <wait>", "Prices rise"]
        assert "content" not in entries[0]
        assert entries[0].summary == "The strait is shut."
    items = read_json(site / "output" / "feed.json")["items"]
    assert len(items) == 2
    assert "content_html" not in items[0]
    assert items[0]["content_text"] == "The strait is shut."


def test_an_empty_site_has_valid_empty_feeds_dated_by_the_build_clock(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    build_site(site, now="2026-11-24T12:00:00+00:00")
    atom = parse_feed(site / "output" / "feed.xml")
    assert atom.entries == []
    assert atom.feed.updated == "2026-11-24T12:00:00+00:00"
    assert parse_feed(site / "output" / "rss.xml").entries == []
    assert read_json(site / "output" / "feed.json")["items"] == []


def test_feeds_and_sitemaps_do_not_depend_on_the_wall_clock(built: Path, tmp_path: Path) -> None:
    site = make_site(tmp_path, config=CONFIG, articles=ARTICLES,
                     files={"content/images/ship.jpg": b"\xff\xd8"})
    build_site(site)
    for name in ("feed.xml", "rss.xml", "feed.json", "sitemap.xml", "news-sitemap.xml",
                 "robots.txt"):
        assert (site / "output" / name).read_bytes() == (built / name).read_bytes(), name


def test_every_page_links_to_the_site_feeds(built: Path) -> None:
    for page in html_pages(built):
        head = lxml.html.fromstring(page.read_bytes()).find("head")
        feeds = {link.get("type"): link.get("href")
                 for link in head.iterfind("link[@rel='alternate']")
                 if "/topics/" not in link.get("href")}
        assert feeds == {"application/atom+xml": "https://example.org/feed.xml",
                         "application/rss+xml": "https://example.org/rss.xml",
                         "application/feed+json": "https://example.org/feed.json"}, page


def test_topic_pages_also_link_to_their_own_feeds(built: Path) -> None:
    head = lxml.html.fromstring((built / "topics/world/index.html").read_bytes()).find("head")
    hrefs = [link.get("href") for link in head.iterfind("link[@rel='alternate']")]
    assert "https://example.org/topics/world/feed.xml" in hrefs
    assert "https://example.org/topics/world/rss.xml" in hrefs
    assert "https://example.org/topics/world/feed.json" in hrefs


# --- sitemaps and robots.txt ----------------------------------------------------------------

def test_sitemap_validates_and_lists_every_page_but_the_404(built: Path) -> None:
    urls = sitemap_urls(built / "sitemap.xml")
    expected = {page_url(built, p) for p in html_pages(built) if p.name != "404.html"}
    assert set(urls) == expected


def test_sitemap_lastmod_comes_from_updated_corrections_and_date(built: Path) -> None:
    urls = sitemap_urls(built / "sitemap.xml")
    assert urls["https://example.org/2026/11/24/strait-closed-ships-wait/"] == \
        "2026-11-24T10:30:00+04:00"
    assert urls["https://example.org/2026/11/23/prices-rise/"] == "2026-11-24T07:00:00+04:00"
    assert urls["https://example.org/2026/11/18/an-older-story/"] == "2026-11-18T09:00:00+04:00"
    assert urls["https://example.org/topics/world/"] == "2026-11-24T10:30:00+04:00"
    assert urls["https://example.org/"] == "2026-11-24T10:30:00+04:00"


def test_sitemap_becomes_an_index_past_its_limit(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "SITEMAP_LIMIT", 5)
    site = make_site(tmp_path, articles=ARTICLES)
    build_site(site)
    output = site / "output"
    index = lxml.etree.parse(str(output / "sitemap.xml")).getroot()
    assert index.tag == f"{{{SITEMAP_NS}}}sitemapindex"
    parts = [s.findtext("s:loc", namespaces=NS) for s in index.iterfind("s:sitemap", NS)]
    assert parts[0] == "https://example.org/sitemap-1.xml"
    urls: dict[str, str | None] = {}
    for part in parts:
        found = sitemap_urls(output / part.removeprefix("https://example.org/"))
        assert 1 <= len(found) <= 5
        urls.update(found)
    assert set(urls) == {page_url(output, p) for p in html_pages(output)
                         if p.name != "404.html"}


def news_entries(path: Path) -> list[dict[str, str]]:
    """Every <url> of a news sitemap, each required element read by namespace."""
    root = lxml.etree.parse(str(path)).getroot()
    assert root.tag == f"{{{SITEMAP_NS}}}urlset"
    entries = []
    for url in root.iterfind("s:url", NS):
        news = url.find("news:news", NS)
        publication = news.find("news:publication", NS)
        entry = {"loc": url.findtext("s:loc", namespaces=NS),
                 "name": publication.findtext("news:name", namespaces=NS),
                 "language": publication.findtext("news:language", namespaces=NS),
                 "date": news.findtext("news:publication_date", namespaces=NS),
                 "title": news.findtext("news:title", namespaces=NS)}
        assert all(entry.values()), entry
        entries.append(entry)
    return entries


def test_news_sitemap_lists_the_last_two_days_with_every_required_element(built: Path) -> None:
    assert news_entries(built / "news-sitemap.xml") == [
        {"loc": "https://example.org/2026/11/24/strait-closed-ships-wait/",
         "name": "Test Briefing", "language": "en", "date": "2026-11-24T08:00:00+04:00",
         "title": "Strait closed & ships <wait>"},
        {"loc": "https://example.org/2026/11/23/prices-rise/",
         "name": "Test Briefing", "language": "en", "date": "2026-11-23T09:00:00+04:00",
         "title": "Prices rise"}]


def test_news_sitemap_uses_the_build_clock_publisher_and_language(tmp_path: Path) -> None:
    site = make_site(tmp_path, config={"language": "de-CH", "publisher": {"name": "Ledger"}},
                     articles={
                         "edge": (article("Just inside", "2026-11-22T12:00:00+00:00"), "x"),
                         "out": (article("Just outside", "2026-11-22T11:59:00+00:00"), "x"),
                         "later": (article("Later", "2026-11-25T09:00:00+00:00"), "x")})
    build_site(site, now="2026-11-24T12:00:00+00:00", future=True)
    entries = news_entries(site / "output" / "news-sitemap.xml")
    assert [e["title"] for e in entries] == ["Just inside"]
    assert entries[0]["name"] == "Ledger"
    assert entries[0]["language"] == "de"


@pytest.mark.parametrize(("language", "code"), [
    ("en", "en"), ("en-GB", "en"), ("ar-AE", "ar"), ("zh-CN", "zh-cn"), ("zh-Hans", "zh-cn"),
    ("zh-TW", "zh-tw"), ("zh-Hant-HK", "zh-tw")])
def test_news_language_is_the_code_google_news_expects(language: str, code: str) -> None:
    # Unit-tested: building a zh or ja site in the test process changes Babel's month names
    # for later French builds (a Babel data-cache bug), so no build here uses those languages.
    assert render.news_language(language) == code


def test_news_sitemap_splits_into_an_index_past_its_limit(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "NEWS_SITEMAP_LIMIT", 2)
    site = make_site(tmp_path, articles={
        f"s{n}": (article(f"Story {n}", f"2026-11-24T0{n}:00:00+00:00"), "x") for n in range(5)})
    build_site(site)
    output = site / "output"
    index = lxml.etree.parse(str(output / "news-sitemap.xml")).getroot()
    assert index.tag == f"{{{SITEMAP_NS}}}sitemapindex"
    parts = [s.findtext("s:loc", namespaces=NS) for s in index.iterfind("s:sitemap", NS)]
    assert parts == [f"https://example.org/news-sitemap-{n}.xml" for n in (1, 2, 3)]
    titles = [e["title"] for n in (1, 2, 3)
              for e in news_entries(output / f"news-sitemap-{n}.xml")]
    assert titles == [f"Story {n}" for n in (4, 3, 2, 1, 0)]


def test_robots_txt_names_both_sitemaps(built: Path) -> None:
    lines = (built / "robots.txt").read_text(encoding="utf-8").splitlines()
    sitemaps = [line.partition(":")[2].strip() for line in lines
                if line.lower().startswith("sitemap:")]
    assert sitemaps == ["https://example.org/sitemap.xml", "https://example.org/news-sitemap.xml"]
    assert "User-agent: *" in lines


def test_control_characters_in_front_matter_do_not_break_the_xml(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={"a": (
        'title: "Bell\\x07 and \\x01 here"\ndate: 2026-11-24T08:00:00+00:00\n'
        'summary: "Unit\\x1f separator"', "Body \x02 text.")})
    build_site(site)
    for name in FEED_FILES:
        entry = parse_feed(site / "output" / name).entries[0]
        assert entry.title == "Bell and  here"
        assert entry.summary == "Unit separator"
    assert [e["title"] for e in news_entries(site / "output" / "news-sitemap.xml")] == [
        "Bell and  here"]
    assert read_json(site / "output" / "feed.json")["items"][0]["title"] == "Bell\x07 and \x01 here"
