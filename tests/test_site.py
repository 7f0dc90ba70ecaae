"""site.py: editions in the site's zone, leads, section order, neighbours, pagination."""

from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.config import Config, Topic
from generator.models import Article, Author, EditionNote, Tag
from generator.site import (
    Neighbours,
    build_site_model,
    edition_day,
    link_content,
    newest_first,
    paginate,
    relative_link,
)

TOPICS = (Topic("world", "World"), Topic("business", "Business"), Topic("science", "Science"))
NOW = datetime.fromisoformat("2026-12-01T00:00:00+00:00")


def make_config(timezone: str = "UTC", per_page: int = 3) -> Config:
    return Config(root=Path("."), title="T", base_url="https://e.org/", timezone=timezone,
                  topics=TOPICS, per_page=per_page)


def story(slug: str, when: str, topic: str | None = None, **fields) -> Article:
    """A validated-looking Article without going through front matter."""
    chosen = next((t for t in TOPICS if t.slug == topic), None)
    return Article(path=f"content/{slug}.md", title=slug.title(),
                   date=datetime.fromisoformat(when), slug=slug, url=f"/{slug}/", body="",
                   topic=chosen, **fields)


def model(articles, timezone: str = "UTC", per_page: int = 3, notes=()):
    site, problems = build_site_model(articles, notes, make_config(timezone, per_page), NOW)
    return site


def test_edition_is_the_calendar_day_in_the_site_zone() -> None:
    late = story("late", "2026-11-24T23:30:00+00:00")
    assert edition_day(late, make_config("UTC")) == date(2026, 11, 24)
    assert edition_day(late, make_config("Asia/Dubai")) == date(2026, 11, 25)
    assert edition_day(late, make_config("America/New_York")) == date(2026, 11, 24)


def test_2330_utc_lands_in_next_days_edition_in_dubai() -> None:
    articles = [story("late", "2026-11-24T23:30:00+00:00"),
                story("early", "2026-11-24T10:00:00+00:00")]
    dubai = model(articles, "Asia/Dubai")
    assert [(e.day.isoformat(), [a.slug for a in e.articles]) for e in dubai.editions] == [
        ("2026-11-25", ["late"]), ("2026-11-24", ["early"])]
    utc = model(articles, "UTC")
    assert [e.day.isoformat() for e in utc.editions] == ["2026-11-24"]
    assert {a.slug for a in utc.editions[0].articles} == {"late", "early"}


def test_editions_newest_first_and_latest() -> None:
    site = model([story("a", "2026-11-20T08:00:00+00:00"), story("b", "2026-11-22T08:00:00+00:00"),
                  story("c", "2026-10-31T08:00:00+00:00")])
    assert [e.day.isoformat() for e in site.editions] == ["2026-11-22", "2026-11-20",
                                                          "2026-10-31"]
    assert site.latest.day == date(2026, 11, 22)
    months = site.editions_by_month()
    assert [(m.isoformat(), len(eds)) for m, eds in months] == [("2026-11-01", 2),
                                                              ("2026-10-01", 1)]
    assert site.editions[0].url == "/editions/2026-11-22/"


def test_no_articles_means_no_editions() -> None:
    site = model([])
    assert site.editions == () and site.latest is None
    assert site.topics == () and site.tags == () and site.authors == ()


def test_lead_is_the_flagged_story_else_highest_priority_else_newest() -> None:
    day = "2026-11-24T"
    flagged = model([story("a", day + "09:00:00+00:00", priority=9),
                     story("b", day + "08:00:00+00:00", lead=True)])
    assert flagged.latest.lead.slug == "b"
    by_priority = model([story("a", day + "09:00:00+00:00"),
                         story("b", day + "08:00:00+00:00", priority=2)])
    assert by_priority.latest.lead.slug == "b"
    newest = model([story("a", day + "07:00:00+00:00"), story("b", day + "08:00:00+00:00")])
    assert newest.latest.lead.slug == "b"
    two_flags = model([story("a", day + "07:00:00+00:00", lead=True, priority=1),
                       story("b", day + "08:00:00+00:00", lead=True)])
    assert two_flags.latest.lead.slug == "a"


