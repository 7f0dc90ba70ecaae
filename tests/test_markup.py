"""Markdown to safe HTML: known XSS payloads through the sanitiser and through a whole build."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pytest

from generator.config import DEFAULT_EXTENSIONS
from generator.markup import MarkdownSettings, MarkupError, render_markdown, sanitise
from tests.conftest import article, build_site, make_site

PAYLOADS = [line for line in
            (Path(__file__).parent / "fixtures" / "xss.txt").read_text(encoding="utf-8")
            .splitlines() if line.strip() and not line.startswith("# ")]
SETTINGS = MarkdownSettings.of(DEFAULT_EXTENSIONS + ("extra",), {}, False)
FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "base", "form", "meta",
                  "link", "svg", "math", "input", "button", "template", "noscript", "frame",
                  "frameset", "applet"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "xlink:href",
                  "background", "cite", "srcset"}
# The URL standard removes tabs and newlines anywhere and controls and spaces at either end.
_REMOVED_ANYWHERE = re.compile(r"[\t\n\r]")


def dangerous_url(value: str) -> bool:
    """True for a URL a browser would run or render as a document."""
    squeezed = _REMOVED_ANYWHERE.sub("", value).strip("\x00\x01\x02\x03\x04\x05\x06\x07"
                                                      "\x08\x0b\x0c\x0e\x0f\x10\x11\x12"
                                                      "\x13\x14\x15\x16\x17\x18\x19\x1a"
                                                      "\x1b\x1c\x1d\x1e\x1f ").lower()
    return squeezed.startswith(("javascript:", "vbscript:", "data:text/html", "data:image/svg"))


def unsafe_parts(tree: lxml.html.HtmlElement, allow_json_ld: bool = False) -> list[str]:
    """Everything in a parsed page that could run script."""
    found = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower().rsplit("}", 1)[-1]
        if tag == "script" and allow_json_ld and element.get("type") == "application/ld+json":
            continue
        if tag in FORBIDDEN_TAGS and not (tag in ("link", "meta") and allow_json_ld):
            found.append(f"<{tag}>")
        for name, value in element.attrib.items():
            name = name.lower()
            if name.startswith("on"):
                found.append(f"{tag}@{name}")
            if name == "style" or name == "srcdoc":
                found.append(f"{tag}@{name}")
            if name in URL_ATTRIBUTES and dangerous_url(value):
                found.append(f"{tag}@{name}={value!r}")
    return found


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_neutralised_by_markdown_and_sanitiser(payload: str) -> None:
    html = render_markdown(f"Intro.\n\n{payload}\n\nOutro.", SETTINGS).html
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    assert unsafe_parts(tree) == [], html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_inline_in_a_paragraph(payload: str) -> None:
    html = render_markdown(f"Before {payload} after.", SETTINGS).html
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    assert unsafe_parts(tree) == [], html


def test_the_reused_sanitiser_cleans_as_a_fresh_one_does() -> None:
    """sanitise builds nh3's sanitiser once; each call cleans as nh3.clean with the allowlists."""
    import nh3

    from generator import markup

    for fragment in PAYLOADS + [render_markdown(p, SETTINGS).html for p in PAYLOADS]:
        assert sanitise(fragment) == nh3.clean(
            fragment, tags=set(markup.ALLOWED_TAGS),
            attributes={k: set(v) for k, v in markup.ALLOWED_ATTRIBUTES.items()},
            url_schemes=set(markup.URL_SCHEMES), link_rel=None, strip_comments=True)


def test_sanitiser_keeps_ordinary_newsroom_html() -> None:
    html = sanitise('<figure><img src="/images/a.jpg" alt="A"><figcaption>Cap</figcaption>'
                    '</figure><table><tr><td colspan="2">x</td></tr></table>'
                    '<a href="https://example.org/" title="t">link</a>')
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    assert tree.find(".//img").get("src") == "/images/a.jpg"
    assert tree.find(".//a").get("href") == "https://example.org/"
    assert tree.find(".//td").get("colspan") == "2"


def test_plain_markdown_still_renders() -> None:
    body = render_markdown("# Title\n\nSome *emphasis* and a [link](https://example.org/).",
                           SETTINGS)
    tree = lxml.html.fragment_fromstring(body.html, create_parent="div")
    assert tree.find(".//em").text == "emphasis"
    assert body.first_paragraph.startswith("Some emphasis")


