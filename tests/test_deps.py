"""Incremental page rendering (generator/deps.py): reads are recorded, and a rebuild renders
again exactly the pages whose reads changed, with output equal to a build from scratch."""

from __future__ import annotations

import json
import shutil
import sqlite3
from array import array
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from generator import deps, parallel
from generator.build import BuildOptions
from generator.config import load_config
from generator.deps import ModelIndex, PageRecords
from generator.models import Article
from generator.pipeline import assemble
from generator.render import page_jobs
from tests.conftest import NOW, article, build_site, make_site


def small_site(root: Path, count: int = 8, layouts: dict[str, str] | None = None,
               config: dict[str, object] | None = None) -> Path:
    """A site with `count` stories over three days, two topics and shared tags."""
    articles = {}
    for n in range(count):
        articles[f"story-{n}"] = (
            article(f"Story {n}", f"2026-11-{22 + n % 3}T{(8 + n) % 24:02d}:{n % 60:02d}:00+00:00",
                    topic="world" if n % 2 else "business", tags=["ports", f"tag {n % 3}"],
                    author="Ana Lima" if n % 2 else "Ben Okoro"),
            f"Story {n} begins here.\n\nIt links to [the next](story-{(n + 1) % count}.md).")
    return make_site(root, config=config, articles=articles, layouts=layouts)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (but the manifest) and its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".briefing-manifest.json"}


def assert_same_as_fresh_build(site: Path, **options: object) -> None:
    """The incremental output equals a build from scratch (no cache, empty output folder)."""
    fresh = site.parent / "fresh-output"
    shutil.rmtree(fresh, ignore_errors=True)
    build_site(site, output=fresh, use_cache=False, **options)
    assert tree(site / "output") == tree(fresh)


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a file (the no-change shortcut then sees a new size or mtime)."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the index and fingerprints -------------------------------------------------------------


def model(site: Path):
    options = BuildOptions(site_dir=site, now=NOW)
    return assemble(options, load_config(site), NOW).site


def test_the_index_names_every_tracked_object_by_a_stable_key(tmp_path: Path) -> None:
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    assert index.objects["site"] is site
    assert index.objects["article:content/story-0.md"].title == "Story 0"
    assert {key.split(":")[0] for key in index.objects} == {
        "site", "article", "edition", "listing", "page"}
    assert not index.ambiguous
    again = ModelIndex(model(tmp_path / "site"))
    assert set(again.objects) == set(index.objects)


def test_fingerprints_are_equal_for_equal_values_and_differ_otherwise(tmp_path: Path) -> None:
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    other = ModelIndex(model(tmp_path / "site"))  # a second model of the same inputs
    for key in index.objects:
        assert index.object_value(key) == other.object_value(key) or key == "site"
    first, second = site.articles[0], site.articles[1]
    assert index.fingerprint(first) == index.fingerprint(first)
    assert index.fingerprint(first) != index.fingerprint(second)  # named by key, not value
    assert index.fingerprint(("a", 1, None)) == index.fingerprint(("a", 1, None))
    assert index.fingerprint("1") != index.fingerprint(1)
    assert index.fingerprint(NOW) != index.fingerprint(NOW.replace(tzinfo=None))
    assert index.value("article:content/story-0.md", "title") == index.fingerprint("Story 0")
    assert index.value("article:content/gone.md", "title") is None


def test_a_value_with_no_stable_form_has_no_fingerprint(tmp_path: Path) -> None:
    index = ModelIndex(model(small_site(tmp_path / "site")))
    assert index.fingerprint(lambda: 1) is None
    assert index.fingerprint([open]) is not None  # a built-in is named, not pickled


def test_reads_are_recorded_only_while_tracking_and_reading(tmp_path: Path) -> None:
    site = model(small_site(tmp_path / "site"))
    story = site.articles[0]
    with deps.reading() as reads:
        assert story.title
    assert reads == set()  # not tracking: nothing recorded
    with deps.tracking():
        assert story.title  # tracking, but no page is being read
        with deps.reading() as reads:
            assert story.title
            assert story.modified  # a property: it and the fields it reads
    assert (id(story), "title") in reads
    assert (id(story), "modified") in reads
    assert (id(story), "date") in reads
    assert "__getattribute__" not in Article.__dict__  # the hook is gone again


