"""build.py end to end: tiny sites built into tmp_path, read back with an HTML parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import BuildError
from tests.conftest import article, build_site, html_pages, links, make_site, page_text, parse_html

CONFIG = {
    "authors": {"amira-haddad": {"name": "Amira Haddad", "bio": "Correspondent."}},
    "per_page": 2,
}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")

ARTICLES = {
    "lead": (article(
        "Ship runs aground in the strait", "2026-11-24T06:00:00+00:00",
        standfirst="Traffic halted.", author=["Amira Haddad", "Joe Okafor"], topic="world",
        tags=["Shipping", "Strait"], location="PORT AZEL", lead=True,
        updated="2026-11-24T09:00:00+00:00", translation="machine",
        source={"name": "Wire Agency", "url": "https://wire.example/story"},
        image={"src": "images/ship.png", "alt": "A ship at sea", "caption": "The ship.",
               "credit": "Agency"},
        corrections=[{"date": "2026-11-24T10:00:00+00:00", "text": "An earlier version "
                      "misspelt the ship's name."}]),
        "A ship ran aground.\n\n## Queue\n\nShips wait."),
    "markets": (article("Markets fall", "2026-11-24T07:00:00+00:00", topic="business",
                        tags=["shipping"]), "Prices fell."),
    "trade": (article("Trade slows", "2026-11-24T05:00:00+00:00", topic="business"),
              "Trade slowed."),
    "untopical": (article("A comet appears", "2026-11-24T04:00:00+00:00"), "Look up."),
    "yesterday": (article("Earlier story", "2026-11-23T08:00:00+00:00", topic="world",
                          tags=["shipping"]), "Yesterday."),
    "draft": (article("Secret draft headline", "2026-11-24T08:00:00+00:00", topic="world",
                      tags=["shipping", "draftonlytag"], author="Draft Only Author",
                      draft=True), "Not ready."),
    "future": (article("Tomorrow future headline", "2026-11-25T08:00:00+00:00", topic="world",
                       tags=["futureonlytag"],
                       author="Future Only Author"), "Embargoed."),
}
EDITIONS = {"2026-11-24": ({"title": "A busy morning", "author": "The editor",
                            "closing": "And finally, a *comet*."}, "Good morning.")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared test site, built once for the read-only tests of this module."""
    site = make_site(tmp_path_factory.mktemp("site"), config=CONFIG, articles=ARTICLES,
                     editions=EDITIONS, files={"content/images/ship.png": PNG})
    build_site(site)
    return site / "output"


def test_every_published_article_has_a_page(built: Path) -> None:
    for url in ("2026/11/24/ship-runs-aground-in-the-strait", "2026/11/24/markets-fall",
                "2026/11/24/trade-slows", "2026/11/24/a-comet-appears",
                "2026/11/23/earlier-story"):
        tree = parse_html(built / url / "index.html")
        assert len(tree.findall(".//h1")) == 1


@pytest.mark.parametrize("needle", ["Secret draft headline", "secret-draft-headline",
                                    "draftonlytag", "Draft Only Author", "draft-only-author",
                                    "Tomorrow future headline", "tomorrow-future-headline",
                                    "futureonlytag", "Future Only Author",
                                    "future-only-author", "2026-11-25"])
def test_drafts_and_future_appear_nowhere(built: Path, needle: str) -> None:
    for page in html_pages(built):
        assert needle not in page_text(page), f"{needle!r} in {page.relative_to(built)}"
    paths = [p.relative_to(built).as_posix() for p in built.rglob("*")]
    assert not [p for p in paths if needle.lower() in p.lower()]


def test_drafts_and_future_options(tmp_path: Path) -> None:
    site = make_site(tmp_path, config=CONFIG, articles=ARTICLES)
    report = build_site(site, drafts=True, future=True)
    out = site / "output"
    assert report.articles == len(ARTICLES)
    assert (out / "2026/11/24/secret-draft-headline/index.html").is_file()
    assert (out / "2026/11/25/tomorrow-future-headline/index.html").is_file()
    assert (out / "tags/draftonlytag/index.html").is_file()
    home = parse_html(out / "index.html")
    assert home.findtext(".//header//time") == "Wednesday, November 25, 2026"
    drafts_only = build_site(site, drafts=True, output=tmp_path / "drafts")
    assert drafts_only.articles == len(ARTICLES) - 1
    assert not (tmp_path / "drafts/2026/11/25").exists()