def test_markdown_nested_too_deeply_is_a_markup_error() -> None:
    text = "".join("  " * depth + "- x\n" for depth in range(700))
    with pytest.raises(MarkupError):
        render_markdown(text, MarkdownSettings.of(("sane_lists",), {}, False))


HOSTILE_TEXT = '</script><script>alert("t")</script> & <b>bold</b> \' " ]]> --> {{ 7*7 }}'


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site whose every article body is one payload and whose front matter is hostile."""
    root = tmp_path_factory.mktemp("xss")
    articles = {}
    for index, payload in enumerate(PAYLOADS):
        meta = article(f"Story {index} {HOSTILE_TEXT}",
                       f"2026-11-24T{index % 12:02d}:{index % 60:02d}:00+00:00",
                       slug=f"story-{index}", standfirst=HOSTILE_TEXT, summary=payload[:200],
                       author=[HOSTILE_TEXT], tags=[payload[:60], HOSTILE_TEXT],
                       location=HOSTILE_TEXT, topic="world",
                       image={"src": "/images/a.jpg", "alt": payload[:100],
                              "caption": HOSTILE_TEXT, "credit": payload[:50]},
                       source={"name": HOSTILE_TEXT, "url": "https://example.org/?a=1&b=<2>"})
        articles[f"story-{index}"] = (meta, f"{payload}\n\nText {payload} more.\n")
    site = make_site(root / "site", articles=articles,
                     editions={"2026-11-24": ({"title": HOSTILE_TEXT,
                                               "closing": PAYLOADS[0]}, PAYLOADS[2])},
                     files={"content/images/a.jpg": b"\xff\xd8fake"},
                     config={"description": HOSTILE_TEXT, "title": f"Site {HOSTILE_TEXT}"})
    build_site(site)
    return site / "output"


def test_no_payload_survives_in_any_page(hostile_site: Path) -> None:
    pages = sorted(hostile_site.rglob("*.html"))
    assert len(pages) > len(PAYLOADS)
    for page in pages:
        tree = lxml.html.fromstring(page.read_bytes())
        assert unsafe_parts(tree, allow_json_ld=True) == [], page


def test_front_matter_text_round_trips_in_html(hostile_site: Path) -> None:
    page = hostile_site / "2026/11/24/story-11/index.html"
    tree = lxml.html.fromstring(page.read_bytes())
    assert HOSTILE_TEXT in tree.findtext(".//h1")
    summary = " ".join(PAYLOADS[11][:200].split())  # the summary field is the raw payload
    assert tree.xpath("//meta[@name='description']/@content") == [summary]
    assert tree.xpath("//html/@lang") == ["en"]


def test_json_ld_is_valid_json_that_holds_the_title(hostile_site: Path) -> None:
    tree = lxml.html.fromstring((hostile_site / "2026/11/24/story-11/index.html").read_bytes())
    scripts = tree.xpath("//script[@type='application/ld+json']")
    assert scripts
    data = json.loads(scripts[0].text)
    assert data["headline"] == f"Story 11 {HOSTILE_TEXT}"
    assert "</script" not in scripts[0].text.lower()


def test_feeds_parse_and_hold_the_exact_title(hostile_site: Path) -> None:
    xml_files = [p for p in hostile_site.rglob("*.xml")]
    assert xml_files
    for path in xml_files:
        lxml.etree.fromstring(path.read_bytes())  # well-formed XML, or this raises
    feeds = [p for p in xml_files if p.name in ("feed.xml", "rss.xml")]
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        titles = [entry.title for entry in parsed.entries]
        assert f"Story 11 {HOSTILE_TEXT}" in titles
        for entry in parsed.entries:
            for content in entry.get("content", []) + [entry.get("summary_detail") or {}]:
                value = content.get("value", "") if isinstance(content, dict) else ""
                if value and content.get("type") in ("text/html", "application/xhtml+xml"):
                    fragment = lxml.html.fragment_fromstring(value, create_parent="div")
                    assert unsafe_parts(fragment) == []


def test_json_feed_holds_the_exact_title(hostile_site: Path) -> None:
    for path in hostile_site.rglob("*.json"):
        if path.name.startswith("."):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "items" in data:
            assert f"Story 11 {HOSTILE_TEXT}" in [item["title"] for item in data["items"]]


def _fast_extraction_agrees(fragment: str) -> bool | None:
    """Whether the fast text extraction gives the HTML parser's (first paragraph, word count)
    for `fragment`; None when the fast path hands the fragment to the parser itself."""
    from generator.markup import _extract_sanitised, _TextExtractor

    fast = _extract_sanitised(fragment)
    if fast is None:
        return None
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return fast == (parser.first_paragraph, parser.words)


def test_fast_text_extraction_matches_the_html_parser() -> None:
    import random

    pieces = ["<b>x</b>", "a&amp;b", "&nbsp;", "<sup>1</sup>", "<p>", "</p>", "<br/>",
              "<img src='a>b'>", "<!-- c -->", "<script>x</script>", "\u00a0", "word", " ",
              "\n", '<a href="x/">l</a>', "<", ">", "&", "&#x41;", "<p class='a'>", "<em>",
              "</em>", "<div>", "</div>", "<hr>", "*e*", "<q>", "two words"]
    rng = random.Random(3)
    checked = 0
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        for fragment in (text, sanitise(text)):
            agrees = _fast_extraction_agrees(fragment)
            if agrees is not None:
                assert agrees, fragment
                checked += 1
    assert checked > 300


def test_words_after_the_first_paragraph_count_as_the_html_parser_counts_them() -> None:
    """Past the first paragraph the fast extraction counts words all at once: entities at the
    edge of a tag, tags inside words, stray '<' and raw-text tags give the parser's answer."""
    pieces = ["word", " ", "\n", "&amp;", "&amp", "&nbsp;", "&#x41", "&notit;", "&", "<em>",
              "</em>", "<br>", "<br/>", "<sup>2</sup>", '<a href="a>b">l</a>', "<p>", "</p>",
              "<", ">", "<script>x y</script>", "<STYLE>z</STYLE>", "\u00a0", "two words",
              "<img alt='>'>", "</div>", "<div>", "x&lt;y"]
    rng = random.Random(11)
    fast_path = 0
    for _ in range(3000):
        rest = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        for fragment in (f"<p>First words &amp; more</p>{rest}", f"<p> </p><p>a</p>{rest}"):
            agrees = _fast_extraction_agrees(fragment)
            if agrees is not None:
                assert agrees, fragment
                fast_path += 1
    assert fast_path > 1000


