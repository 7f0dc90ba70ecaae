"""Head metadata (partials/head_meta.html and render.py's JSON-LD builders), read with extruct
and lxml: title, description, canonical, Open Graph, Twitter card, NewsArticle and ItemList."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import extruct
import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.errors import BuildError
from generator.render import json_ld
from tests.conftest import article, build_site, html_pages, make_site

STORY = "2026/11/24/strait-closed/"
CONFIG = {
    "timezone": "Asia/Dubai",
    "description": "A daily briefing.",
    "publisher": {"name": "Ledger Media", "logo": "/images/logo.png"},
    "authors": {"amira": {"name": "Amira Haddad", "url": "https://amira.example.net/"}},
}
ARTICLES: dict[str, tuple[Any, str]] = {
    "strait": (article(
        "Strait closed", "2026-11-24T08:00:00+04:00", updated="2026-11-24T10:30:00+04:00",
        author=["Amira Haddad", "Tomas Lindqvist"], topic="world",
        tags=["shipping", "Marrak Strait"], summary="The strait is shut.", location="PORT AZEL",
        image={"src": "/images/ship.jpg", "alt": "A ship at anchor"},
        corrections=[{"date": "2026-11-24T11:00:00+04:00", "text": "A name was misspelt."}]),
        "Ships wait.\n"),
    "prices": (article("Prices rise", "2026-11-24T09:00:00+04:00", topic="business"),
               "Prices rose.\n"),
}
NASTY = [
    "</script><script>alert(1)</script>",
    "<!-- a comment --> and </SCRIPT >",
    "Fish & chips <b>bold</b> \u2028 line \"quoted\" 'single'",
    "]]> <![CDATA[ x",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small site above, built once."""
    site = make_site(tmp_path_factory.mktemp("meta"), config=CONFIG, articles=ARTICLES,
                     files={"content/images/ship.jpg": b"\xff\xd8",
                            "content/images/logo.png": b"\x89PNG"},
                     editions={"2026-11-24": ({"title": "Ships and prices"}, "Today's news.")})
    build_site(site)
    return site / "output"


def extract(path: Path) -> dict[str, Any]:
    """JSON-LD and Open Graph as extruct reads them (Open Graph as property lists)."""
    return extruct.extract(path.read_text(encoding="utf-8"), base_url="https://example.org/",
                           syntaxes=["json-ld", "opengraph"])


def og(path: Path) -> list[tuple[str, str]]:
    """The page's Open Graph properties, in order, repeated ones kept."""
    found = extract(path)["opengraph"]
    assert len(found) == 1
    return found[0]["properties"]


def metas(path: Path) -> dict[str, str]:
    """<meta name=...> values of the page head."""
    head = lxml.html.fromstring(path.read_bytes()).find("head")
    return {m.get("name"): m.get("content") for m in head.iterfind("meta[@name]")}


def test_article_news_article_json_ld(built: Path) -> None:
    [data] = extract(built / STORY / "index.html")["json-ld"]
    url = "https://example.org/" + STORY
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == "Strait closed"
    assert data["datePublished"] == "2026-11-24T08:00:00+04:00"
    assert data["dateModified"] == "2026-11-24T11:00:00+04:00"
    assert data["author"] == [
        {"@type": "Person", "name": "Amira Haddad", "url": "https://amira.example.net/"},
        {"@type": "Person", "name": "Tomas Lindqvist",
         "url": "https://example.org/authors/tomas-lindqvist/"}]
    assert data["image"] == ["https://example.org/images/ship.jpg"]
    assert data["publisher"] == {
        "@type": "Organization", "name": "Ledger Media", "url": "https://example.org/",
        "logo": {"@type": "ImageObject", "url": "https://example.org/images/logo.png"}}
    assert data["mainEntityOfPage"] == {"@type": "WebPage", "@id": url}
    assert data["articleSection"] == "World"
    assert data["keywords"] == ["shipping", "Marrak Strait"]
    assert data["description"] == "The strait is shut."
    assert data["correction"] == [{"@type": "CorrectionComment", "text": "A name was misspelt.",
                                   "datePublished": "2026-11-24T11:00:00+04:00"}]


def test_article_open_graph(built: Path) -> None:
    props = og(built / STORY / "index.html")
    single = dict(props)
    assert single["og:type"] == "article"
    assert single["og:title"] == "Strait closed"
    assert single["og:description"] == "The strait is shut."
    assert single["og:url"] == "https://example.org/" + STORY
    assert single["og:image"] == "https://example.org/images/ship.jpg"
    assert single["og:image:alt"] == "A ship at anchor"
    assert single["article:published_time"] == "2026-11-24T08:00:00+04:00"
    assert single["article:modified_time"] == "2026-11-24T11:00:00+04:00"
    assert single["article:section"] == "World"
    assert [v for k, v in props if k == "article:tag"] == ["shipping", "Marrak Strait"]


def test_article_title_description_canonical_and_twitter_card(built: Path) -> None:
    page = built / STORY / "index.html"
    head = lxml.html.fromstring(page.read_bytes()).find("head")
    assert head.findtext("title") == "Strait closed · Test Briefing"
    assert head.find("link[@rel='canonical']").get("href") == "https://example.org/" + STORY
    meta = metas(page)
    assert meta["description"] == "The strait is shut."
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["twitter:title"] == "Strait closed"
    assert meta["twitter:description"] == "The strait is shut."
    assert meta["twitter:image"] == "https://example.org/images/ship.jpg"