def test_future_is_relative_to_the_pinned_clock(tmp_path: Path) -> None:
    site = make_site(tmp_path, config=CONFIG, articles=ARTICLES)
    assert build_site(site, now="2026-11-25T08:00:00+00:00").articles == 6
    assert build_site(site, now="2026-11-25T07:59:59+00:00").articles == 5
    assert build_site(site, now="2026-11-23T12:00:00+00:00").articles == 1


def test_home_is_the_latest_briefing(built: Path) -> None:
    home = parse_html(built / "index.html")
    main = home.find(".//main")
    assert len(home.findall(".//h1")) == 1
    assert main.findtext(".//h1") == "A busy morning"
    assert main.find(".//header//time").get("datetime") == "2026-11-24"
    lead = main.find(".//section[@class='lead-story']")
    assert lead.findtext(".//h2/a") == "Ship runs aground in the strait"
    assert lead.findtext(".//p[@class='standfirst']") == "Traffic halted."
    assert lead.find(".//img").get("src") == "images/ship.png"
    sections = main.findall(".//section[@class='briefing-section']")
    assert [s.findtext("h2").strip() or s.findtext("h2/a") for s in sections] == [
        "Business", "More news"]
    items = sections[0].findall(".//li")
    assert [i.findtext(".//h3/a") for i in items] == ["Markets fall", "Trade slows"]
    assert items[0].find(".//a").get("href") == "2026/11/24/markets-fall/"
    assert [p.text_content() for p in sections[0].findall(".//li/p")] == [
        "Prices fell.", "Trade slowed."]
    assert "Good morning." in main.find(".//div[@class='editor-intro']").text_content()
    closing = main.find(".//aside")
    assert closing.find(".//em").text == "comet"
    earlier = [a.get("href") for a in home.findall(".//nav[@class='earlier-editions']//a")]
    assert earlier == ["editions/2026-11-23/", "editions/"]


def test_edition_pages_and_archive(built: Path) -> None:
    edition = parse_html(built / "editions/2026-11-24/index.html")
    assert edition.findtext(".//main//h1") == "A busy morning"
    assert "editions/2026-11-23/" in [h.lstrip("./") for h in links(edition)] or \
        "../2026-11-23/" in links(edition)
    older = parse_html(built / "editions/2026-11-23/index.html")
    assert older.find(".//section[@class='lead-story']").findtext(".//h2/a") == "Earlier story"
    archive = parse_html(built / "editions/index.html")
    assert archive.findtext(".//h1") == "Editions"
    months = archive.findall(".//section[@class='archive-month']")
    assert [m.findtext("h2") for m in months] == ["November 2026"]
    assert [a.get("href") for a in months[0].findall(".//a")] == ["2026-11-24/", "2026-11-23/"]


def test_article_page(built: Path) -> None:
    page = parse_html(built / "2026/11/24/ship-runs-aground-in-the-strait/index.html")
    story = page.find(".//main/article")
    assert story.findtext(".//h1") == "Ship runs aground in the strait"
    assert story.findtext(".//p[@class='standfirst']") == "Traffic halted."
    byline = story.find(".//p[@class='byline']")
    assert [(a.text, a.get("href")) for a in byline.findall("a")] == [
        ("Amira Haddad", "../../../../authors/amira-haddad/"),
        ("Joe Okafor", "../../../../authors/joe-okafor/")]
    assert story.findtext(".//span[@class='dateline']") == "PORT AZEL"
    times = {t.get("class"): t.get("datetime") for t in story.findall(".//p[@class='meta']/time")}
    assert times == {"published": "2026-11-24T06:00:00+00:00",
                     "updated": "2026-11-24T10:00:00+00:00"}
    assert "translated by machine" in story.find(".//p[@role='note']").text_content()
    figure = story.find(".//figure")
    assert figure.find("img").get("alt") == "A ship at sea"
    assert figure.find("img").get("src") == "../../../../images/ship.png"
    assert figure.findtext(".//span[@class='credit']") == "Agency"
    assert story.find(".//div[@class='story-body']/h2").text_content().strip() == "Queue"
    corrections = story.find(".//section[@class='corrections']")
    assert "misspelt" in corrections.text_content()
    assert corrections.find(".//time").get("datetime") == "2026-11-24T10:00:00+00:00"
    source = story.find(".//p[@class='source']/a")
    assert (source.text, source.get("href")) == ("Wire Agency", "https://wire.example/story")
    taxonomy = [(a.text, a.get("href")) for a in story.findall(".//nav//a")]
    assert taxonomy == [("World", "../../../../topics/world/"),
                        ("Shipping", "../../../../tags/shipping/"),
                        ("Strait", "../../../../tags/strait/")]
    pager = page.find(".//nav[@class='pager']")
    assert pager.find(".//a[@rel='next']").get("href") == "../markets-fall/"
    assert pager.find(".//a[@rel='prev']") is None