def test_a_record_names_reads_by_key(tmp_path: Path) -> None:
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    story = site.articles[0]
    record = deps.make_record(index, "a/index.html", b"ctx", {(id(story), "title"),
                                                              (id(object()), "x")}, "digest")
    assert record.pairs(index.numbering()) == [(f"article:{story.path}", "title")]


def test_a_record_keeps_every_data_read_of_an_indexed_object(tmp_path: Path) -> None:
    """On every page of a site, the record holds exactly the reads of indexed objects that are
    not properties or methods, decided read by read."""
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    renderer = parallel.Renderer(site)
    names: set[str] = set()
    with deps.tracking():
        for job in page_jobs(site):
            with deps.reading() as reads:
                assert renderer.render(job) is not None
            record = deps.make_record(index, job.path, None, reads, "")
            pairs = record.pairs(index.numbering())
            assert sorted(pairs) == sorted({
                (index.key_of[obj], name) for obj, name in reads
                if obj in index.key_of and not deps._is_code(index.kind_of[obj], name)})
            names.update(name for _, name in pairs)
    assert {"title", "html", "articles"} <= names and "modified" not in names  # a property


# --- rebuilds ------------------------------------------------------------------------------


def test_a_rebuild_after_a_body_edit_renders_only_what_shows_the_body(tmp_path: Path) -> None:
    """The article's page, the feeds (full content) and the lists that show its word count."""
    site = small_site(tmp_path / "site", count=30)
    first = build_site(site)
    assert first.pages_rendered == first.pages
    edit(site / "content" / "story-3.md", "begins here.", "begins here, now longer.")
    report = build_site(site)
    assert 1 <= report.pages_rendered <= 20 < first.pages
    assert report.written <= report.pages_rendered
    assert_same_as_fresh_build(site)
    # Same word count, not in the summary: the page and the feeds with its full text.
    edit(site / "content" / "story-3.md", "It links to", "It points to")
    report = build_site(site)
    assert report.pages_rendered <= 7
    assert_same_as_fresh_build(site)


EDITS = [
    ("story-3.md", "title: Story 3", "title: Story three"),
    ("story-3.md", "2026-11-22T11:03:00", "2026-11-24T09:00:00"),
    ("story-3.md", "- ports", "- harbours"),
    ("story-3.md", "topic: world", "topic: business"),
    ("story-3.md", "author: Ana Lima", "author: Cy Dube"),
    ("story-3.md", "title: Story 3", "title: Story 3\ndraft: true"),
    ("story-0.md", "begins here.", "begins here, and [links on](story-5.md)."),
]


@pytest.mark.parametrize("change", EDITS)
def test_a_rebuild_after_any_edit_equals_a_fresh_build(tmp_path: Path,
                                                       change: tuple[str, str, str]) -> None:
    site = small_site(tmp_path / "site")
    total = build_site(site).pages
    name, old, new = change
    edit(site / "content" / name, old, new)
    report = build_site(site)
    assert 0 < report.pages_rendered < total
    assert_same_as_fresh_build(site)