def test_every_page_has_open_graph_with_absolute_url_equal_to_canonical(built: Path) -> None:
    for page in html_pages(built):
        head = lxml.html.fromstring(page.read_bytes()).find("head")
        props = dict(og(page))
        assert props["og:url"] == head.find("link[@rel='canonical']").get("href"), page
        assert props["og:url"].startswith("https://example.org/")
        assert props["og:title"]
        assert metas(page)["twitter:card"] in ("summary", "summary_large_image")
        is_article = page.relative_to(built).parts[0] == "2026"
        assert props["og:type"] == ("article" if is_article else "website"), page


def test_pages_without_a_picture_have_no_og_image(built: Path) -> None:
    props = dict(og(built / "2026/11/24/prices-rise/index.html"))
    assert "og:image" not in props
    assert metas(built / "2026/11/24/prices-rise/index.html")["twitter:card"] == "summary"
    assert "article:section" in props and "article:tag" not in props


def test_share_image_is_the_fallback_picture(tmp_path: Path) -> None:
    site = make_site(tmp_path, config={"share_image": "https://cdn.example.net/card.png"},
                     articles={"a": (article("A", topic="world"), "x")})
    build_site(site)
    for page in ("2026/11/24/a/index.html", "tags/index.html", "index.html"):
        assert dict(og(site / "output" / page))["og:image"] == "https://cdn.example.net/card.png"


def test_edition_page_item_list_in_reading_order(built: Path) -> None:
    page = built / "editions/2026-11-24/index.html"
    [data] = extract(page)["json-ld"]
    assert data["@type"] == "ItemList"
    assert data["url"] == "https://example.org/editions/2026-11-24/"
    assert data["numberOfItems"] == 2
    assert [(i["@type"], i["position"], i["url"]) for i in data["itemListElement"]] == [
        ("ListItem", 1, "https://example.org/2026/11/24/prices-rise/"),
        ("ListItem", 2, "https://example.org/" + STORY)]
    assert "og:image" not in dict(og(page))  # the lead, "Prices rise", has no picture


def test_publisher_defaults_to_the_site_title_without_logo(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={"a": (article("A"), "x")})
    build_site(site)
    [data] = extract(site / "output/2026/11/24/a/index.html")["json-ld"]
    assert data["publisher"] == {"@type": "Organization", "name": "Test Briefing",
                                 "url": "https://example.org/"}
    assert data["author"] == []
    assert "image" not in data and "correction" not in data


@pytest.mark.parametrize("title", NASTY)
def test_json_ld_stays_valid_and_inert_whatever_the_front_matter(tmp_path: Path,
                                                                 title: str) -> None:
    site = make_site(tmp_path, articles={"a": (article(
        title, slug="nasty", summary=title, tags=[title], location=title,
        corrections=[{"date": "2026-11-24T09:00:00+00:00", "text": title}]), "x")})
    build_site(site)
    page = site / "output/2026/11/24/nasty/index.html"
    tree = lxml.html.fromstring(page.read_bytes())
    scripts = tree.findall(".//script")
    assert [s.get("type") for s in scripts] == ["application/ld+json"]
    [data] = extract(page)["json-ld"]
    assert json.loads(scripts[0].text) == data
    expected = " ".join(title.split())  # front matter text has its whitespace folded
    assert data["headline"] == expected
    assert data["keywords"] == [expected]
    assert data["correction"][0]["text"] == expected
    assert tree.find(".//h1").text_content() == expected


@pytest.mark.parametrize(("config", "message", "line"), [
    ("publisher:\n  nmae: Ledger\n", "unknown publisher key 'nmae' (did you mean 'name'?)", 4),
    ("publisher:\n  name: Ledger\n  logo: ftp://x.example/logo.png\n",
     "'publisher.logo' must be a site path or an http(s) URL", 5),
    ("publisher: Ledger\n", "'publisher' must be a mapping", 3),
    ("share_image: ../secret.png\n", "'share_image' must not leave the site", 3),
    ("share_imag: /a.png\n", "unknown key 'share_imag' (did you mean 'share_image'?)", 3),
])
def test_publisher_and_share_image_problems_name_their_line(tmp_path: Path, config: str,
                                                            message: str, line: int) -> None:
    site = make_site(tmp_path, config="title: T\nbase_url: https://example.org/\n" + config)
    with pytest.raises(BuildError) as caught:
        build_site(site)
    [problem] = caught.value.problems
    assert message in problem.message
    assert (problem.path, problem.line) == ("config.yaml", line)


def test_edition_description_is_the_intro_as_plain_text(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={"a": (article("A", summary="Lead summary."), "x"),
                                         "b": (article("B", "2026-11-23T08:00:00+00:00",
                                                       summary="Other summary."), "y")},
                     editions={"2026-11-24": ({"title": "Today"},
                                              "Good *morning*: [the strait](/x/) & more.")})
    build_site(site)
    page = site / "output/editions/2026-11-24/index.html"
    assert metas(page)["description"] == "Good morning: the strait & more."
    assert dict(og(page))["og:description"] == "Good morning: the strait & more."
    other = site / "output/editions/2026-11-23/index.html"
    assert metas(other)["description"] == "Other summary."


@given(st.recursive(st.text() | st.integers() | st.none(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_json_ld_output_cannot_close_a_script_and_decodes_to_the_same_data(data: Any) -> None:
    text = str(json_ld(data))
    assert not {"<", ">", "&", "\u2028", "\u2029"} & set(text)
    assert json.loads(text) == data


@given(st.text())
def test_json_ld_escapes_each_character_as_one_table_would(text: str) -> None:
    table = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
             0x2028: "\\u2028", 0x2029: "\\u2029"}
    data = {"headline": text, "x": ["</script>", "a & b \u2028\u2029 é"]}
    assert str(json_ld(data)) == json.dumps(data, ensure_ascii=False).translate(table)