def test_previous_next_follow_the_briefing_order(built: Path) -> None:
    page = parse_html(built / "2026/11/24/markets-fall/index.html")
    assert page.find(".//a[@rel='prev']").get("href") == "../ship-runs-aground-in-the-strait/"
    assert page.find(".//a[@rel='next']").get("href") == "../trade-slows/"


def test_listing_pages(built: Path) -> None:
    for path in ("topics/world/index.html", "topics/business/index.html",
                 "tags/shipping/index.html", "tags/shipping/page/2/index.html",
                 "authors/amira-haddad/index.html", "authors/joe-okafor/index.html",
                 "topics/index.html", "tags/index.html", "authors/index.html", "404.html"):
        tree = parse_html(built / path)
        assert len(tree.findall(".//h1")) == 1, path
    author = parse_html(built / "authors/amira-haddad/index.html")
    assert author.findtext(".//h1") == "Amira Haddad"
    assert author.findtext(".//p[@class='standfirst']") == "Correspondent."
    assert not (built / "topics/science").exists()  # configured but empty


def test_pagination_edges_end_to_end(built: Path) -> None:
    # per_page is 2: 'shipping' has 3 stories (2 pages), 'strait' 1 story (1 page).
    first = parse_html(built / "tags/shipping/index.html")
    assert [a.text for a in first.findall(".//ol//h2/a")] == ["Markets fall",
                                                            "Ship runs aground in the strait"]
    assert first.find(".//a[@rel='next']").get("href") == "page/2/"
    assert first.find(".//a[@rel='prev']") is None
    second = parse_html(built / "tags/shipping/page/2/index.html")
    assert [a.text for a in second.findall(".//ol//h2/a")] == ["Earlier story"]
    assert second.find(".//a[@rel='prev']").get("href") == "../../"
    assert second.find(".//a[@rel='next']") is None
    assert not (built / "tags/shipping/page/3").exists()
    assert not (built / "tags/strait/page").exists()
    assert parse_html(built / "tags/strait/index.html").find(".//nav[@class='pager']") is None


@pytest.mark.parametrize(("count", "pages"), [(1, 1), (2, 1), (3, 2)])
def test_pagination_page_counts(tmp_path: Path, count: int, pages: int) -> None:
    articles = {f"s{i}": (article(f"Story {i}", f"2026-11-2{i}T08:00:00+00:00", tags=["t"]), "x")
                for i in range(count)}
    site = make_site(tmp_path, config={"per_page": 2}, articles=articles)
    build_site(site)
    made = sorted(p.parent.relative_to(site / "output/tags/t").as_posix()
                  for p in (site / "output/tags/t").rglob("index.html"))
    assert made == ["."] + [f"page/{n}" for n in range(2, pages + 1)]


def test_404_uses_absolute_urls(built: Path) -> None:
    page = parse_html(built / "404.html")
    assert page.findtext(".//h1") == "Page not found"
    stylesheet = page.find(".//link[@rel='stylesheet']").get("href")
    assert stylesheet == "https://example.org/static/style.css"


def test_static_and_content_files_copied(built: Path) -> None:
    assert (built / "static/style.css").read_bytes() == (
        Path(__file__).parent.parent / "layouts/static/style.css").read_bytes()
    assert (built / "images/ship.png").read_bytes() == PNG