def test_sections_follow_config_order_and_untopical_last() -> None:
    day = "2026-11-24T"
    site = model([story("lead", day + "11:00:00+00:00", "business", lead=True),
                  story("sci", day + "10:00:00+00:00", "science"),
                  story("none", day + "09:00:00+00:00"),
                  story("biz", day + "08:00:00+00:00", "business"),
                  story("w1", day + "07:00:00+00:00", "world"),
                  story("w2", day + "06:00:00+00:00", "world", priority=1)])
    edition = site.latest
    assert edition.lead.slug == "lead"
    assert [(s.topic.slug if s.topic else None, s.name) for s in edition.sections] == [
        ("world", "World"), ("business", "Business"), ("science", "Science"),
        (None, "More news")]
    assert [a.slug for a in edition.sections[0].articles] == ["w2", "w1"]
    assert [a.slug for a in edition.articles] == ["lead", "w2", "w1", "biz", "sci", "none"]


def test_previous_and_next_within_the_edition() -> None:
    site = model([story("a", "2026-11-24T10:00:00+00:00", "world"),
                  story("b", "2026-11-24T09:00:00+00:00", "world"),
                  story("c", "2026-11-24T08:00:00+00:00", "business"),
                  story("other-day", "2026-11-23T08:00:00+00:00", "world")])
    hood = {url: (n.previous.slug if n.previous else None, n.next.slug if n.next else None)
            for url, n in site.neighbours.items()}
    assert hood == {"/a/": (None, "b"), "/b/": ("a", "c"), "/c/": ("b", None),
                    "/other-day/": (None, None)}
    assert site.edition_of["/c/"].day == date(2026, 11, 24)
    assert site.edition_of["/other-day/"].day == date(2026, 11, 23)
    # Made without __init__ (one per article), yet the very value __init__ makes.
    pair = site.neighbours["/b/"]
    made = Neighbours(pair.previous, pair.next)
    assert pair == made and pickle.dumps(pair) == pickle.dumps(made)


@pytest.mark.parametrize(("count", "pages", "sizes"), [
    (0, 1, [0]), (1, 1, [1]), (3, 1, [3]), (4, 2, [3, 1]), (6, 2, [3, 3]), (7, 3, [3, 3, 1]),
])
def test_pagination_edges(count: int, pages: int, sizes: list[int]) -> None:
    articles = tuple(story(f"s{i}", "2026-11-24T08:00:00+00:00") for i in range(count))
    result = paginate(articles, 3, "/tags/x/")
    assert len(result) == pages
    assert [len(p.articles) for p in result] == sizes
    assert [p.url for p in result] == ["/tags/x/"] + [f"/tags/x/page/{n}/"
                                                      for n in range(2, pages + 1)]
    assert result[0].previous_url is None
    assert result[-1].next_url is None
    if pages > 1:
        assert result[0].next_url == "/tags/x/page/2/"
        assert result[1].previous_url == "/tags/x/"
    assert [a for p in result for a in p.articles] == list(articles)


def test_listings_topics_tags_authors() -> None:
    amira = Author("amira", "Amira", "Bio.", "https://e.org/a/")
    site = model([
        story("a", "2026-11-24T08:00:00+00:00", "world", tags=(Tag("ships", "Ships"),),
              authors=(amira,)),
        story("b", "2026-11-23T08:00:00+00:00", "world", tags=(Tag("ships", "ships"),
                                                                Tag("alpha", "Alpha"))),
        story("c", "2026-11-22T08:00:00+00:00", "science")], per_page=1)
    # Topics keep config order and skip empty ones; tags and authors are sorted by slug.
    assert [t.slug for t in site.topics] == ["world", "science"]
    assert [t.slug for t in site.tags] == ["alpha", "ships"]
    ships = site.tags[1]
    assert ships.name == "Ships" and ships.url == "/tags/ships/"
    assert [a.slug for a in ships.articles] == ["a", "b"]
    assert [p.url for p in ships.pages] == ["/tags/ships/", "/tags/ships/page/2/"]
    assert site.topics[0].kind == "topics" and site.topics[0].url == "/topics/world/"
    author = site.authors[0]
    assert (author.slug, author.name, author.description, author.url_of_profile) == (
        "amira", "Amira", "Bio.", "https://e.org/a/")


def test_newest_first_is_stable() -> None:
    same = "2026-11-24T08:00:00+00:00"
    ordered = newest_first([story("b", same), story("a", same), story("c",
                                                                      "2026-11-25T08:00:00+00:00")])
    assert [a.slug for a in ordered] == ["c", "a", "b"]