@pytest.mark.parametrize("text", ["[" * 50000 + "x" + "]" * 50000, "[a](" * 20000,
                                  "\n".join(["[a"] * 2500)])
def test_bracket_bombs_are_refused_at_once(text: str) -> None:
    with pytest.raises(MarkupError, match="'\\[' characters"):
        render_markdown(text, SETTINGS)


def test_long_lists_of_ordinary_links_are_not_bracket_bombs() -> None:
    text = "\n".join(f"- [item {n}](https://example.org/{n}) and ![i](a.jpg \"t\") [x][r]"
                     for n in range(3000))
    assert render_markdown(text, SETTINGS).html.count("<a ") == 3000


@pytest.mark.parametrize("unsafe", [False, True])
def test_a_heading_one_in_a_body_becomes_h2_so_the_page_keeps_one_h1(unsafe: bool) -> None:
    settings = MarkdownSettings(DEFAULT_EXTENSIONS, unsafe_html=unsafe)
    tree = lxml.html.fragment_fromstring(
        render_markdown("# Big\n\n## Sub\n\nText", settings).html, create_parent="div")
    assert [h.tag for h in tree.iter("h1", "h2")] == ["h2", "h2"]
    assert tree.findtext("h2") == "Big"


def test_raw_h1_is_not_on_the_allowlist() -> None:
    settings = MarkdownSettings(DEFAULT_EXTENSIONS)
    tree = lxml.html.fragment_fromstring(
        render_markdown("<h1>Raw</h1>\n\nText", settings).html, create_parent="div")
    assert tree.find(".//h1") is None
    assert "Raw" in tree.text_content()


def test_extension_packages_names_what_extensions_run_besides_markdown() -> None:
    from generator.markup import extension_packages

    assert extension_packages(DEFAULT_EXTENSIONS) == ()
    assert extension_packages(("markdown.extensions.toc", "smarty")) == ()
    assert extension_packages(("codehilite",)) == ("pygments",)
    assert extension_packages(("mysite.markdown.notes", "other_ext:Thing")) == (
        "mysite", "other_ext")