def test_adding_and_removing_articles_equals_a_fresh_build(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    build_site(site)
    (site / "content" / "story-2.md").unlink()
    build_site(site)
    assert_same_as_fresh_build(site)
    make_site(site, articles={"late": (article("Late news", "2026-11-24T11:30:00+00:00",
                                                topic="world", tags=["ports"]), "Late.")})
    build_site(site)
    assert_same_as_fresh_build(site)


def test_a_listing_losing_a_page_does_not_render_every_page(tmp_path: Path) -> None:
    """Every page links to each topic in its navigation; the link does not depend on how many
    pages the topic's listing has."""
    site = small_site(tmp_path / "site", count=21, config={"per_page": 2})
    total = build_site(site).pages
    world = site / "output" / "topics" / "world" / "page"
    before = len(list(world.iterdir()))
    (site / "content" / "story-1.md").unlink()  # world stories
    (site / "content" / "story-3.md").unlink()
    report = build_site(site)
    assert len(list(world.iterdir())) == before - 1  # the topic lost a page
    # The shifted list pages, the neighbours, the edition and the feeds: not the other
    # stories' pages, which all show the topic links.
    assert report.pages_rendered < total - 20
    assert_same_as_fresh_build(site)


def test_a_layout_reading_the_whole_site_sees_a_new_article(tmp_path: Path) -> None:
    """A page that counts `site.articles` depends on the list, whatever page it is."""
    layout = ('{% extends "base.html" %}{% block main %}<p id="count">'
              '{{ site.articles|length }} stories, {{ site.editions_by_month()|length }} months'
              '</p>{% endblock %}')
    site = small_site(tmp_path / "site", layouts={"404.html": layout})
    before = build_site(site).articles
    make_site(site, articles={"late": (article("Late", "2026-11-24T11:30:00+00:00"), "L.")})
    report = build_site(site)
    assert report.articles == before + 1
    assert f">{before + 1} stories" in (site / "output" / "404.html").read_text(encoding="utf-8")
    assert_same_as_fresh_build(site)


def test_a_layout_or_config_change_renders_every_page(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    total = build_site(site).pages
    (site / "layouts").mkdir(exist_ok=True)
    (site / "layouts" / "404.html").write_text("<p>gone</p>", encoding="utf-8")
    assert build_site(site).pages_rendered == total
    edit(site / "config.yaml", "Test Briefing", "Test Briefing Daily")
    assert build_site(site).pages_rendered == total
    assert_same_as_fresh_build(site)


def test_the_clock_decides_pages_that_read_it(tmp_path: Path) -> None:
    """news-sitemap.xml lists the last two days' stories: a later clock renders it again."""
    site = small_site(tmp_path / "site")
    build_site(site)
    build_site(site, now="2026-11-26T12:00:00+00:00")
    assert_same_as_fresh_build(site, now=datetime.fromisoformat("2026-11-26T12:00:00+00:00"))


def test_a_changed_output_file_is_rendered_again(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    build_site(site)
    page = next((site / "output").glob("2026/11/*/*/index.html"))
    page.write_text("vandalised", encoding="utf-8")
    edit(site / "content" / "story-1.md", "begins here.", "begins here again.")
    build_site(site)
    assert_same_as_fresh_build(site)


def test_records_of_another_output_state_are_not_used(tmp_path: Path) -> None:
    """A build killed between the swap and saving its records leaves records that describe an
    older output: they are refused, and every page renders."""
    site = small_site(tmp_path / "site")
    build_site(site)
    records = PageRecords.path_for(site, site / "output")
    old = records.read_bytes()
    edit(site / "content" / "story-1.md", "begins here.", "begins here again.")
    build_site(site)
    records.write_bytes(old)
    edit(site / "content" / "story-1.md", "begins here again.", "begins here.")
    report = build_site(site)
    assert report.pages_rendered == report.pages
    assert_same_as_fresh_build(site)


@pytest.mark.parametrize("damage", [b"not a database", b""])
def test_damaged_records_are_ignored_and_replaced(tmp_path: Path, damage: bytes) -> None:
    site = small_site(tmp_path / "site")
    build_site(site)
    records = PageRecords.path_for(site, site / "output")
    records.write_bytes(damage)
    edit(site / "content" / "story-1.md", "begins here.", "begins here again.")
    report = build_site(site)
    assert report.pages_rendered == report.pages
    with sqlite3.connect(records) as db:
        assert db.execute("SELECT count(*) FROM pages").fetchone()[0] == report.pages
    assert_same_as_fresh_build(site)


@pytest.mark.parametrize("damage", [
    "DELETE FROM objects WHERE key = (SELECT min(key) FROM objects)",  # a row lost
    "UPDATE objects SET pairs = '[[1, 2' WHERE key = 'site'",          # a row cut short
    "UPDATE objects SET pairs = '[[999999999, \"title\", null]]'",    # pairs the pages lack
])
def test_records_missing_pairs_are_not_used(tmp_path: Path, damage: str) -> None:
    site = small_site(tmp_path / "site")
    build_site(site)
    with sqlite3.connect(PageRecords.path_for(site, site / "output")) as db:
        db.execute(damage)
    edit(site / "content" / "story-1.md", "begins here.", "begins here again.")
    report = build_site(site)
    assert report.pages_rendered == report.pages
    assert_same_as_fresh_build(site)
    edit(site / "content" / "story-1.md", "begins here again.", "begins here.")
    assert build_site(site).pages_rendered < report.pages  # saved afresh, usable again


def test_records_stay_usable_edit_after_edit(tmp_path: Path) -> None:
    """Each rebuild rewrites only the rows of objects its pages read, and every pair a page
    names stays stored: edit after edit, few pages render and the output is a fresh build's."""
    site = small_site(tmp_path / "site", count=8)
    first = build_site(site)
    path = PageRecords.path_for(site, site / "output")
    edits = [("story-1.md", "begins here.", "begins here again."),
             ("story-2.md", "title: Story 2", "title: Story two"),
             ("story-3.md", "begins here.", "begins here, and goes on."),
             ("story-2.md", "title: Story two", "title: Story 2")]
    for name, old, new in edits:
        edit(site / "content" / name, old, new)
        report = build_site(site)
        assert 0 < report.pages_rendered < first.pages
        assert_same_as_fresh_build(site)
        with sqlite3.connect(path) as db:
            meta = dict(db.execute("SELECT name, value FROM meta"))
            stored = db.execute("SELECT sum(n) FROM objects").fetchone()[0]
            ids = {n for (pairs,) in db.execute("SELECT pairs FROM objects")
                   for n, _, _ in json.loads(pairs)}
            pages = {n for (blob,) in db.execute("SELECT deps FROM pages")
                     for n in array(deps._IDS, blob)}
            assert db.execute("PRAGMA page_size").fetchone()[0] == 16384  # made afresh
        assert stored == len(ids) == int(meta["pairs"]) and max(ids) < int(meta["next"])
        assert pages <= ids  # every pair a page names has its row


def test_no_cache_neither_reads_nor_writes_records(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    build_site(site, use_cache=False)
    assert not PageRecords.path_for(site, site / "output").exists()
    report = build_site(site, use_cache=False)
    assert report.pages_rendered == report.pages


def test_parallel_rendering_gives_the_same_records_and_output(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_PAGES_THRESHOLD", 0)
    site = small_site(tmp_path / "site", count=12)
    build_site(site, jobs=2)
    edit(site / "content" / "story-4.md", "title: Story 4", "title: Story four")
    report = build_site(site, jobs=2)
    assert 0 < report.pages_rendered < report.pages
    assert_same_as_fresh_build(site)
    serial = make_site(tmp_path / "serial")
    shutil.rmtree(serial)
    shutil.copytree(site, serial, ignore=shutil.ignore_patterns("output", ".cache",
                                                                "fresh-output"))
    build_site(serial, jobs=1)
    with sqlite3.connect(PageRecords.path_for(serial, serial / "output")) as db:
        serial_pages = db.execute("SELECT count(*) FROM pages").fetchone()[0]
    assert serial_pages == report.pages


def test_plan_keeps_only_pages_whose_reads_are_unchanged(tmp_path: Path) -> None:
    site_dir = small_site(tmp_path / "site")
    build_site(site_dir)
    site = model(site_dir)
    index = ModelIndex(site)
    jobs = page_jobs(site)
    config = load_config(site_dir)
    from generator.pipeline import page_records
    from generator.write import intact_files
    _, records, _ = page_records(site, config, BuildOptions(site_dir=site_dir, now=NOW),
                                 site_dir / "output")
    same, render = deps.plan_pages(jobs, records, index, intact_files(site_dir / "output"))
    assert len(same) == len(jobs) and not render
    assert all(f.same and f.data == b"" for f in same)


@dataclass(frozen=True)
class _Holder:
    value: object


def test_untracked_dataclasses_are_fingerprinted_by_value(tmp_path: Path) -> None:
    index = ModelIndex(model(small_site(tmp_path / "site")))
    assert index.fingerprint(_Holder("a")) == index.fingerprint(_Holder("a"))
    assert index.fingerprint(_Holder("a")) != index.fingerprint(_Holder("b"))


def test_fingerprints_do_not_depend_on_how_parts_are_shared(tmp_path: Path) -> None:
    """Strings equal but not the same object (a cold parse against the source cache) give
    the same fingerprint, so a rebuild after a cold build does not render every page."""
    index = ModelIndex(model(small_site(tmp_path / "site")))
    text = "a shared title " * 4
    copy = "".join(list(text))
    assert copy == text and copy is not text
    assert index.fingerprint((text, text)) == index.fingerprint((text, copy))
    assert index.fingerprint([_Holder(text), text]) == index.fingerprint([_Holder(copy), text])


def test_remembered_forms_keep_their_objects(tmp_path: Path) -> None:
    """The forms of the model's shared objects (tags, bylines) are remembered by id: the
    memo keeps each object, so a new object never takes a forgotten one's id and form."""
    from generator.models import Tag
    index = ModelIndex(model(small_site(tmp_path / "site")))
    fresh = ModelIndex(model(tmp_path / "site"))
    for n in range(200):
        tag = Tag(f"tag-{n}", f"tag {n}")
        assert index.fingerprint((tag,)) == fresh.fingerprint((Tag(f"tag-{n}", f"tag {n}"),))
        del tag
        when = NOW.replace(minute=n % 60, second=n // 60)
        assert index.fingerprint(_Holder(when)) == fresh.fingerprint(_Holder(
            NOW.replace(minute=n % 60, second=n // 60)))
        del when


def test_fingerprints_tell_kinds_times_and_zones_apart(tmp_path: Path) -> None:
    from datetime import UTC, date, timedelta, timezone
    from zoneinfo import ZoneInfo
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    story = site.articles[0]
    key = index.key_of[id(story)]
    shapes = [(1,), [1], {1: None}, ("t", key), ["t", key], (story,), [story], story,
              ["@", key], ("@", key), {"a": 1}, ["D", "a", 1], date(2026, 11, 24),
              ("y", date(2026, 11, 24).toordinal()), None, "", 0, False, 0.0, b""]
    prints = [index.fingerprint(value) for value in shapes]
    assert None not in prints and len(set(prints)) == len(prints)
    london = ZoneInfo("Europe/London")
    first = datetime(2026, 10, 25, 1, 30, tzinfo=london)  # happens twice: fold tells which
    times = [first, first.replace(fold=1), first.astimezone(UTC),
             first.replace(tzinfo=timezone(timedelta(hours=1))),
             first.replace(tzinfo=timezone(timedelta(hours=1), "BST")),
             first.replace(tzinfo=ZoneInfo("Europe/Dublin")), first.replace(tzinfo=None)]
    prints = [index.fingerprint(value) for value in times]
    assert len(set(prints)) == len(times)
    assert index.fingerprint(first) == index.fingerprint(datetime(2026, 10, 25, 1, 30,
                                                                  tzinfo=london))


@pytest.mark.parametrize("number", ["zero", "past the last"])
def test_a_page_naming_a_pair_the_records_lack_renders(tmp_path: Path, number: str) -> None:
    from generator.pipeline import page_records
    from generator.write import intact_files
    site_dir = small_site(tmp_path / "site")
    build_site(site_dir)
    path = PageRecords.path_for(site_dir, site_dir / "output")
    with sqlite3.connect(path) as db:
        last = int(db.execute("SELECT value FROM meta WHERE name = 'next'").fetchone()[0])
        (blob,) = db.execute("SELECT deps FROM pages WHERE path = 'index.html'").fetchone()
        ids = array(deps._IDS, blob)  # the pair numbers as save() writes them
        ids.append(0 if number == "zero" else last)
        db.execute("UPDATE pages SET deps = ? WHERE path = 'index.html'", (ids.tobytes(),))
    site = model(site_dir)
    index = ModelIndex(site)
    jobs = page_jobs(site)
    _, records, _ = page_records(site, load_config(site_dir),
                                 BuildOptions(site_dir=site_dir, now=NOW), site_dir / "output")
    same, render = deps.plan_pages(jobs, records, index, intact_files(site_dir / "output"))
    rendered = {job.path for job in render}
    assert "index.html" in rendered
    assert len(rendered) == (1 if number == "zero" else len(jobs))


def test_flat_forms_of_long_entry_lists_tell_values_apart(tmp_path: Path) -> None:
    """A long tuple or list of one dataclass (a sitemap's entries) is fingerprinted as one flat
    list of field values: equal lists agree, and any change inside an entry shows."""
    from datetime import timedelta

    from generator.render import SitemapEntry
    index = ModelIndex(model(small_site(tmp_path / "site")))
    fresh = ModelIndex(model(tmp_path / "site"))

    def entries(n: int = 10) -> list[SitemapEntry]:
        return [SitemapEntry(f"https://x.test/{k}/", NOW + timedelta(hours=k) if k % 3 else None)
                for k in range(n)]

    base = entries()
    assert index._form(base)[:3] == ["F", "L", "generator.render.SitemapEntry"]
    assert index.fingerprint(base) == fresh.fingerprint(entries())
    variants = [entries(9), entries(11), tuple(base), base[::-1],
                [*base[:4], SitemapEntry(base[4].loc, NOW), *base[5:]],   # a lastmod changed
                [*base[:4], SitemapEntry(base[4].loc, None), *base[5:]],  # a lastmod dropped
                [*base[:4], SitemapEntry("https://x.test/other/", base[4].lastmod), *base[5:]],
                [_Holder(value) for entry in base for value in (entry.loc, entry.lastmod)],
                [value for entry in base for value in (entry.loc, entry.lastmod)]]
    prints = [index.fingerprint(value) for value in (base, *variants)]
    assert None not in prints and len(set(prints)) == len(prints)


def test_a_change_only_in_a_flat_context_renders_the_page(tmp_path: Path) -> None:
    """sitemap.xml reads no model object, only its entries (a flat form): an `updated` date
    that moves one entry's lastmod renders it again."""
    from lxml import etree
    site = small_site(tmp_path / "site", count=9)
    build_site(site)
    edit(site / "content" / "story-3.md", "title: Story 3", "title: Story 3\nupdated: "
         "2026-11-24T23:00:00+00:00")
    build_site(site)
    assert_same_as_fresh_build(site)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    lastmods = etree.parse(str(site / "output" / "sitemap.xml")).xpath(
        "//s:url[contains(s:loc, 'story-3')]/s:lastmod/text()", namespaces=ns)
    assert lastmods and lastmods[0].startswith("2026-11-24T23:00")


# --- what articles are made from -------------------------------------------------------------


def test_article_inputs_cover_the_file_both_caches_keys_and_every_url(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An article's recorded fingerprint is trusted, unhashed, while its inputs are the same:
    they change with its file's bytes, with what the article check and the render cache are
    keyed on, and with any published article's URL (links to their files are rewritten)."""
    import dataclasses

    from generator.pipeline import markdown_settings
    from generator.sources import read_content
    site_dir = small_site(tmp_path / "site")
    config = load_config(site_dir)
    sources = read_content(site_dir)[0].articles
    published = model(site_dir).articles
    settings = markdown_settings(config)

    def inputs(sources=sources, published=published) -> dict[str, bytes]:
        return deps.article_inputs(sources, published, config, settings)

    base = inputs()
    assert set(base) == {a.path for a in published}
    assert base == inputs()
    edited = [dataclasses.replace(s, digest=b"other") if s.rel.endswith("story-3.md") else s
              for s in sources]
    assert {p for p, made in inputs(sources=edited).items() if made != base[p]} == {
        "content/story-3.md"}
    moved = [dataclasses.replace(a, url=a.url + "moved/") if a.path.endswith("story-4.md")
             else a for a in published]
    assert all(inputs(published=moved)[p] != base[p] for p in base)
    assert "content/story-3.md" not in inputs(sources=[dataclasses.replace(s, digest=b"")
                                                       for s in sources])
    monkeypatch.setattr(deps, "check_context", lambda config: b"other zone rules")
    assert all(inputs()[p] != base[p] for p in base)
    monkeypatch.undo()
    monkeypatch.setattr(deps, "settings_digest", lambda settings: "other extensions")
    assert all(inputs()[p] != base[p] for p in base)


def _checked_articles(site_dir: Path) -> set[str]:
    """The articles whose fingerprint the page check of a rebuild of `site_dir` computes."""
    from generator.pipeline import page_records
    options = BuildOptions(site_dir=site_dir, now=NOW)
    config = load_config(site_dir)
    assembly = assemble(options, config, NOW)
    index, records, _ = page_records(assembly.site, config, options, site_dir / "output",
                                     assembly.inputs)
    assert index is not None and records.valid
    computed: set[str] = set()
    object_value = index.object_value

    def spy(key: str) -> bytes | None:
        computed.add(key)
        return object_value(key)
    index.object_value = spy  # type: ignore[method-assign]
    assert records.changed_pairs(index) is not None
    return {key for key in computed if key.startswith("article:")}


def test_articles_made_from_the_same_inputs_are_not_hashed_again(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    build_site(site)
    edit(site / "content" / "story-3.md", "begins here.", "begins here, edited.")
    assert _checked_articles(site) == {"article:content/story-3.md"}
    build_site(site)
    assert_same_as_fresh_build(site)
    assert _checked_articles(site) == set()


def test_inputs_recorded_for_unrendered_articles_follow_a_url_change(tmp_path: Path) -> None:
    """A new URL changes every article's inputs; rows no rendered page rewrote get the new
    inputs too, so the build after that trusts them again."""
    site = small_site(tmp_path / "site")
    build_site(site)
    edit(site / "content" / "story-3.md", "2026-11-22T11:03:00", "2026-11-24T09:00:00")
    assert len(_checked_articles(site)) == len(model(site).articles)
    build_site(site)
    assert_same_as_fresh_build(site)
    assert _checked_articles(site) == set()


@pytest.mark.parametrize("change", [*EDITS, ("story-4.md", "begins here.", "begins anew."),
                                    ("../config.yaml", "name: World", "name: The World")])
def test_a_page_jobs_basis_decides_its_info_and_context(tmp_path: Path,
                                                        change: tuple[str, str, str]) -> None:
    """An article or list page's context digest is made from its basis (the article's or the
    page's fields, the neighbours, edition or listing by key, the listing's name...): wherever
    two builds' bases fingerprint the same, the page infos and contexts themselves do too
    (one story a list page, so edits change how many pages a listing has)."""
    site_dir = small_site(tmp_path / "site", config={"per_page": 1})

    def digests() -> dict[str, tuple[bytes | None, bytes | None]]:
        site = model(site_dir)
        index = ModelIndex(site)
        return {job.path: (index.job_fingerprint(job.template, job.info, job.context, job.basis),
                           index.job_fingerprint(job.template, job.info, job.context))
                for job in page_jobs(site) if job.basis is not None}

    before = digests()
    name, old, new = change
    edit(site_dir / "content" / name, old, new)
    after = digests()
    assert before and None not in {d for pair in before.values() for d in pair}
    same = [path for path in before.keys() & after.keys() if before[path][0] == after[path][0]]
    assert same and len(same) < len(before.keys() & after.keys())
    for path in same:
        assert before[path][1] == after[path][1], path


# --- records made in the page workers ------------------------------------------------------


def _records(site, index: ModelIndex, owned: bool, extra: bool = False
             ) -> list[deps.PageRecord]:
    """Every page's record, with the rows of the objects it owns (its job's basis) when
    `owned`; `extra`: the first page also reads a name of its article that is no field."""
    renderer = parallel.Renderer(site)
    records = []
    with deps.tracking():
        for job in page_jobs(site):
            with deps.reading() as reads:
                assert renderer.render(job) is not None
            if extra and not records:
                reads.add((id(site.articles[0]), "__module__"))  # class data, not code
            records.append(deps.make_record(index, job.path, b"c", reads, "out",
                                            job.basis[0] if owned and job.basis else ()))
    return records


def _saved(path: Path, records: list[deps.PageRecord], index: ModelIndex
           ) -> tuple[dict, dict, dict]:
    """The tables fresh records saved from `records` hold (each row's pairs decoded)."""
    saved = PageRecords(path, {}, {}, 1, False)
    for record in records:
        saved.add(record)
    saved.save(index, {record.path for record in records}, "code", "manifest")
    with sqlite3.connect(path) as db:
        objects = {key: (fp, n, sorted(map(tuple, json.loads(pairs))), made)
                   for key, fp, n, pairs, made in db.execute("SELECT * FROM objects")}
        pages = {p: (c, sorted(array(deps._IDS, ids)), o)
                 for p, c, ids, o in db.execute("SELECT * FROM pages")}
        meta = dict(db.execute("SELECT name, value FROM meta"))
    return objects, pages, meta


@pytest.mark.parametrize("extra", [False, True])
def test_rows_made_by_the_workers_equal_rows_made_in_the_saving_process(
        tmp_path: Path, extra: bool) -> None:
    """Fresh records hold the same rows whether the pages' own objects' fingerprints came
    from the workers (`PageRecord.rows`) or were made when saving, pairs other pages read
    included; every pair a page names has its row."""
    site = model(small_site(tmp_path / "site", config={"per_page": 2}))
    index = ModelIndex(site)
    with_rows = _records(site, index, owned=True, extra=extra)
    without = _records(site, index, owned=False, extra=extra)
    assert any(record.rows for record in with_rows)
    assert not any(record.rows for record in without)
    assert bool(with_rows[0].extra) == extra
    made = _saved(tmp_path / "workers.sqlite3", with_rows, ModelIndex(site))
    here = _saved(tmp_path / "here.sqlite3", without, ModelIndex(site))
    assert made == here
    objects, pages, meta = made
    numbers = {n for _, _, pairs, _ in objects.values() for n, _, _ in pairs}
    assert {n for _, ids, _ in pages.values() for n in ids} == numbers
    assert int(meta["pairs"]) == len(numbers) and max(numbers) < int(meta["next"])
    assert ("__module__" in {name for _, _, pairs, _ in objects.values()
                             for _, name, _ in pairs}) == extra
    story = objects[f"article:{site.articles[0].path}"]
    assert story[0] == index.object_value(f"article:{site.articles[0].path}")
    assert dict((name, fp) for _, name, fp in story[2])["title"] == index.fingerprint(
        site.articles[0].title).hex()


def test_an_object_two_pages_claim_is_rowed_from_both_pages_reads(tmp_path: Path) -> None:
    """Should two pages own one object, its row is made when saving, with every pair either
    page read (not one page's row over the other's)."""
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    story = site.articles[0]
    first = deps.make_record(index, "a", b"c", {(id(story), "title")}, "o", (story,))
    second = deps.make_record(index, "b", b"c", {(id(story), "url")}, "o", (story,))
    plain = [deps.make_record(index, path, b"c", reads, "o") for path, reads in
             (("a", {(id(story), "title")}), ("b", {(id(story), "url")}))]
    made = _saved(tmp_path / "twice.sqlite3", [first, second], ModelIndex(site))
    assert made == _saved(tmp_path / "plain.sqlite3", plain, ModelIndex(site))
    assert [name for _, name, _ in made[0][f"article:{story.path}"][2]] == ["title", "url"]


def test_an_owned_row_gains_the_pairs_other_pages_read(tmp_path: Path) -> None:
    """The row of an object a page owns holds the pairs other pages read that it did not,
    and the page names of both are as the saving process would make them."""
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    story = site.articles[0]
    owner = deps.make_record(index, "a", b"c", {(id(story), "title")}, "o", (story,))
    other = deps.make_record(index, "b", b"c", {(id(story), "url"), (id(story), "date")}, "o")
    plain = deps.make_record(index, "a", b"c", {(id(story), "title")}, "o")
    made = _saved(tmp_path / "made.sqlite3", [owner, other], ModelIndex(site))
    assert made == _saved(tmp_path / "plain.sqlite3", [plain, other], ModelIndex(site))
    assert {name for _, name, _ in made[0][f"article:{story.path}"][2]} == {"title", "url",
                                                                          "date"}


def test_a_read_that_is_no_field_is_checked_by_name_on_the_next_build(tmp_path: Path) -> None:
    """A recorded read of a name that is neither a field nor code keeps its own pair in
    fresh records, and the next build checks it like any other."""
    site = model(small_site(tmp_path / "site"))
    index = ModelIndex(site)
    records = _records(site, index, owned=True, extra=True)
    path = tmp_path / "pages.sqlite3"
    _saved(path, records, ModelIndex(site))
    loaded = PageRecords.load(path, "code", "manifest")
    assert loaded.valid
    again = ModelIndex(site)
    assert loaded.changed_pairs(again) == {0}
    key = f"article:{site.articles[0].path}"
    assert (key, "__module__") in {(key, name) for name in
                                   (pair[1] for pair in loaded._open(key))}


def test_numbers_name_each_objects_fields_apart(tmp_path: Path) -> None:
    site = model(small_site(tmp_path / "site"))
    numbering = ModelIndex(site).numbering()
    pairs = {}
    for first, places, _, key in numbering.slots.values():
        for name, place in places.items():
            assert numbering.pair(first + place) == (key, name)
            pairs[first + place] = (key, name)
    assert 0 not in pairs and max(pairs) < numbering.end
    assert len(set(pairs.values())) == len(pairs)


def test_plain_values_fingerprint_apart_without_pickling(tmp_path: Path) -> None:
    index = ModelIndex(model(small_site(tmp_path / "site")))
    values = [None, False, True, 0, 1, -1, 2 ** 70, "", "1", "True", "None", "i1", 1.0, b"1",
              (), [], (None,), "()"]
    prints = [index.fingerprint(value) for value in values]
    assert len(set(prints)) == len(values) and all(len(p) == 12 for p in prints)
    assert index.fingerprint(2 ** 70) == index.fingerprint(int(str(2 ** 70)))
    assert index.fingerprint(()) == index.fingerprint(tuple([]))