def test_edition_notes_attach_and_warn_when_orphaned() -> None:
    note = EditionNote("content/editions/2026-11-24.md", date(2026, 11, 24), "Hello")
    orphan = EditionNote("content/editions/2026-11-20.md", date(2026, 11, 20))
    site, problems = build_site_model([story("a", "2026-11-24T08:00:00+00:00")],
                                      [note, orphan], make_config(), NOW)
    assert site.latest.note is note
    assert [(p.path, p.level) for p in problems] == [("content/editions/2026-11-20.md",
                                                      "warning")]


@pytest.mark.parametrize(("target", "start", "expected"), [
    ("/", "/", "./"),
    ("/a/b/", "/", "a/b/"),
    ("/", "/a/b/", "../../"),
    ("/static/style.css", "/2026/11/24/x/", "../../../../static/style.css"),
    ("/tags/x/", "/tags/x/page/2/", "../../"),
    ("/404.html", "/a/", "../404.html"),
    ("/a/#part", "/b/", "../a/#part"),
    ("https://x.org/", "/a/", "https://x.org/"),
    ("/a", "/a/b/", ".."),
    ("/a/b", "/a/b/", "./"),
    ("/a/b/c.html#x", "/a/b/", "c.html#x"),
    ("/static/style.css", "/x.html", "static/style.css"),
    ("/a/b/", "/a/c.xml", "b/"),
    ("/.well-known/x", "/a/", "../.well-known/x"),
    ("/a/./b/", "/a/", "b/"),
    ("/ab/x/", "/a/", "../ab/x/"),
])
def test_relative_link(target: str, start: str, expected: str) -> None:
    assert relative_link(target, start) == expected


def test_link_content_rewrites_md_links() -> None:
    a = story("a", "2026-11-24T08:00:00+00:00")
    a = Article(**{**a.__dict__, "html": '<p><a href="b.md#x">b</a> <a href="gone.md">g</a> '
                                         '<a href="draft.md">d</a></p>'})
    b = story("b", "2026-11-23T08:00:00+00:00")
    draft = story("draft", "2026-11-23T08:00:00+00:00", draft=True)
    linked, problems = link_content([a, b], [a, b, draft])
    hrefs = [link.get("href") for link in lxml.html.fragment_fromstring(linked[0].html).iter("a")]
    assert hrefs == ["../b/#x", "gone.md", "draft.md"]
    assert sorted(p.message.split(": ", 1)[1] for p in problems) == [
        "content/draft.md is not published (a draft or dated in the future)",
        "content/gone.md does not exist"]


def test_relative_link_matches_posixpath_relpath_for_many_paths() -> None:
    import random

    parts = ["a", "ab", "b", "2026", "x.html", "topics", "", ".", "..", ".x"]
    rng = random.Random(5)
    for _ in range(20000):
        target = "/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 5)))
        target += rng.choice(["", "", "#", "#x"])
        page = "/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 5)))
        page += rng.choice(["/", "", "/index.html"])
        assert relative_link(target, page) == posix_link(target, page), (target, page)

def posix_link(target: str, from_url: str) -> str:
    """What relative_link promises, spelled with posixpath.relpath."""
    import posixpath

    if "://" in target or target.startswith(("#", "mailto:", "tel:")):
        return target
    start = from_url if from_url.endswith("/") else posixpath.dirname(from_url) + "/"
    path, _, fragment = target.partition("#")
    rel = posixpath.relpath(path, start)
    if path.endswith("/") and rel != ".":
        rel += "/"
    return ("./" if rel == "." else rel) + ("#" + fragment if fragment else "")


SEGMENTS = st.sampled_from(["a", "b", "ab", "2026", "11", "x.html", "feed.xml", "", ".", "..",
                            ".x", "a.", "topics", "page"])
SITE_PATHS = st.lists(SEGMENTS, max_size=6).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=400, deadline=None)
@given(target=SITE_PATHS, fragment=st.sampled_from(["", "#", "#part"]),
       page=SITE_PATHS, folder=st.booleans())
def test_relative_link_agrees_with_posixpath(target: str, fragment: str, page: str,
                                             folder: bool) -> None:
    from_url = page + "/" if folder and not page.endswith("/") else page
    assert relative_link(target + fragment, from_url) == posix_link(target + fragment, from_url)