def test_one_h1_and_landmarks_on_every_page(built: Path) -> None:
    for page in html_pages(built):
        tree = parse_html(page)
        assert len(tree.findall(".//h1")) == 1, page
        assert len(tree.findall(".//main")) == 1, page
        assert tree.find(".//header") is not None and tree.find(".//nav") is not None
        skip = tree.find(".//body/a")
        assert skip.get("href") == "#main" and tree.find(".//main").get("id") == "main"


def test_stale_pages_removed_when_an_article_is_deleted(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={
        "keep": (article("Keep me", tags=["kept"]), "x"),
        "gone": (article("Delete me", "2026-11-20T08:00:00+00:00", tags=["goneonly"]), "y")})
    build_site(site)
    out = site / "output"
    assert (out / "2026/11/20/delete-me/index.html").is_file()
    (out / "keep.txt").write_text("User-agent: *\n", encoding="utf-8")  # not build output
    (site / "content/gone.md").unlink()
    report = build_site(site)
    assert not (out / "2026/11/20/delete-me").exists()
    assert not (out / "tags/goneonly").exists()
    assert not (out / "editions/2026-11-20").exists()
    assert report.removed >= 3
    assert (out / "keep.txt").read_text(encoding="utf-8") == "User-agent: *\n"
    for page in html_pages(out):
        assert "Delete me" not in page_text(page)


def test_nothing_written_outside_the_output_folder(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "x")})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    build_site(site, output=tmp_path / "public")
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                   if not p.is_relative_to(tmp_path / "public"))
    new = {p for p in after if p not in before}
    # Besides the output folder, a build leaves only its hidden bookkeeping files beside it
    # (.public.lock, .public.state.json: no staging folder) and the site's render cache.
    cache = tmp_path / "site" / ".cache"
    outside = {p for p in new if not (tmp_path / p).is_relative_to(cache)}
    assert all(p.parent == Path(".") and p.name.startswith(".public.") for p in outside), outside
    assert all((tmp_path / p).is_file() for p in outside), outside
    assert (tmp_path / "public" / "index.html").is_file()


def test_time_zone_edition_end_to_end(tmp_path: Path) -> None:
    site = make_site(tmp_path, config={"timezone": "Asia/Dubai"}, articles={
        "late": (article("Late story", "2026-11-24T23:30:00+00:00"), "x"),
        "day": (article("Day story", "2026-11-24T10:00:00+00:00"), "y")})
    build_site(site, now="2026-11-25T06:00:00+00:00")
    out = site / "output"
    late = parse_html(out / "editions/2026-11-25/index.html")
    assert late.find(".//section[@class='lead-story']").findtext(".//h2/a") == "Late story"
    assert parse_html(out / "editions/2026-11-24/index.html").find(
        ".//section[@class='lead-story']").findtext(".//h2/a") == "Day story"
    page = parse_html(out / "2026/11/25/late-story/index.html")
    assert page.find(".//time[@class='published']").get("datetime") == "2026-11-25T03:30:00+04:00"


def test_empty_site_builds(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    report = build_site(site)
    assert report.articles == 0
    home = parse_html(site / "output/index.html")
    assert home.findtext(".//h1") == "Test Briefing"
    assert (site / "output/editions/index.html").is_file()


def test_content_errors_are_all_reported_and_nothing_written(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={
        "a": ({"title": "A"}, "x"), "b": ({"title": "B", "date": "soon"}, "y"),
        "c": (article("C", topic="nope"), "z")})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    assert sorted({p.path for p in caught.value.problems}) == [
        "content/a.md", "content/b.md", "content/c.md"]
    assert all(p.line for p in caught.value.problems)
    assert not (site / "output").exists()


def test_duplicate_urls_are_an_error(tmp_path: Path) -> None:
    site = make_site(tmp_path, articles={"a": (article("Same"), "x"), "b": (article("Same"), "y")})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    assert "same URL" in caught.value.problems[0].message


def test_build_is_deterministic(tmp_path: Path) -> None:
    site = make_site(tmp_path, config=CONFIG, articles=ARTICLES, editions=EDITIONS,
                     files={"content/images/ship.png": PNG})
    build_site(site, output=tmp_path / "one")
    build_site(site, output=tmp_path / "two")
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*")
           if p.is_file() and not p.name.startswith(".")}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*")
           if p.is_file() and not p.name.startswith(".")}
    assert one == two
