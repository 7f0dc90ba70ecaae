"""The render cache and the source cache: hits, every invalidation, bad cache files."""

from __future__ import annotations

import gc
import shutil
import sqlite3
from pathlib import Path

import pytest

import generator
from generator.cache import (
    CACHE_DIR,
    CACHE_FILE,
    SOURCE_CACHE_FILE,
    ArticleCache,
    BodyErrors,
    BodyRenderer,
    FileStamps,
    RenderCache,
    SourceCache,
    names_markdown,
    render_bodies,
)
from generator.markup import MarkdownSettings, RenderedBody, render_markdown
from tests.conftest import build_site, parse_html, three_stories

SETTINGS = MarkdownSettings(("tables", "footnotes"))
ITEMS = [(b"file one", "First *story*.\n\nSecond paragraph."), (b"file two", "Another one.")]


def _render(cache: RenderCache, items=ITEMS, settings=SETTINGS):
    bodies, stats = render_bodies(items, settings, cache)
    cache.save()
    return bodies, stats


def _stored_bodies(path: Path) -> int:
    """How many rows the render cache file at `path` holds."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM bodies").fetchone()[0]


def test_second_render_comes_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    first, stats = _render(RenderCache(path))
    assert (stats.rendered, stats.cached) == (2, 0)
    again, stats = _render(RenderCache(path))
    assert (stats.rendered, stats.cached) == (0, 2)
    assert again == first == [render_markdown(text, SETTINGS) for _, text in ITEMS]


def test_changed_file_bytes_miss(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    _, stats = _render(RenderCache(path), [(b"file one, edited", ITEMS[0][1]), ITEMS[1]])
    assert (stats.rendered, stats.cached) == (1, 1)


def test_changed_settings_miss(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    _, stats = _render(RenderCache(path), settings=MarkdownSettings(("tables",)))
    assert (stats.rendered, stats.cached) == (2, 0)
    _, stats = _render(RenderCache(path), settings=MarkdownSettings(("tables",), (), True))
    assert (stats.rendered, stats.cached) == (2, 0)


def test_new_generator_version_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    monkeypatch.setattr(generator, "__version__", "999.0")
    _, stats = _render(RenderCache(path))
    assert (stats.rendered, stats.cached) == (2, 0)


def test_corrupt_cache_file_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    path.write_bytes(b"this is not a database" * 100)
    bodies, stats = _render(RenderCache(path))
    assert stats.rendered == 2
    assert bodies == [render_markdown(text, SETTINGS) for _, text in ITEMS]
    _, stats = _render(RenderCache(path))
    assert stats.cached == 2


def test_foreign_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'someone-else/7' WHERE name = 'format'")
    db.execute("UPDATE bodies SET html = '<script>alert(1)</script>'")
    db.commit()
    db.close()
    bodies, stats = _render(RenderCache(path))
    assert (stats.rendered, stats.cached) == (2, 0)
    assert all("script" not in body.html for body in bodies)


def test_malformed_rows_are_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    db = sqlite3.connect(path)
    db.execute("UPDATE bodies SET words = 'many'")
    db.commit()
    db.close()
    _, stats = _render(RenderCache(path))
    assert (stats.rendered, stats.cached) == (2, 0)


def test_bodies_are_read_in_one_query_and_the_unused_dropped(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    items = [(f"file {i}".encode(), f"Story {i}.") for i in range(5)]
    first, _ = _render(RenderCache(path), items)
    cache = RenderCache(path)
    statements: list[str] = []
    assert cache._db is not None
    cache._db.set_trace_callback(statements.append)
    again, stats = render_bodies(items[1:4], SETTINGS, cache)
    assert (stats.rendered, stats.cached) == (0, 3) and again == first[1:4]
    assert [s for s in statements if s.startswith("SELECT")] == [
        "SELECT key, html, first, words, links FROM bodies"]
    cache.save()  # the stale keys are known from that one query
    assert [s for s in statements if s.startswith("SELECT")] == [
        "SELECT key, html, first, words, links FROM bodies"]
    cache.close()
    assert _stored_bodies(path) == 3
    _, stats = _render(RenderCache(path), items)
    assert (stats.rendered, stats.cached) == (2, 3)


def test_bodies_no_key_asks_for_are_let_go_before_rendering(tmp_path: Path) -> None:
    """After an upgrade every key misses: the old bodies must not stay in memory (a big site's
    peak) while the new ones render, yet they are still dropped from the file when saved."""
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path), [(f"old {i}".encode(), f"Old story {i}.") for i in range(20)])
    cache = RenderCache(path)
    alive: list[int] = []

    def count_bodies(texts, settings):
        alive.append(sum(type(obj) is RenderedBody for obj in gc.get_objects()))
        return [render_markdown(text, settings) for text in texts]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generator.cache, "_render_chunk", count_bodies)
        render_bodies([(b"new", "A new story.")], SETTINGS, cache)
    assert alive == [0]  # the twenty decoded old bodies are gone before rendering starts
    cache.save()
    cache.close()
    assert _stored_bodies(path) == 1


def test_a_cache_saved_without_a_lookup_drops_every_row(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    cache = RenderCache(path)
    cache.save()
    cache.close()
    assert _stored_bodies(path) == 0


def test_malformed_rows_are_dropped_when_saved(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path))
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO bodies VALUES (?, 'x', 'x', 'many', 0)", ("not a key we use",))
    _render(RenderCache(path))
    assert _stored_bodies(path) == 2


def test_parallel_render_equals_serial(tmp_path: Path) -> None:
    items = [(f"file {i}".encode(), f"Story {i} with *emphasis*.\n\n- a\n- b\n") for i in range(40)]
    serial, _ = render_bodies(items, SETTINGS, RenderCache.disabled(), jobs=1)
    parallel, stats = render_bodies(items, SETTINGS, RenderCache.disabled(), jobs=2)
    assert parallel == serial and stats.rendered == 40


# --- Through the build ------------------------------------------------------------------


def _site(tmp_path: Path) -> Path:
    return three_stories(tmp_path / "site")


def test_build_reuses_bodies_and_counts_them(tmp_path: Path) -> None:
    site = _site(tmp_path)
    first = build_site(site)
    assert (first.rendered, first.cached) == (3, 0)
    assert (site / CACHE_DIR / CACHE_FILE).is_file()
    path = site / "content/two.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nAn added line.\n", encoding="utf-8")
    second = build_site(site)
    assert (second.rendered, second.cached) == (1, 2)
    assert not second.up_to_date


def test_an_edit_outside_the_body_misses_too(tmp_path: Path) -> None:
    site = _site(tmp_path)  # the key is the file's bytes, not the Markdown the body holds
    build_site(site)
    path = site / "content/two.md"
    path.write_text(path.read_text(encoding="utf-8").replace("title: Two", "title: Deux"),
                    encoding="utf-8")
    again = build_site(site)
    assert (again.rendered, again.cached) == (1, 2)


def test_layout_change_rerenders_pages_not_markdown(tmp_path: Path) -> None:
    site = _site(tmp_path)
    build_site(site)
    (site / "layouts").mkdir()
    (site / "layouts/404.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Lost, sorry</h1>{% endblock %}',
        encoding="utf-8")
    report = build_site(site)
    assert (report.rendered, report.cached) == (0, 3)
    assert parse_html(site / "output/404.html").findtext(".//h1") == "Lost, sorry"


def test_deleting_the_cache_is_safe(tmp_path: Path) -> None:
    site = _site(tmp_path)
    build_site(site)
    before = (site / "output/index.html").read_bytes()
    shutil.rmtree(site / CACHE_DIR)  # every cache, whatever it holds
    report = build_site(site)
    assert report.rendered == 3 and not report.up_to_date
    assert (site / "output/index.html").read_bytes() == before


# --- The parsed-source cache's file (what a value means is tested in test_sources.py) ------

def test_source_cache_keeps_values_and_drops_the_unused(tmp_path: Path) -> None:
    path = tmp_path / SOURCE_CACHE_FILE
    cache = SourceCache(path)
    cache.put("one", "1")
    cache.put("two", "2")
    cache.save()
    cache.close()
    cache = SourceCache(path)
    assert cache.get("one") == "1" and cache.get("three") is None
    cache.save()
    cache.close()
    cache = SourceCache(path)
    assert cache.get("one") == "1" and cache.get("two") is None
    cache.close()


def test_corrupt_source_cache_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / SOURCE_CACHE_FILE
    path.write_bytes(b"this is not a database" * 100)
    cache = SourceCache(path)
    assert cache.get("one") is None
    cache.put("one", "1")
    cache.save()
    cache.close()
    assert SourceCache(path).get("one") == "1"


def test_foreign_source_cache_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / SOURCE_CACHE_FILE
    cache = SourceCache(path)
    cache.put("one", "1")
    cache.save()
    cache.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'someone-else/7' WHERE name = 'format'")
    db.commit()
    db.close()
    assert SourceCache(path).get("one") is None
    _render(RenderCache(path))  # another cache's file is foreign too, both ways
    assert SourceCache(path).get("one") is None
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta")
    db.execute("INSERT INTO sources VALUES ('one', '1')")
    db.commit()
    db.close()
    assert SourceCache(path).get("one") is None  # rows without a format are not ours


EXTENSION = '''
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor


class Mark(Preprocessor):
    def run(self, lines):
        return [line.replace("MARK", "{word}") for line in lines]


class MarkExtension(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.register(Mark(md), "mark", 30)


def makeExtension(**kwargs):
    return MarkExtension(**kwargs)
'''


def test_an_updated_extension_renders_bodies_again(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A Markdown extension outside Python-Markdown (here the site's own module) decides the
    HTML too: when its file changes, cached bodies are not reused and the rebuild is not
    taken for up to date, though no file of the site changed."""
    import os
    import sys

    from generator import markup
    from tests.conftest import make_site

    modules = tmp_path / "modules"
    modules.mkdir()
    module = modules / "briefing_mark_extension.py"
    module.write_text(EXTENSION.format(word="first"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(modules))
    site = make_site(tmp_path / "site", config={"markdown": {"extensions": [
        "tables", "briefing_mark_extension"]}}, articles={
        "one": ({"title": "One", "date": "2026-11-24T08:00:00+00:00"}, "The MARK word.")})
    assert build_site(site).rendered == 1
    assert build_site(site).up_to_date
    module.write_text(EXTENSION.format(word="second"), encoding="utf-8")
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    # A new process would import the new module; this one forgets the old one.
    monkeypatch.delitem(sys.modules, "briefing_mark_extension")
    markup._converter.cache_clear()
    again = build_site(site)
    assert not again.up_to_date and (again.rendered, again.cached) == (1, 0)
    page = next((site / "output" / "2026").rglob("index.html"))
    assert "The second word." in parse_html(page).text_content()


def test_a_new_render_cache_has_big_pages(tmp_path: Path) -> None:
    """A body's HTML fits a 64 KB page, not a 4 KB one (fewer overflow pages to read)."""
    cache = RenderCache(tmp_path / CACHE_FILE)
    cache.close()
    db = sqlite3.connect(tmp_path / CACHE_FILE)
    try:
        assert db.execute("PRAGMA page_size").fetchone()[0] == RenderCache.PAGE_SIZE == 65536
    finally:
        db.close()


def test_file_stamps_keep_well_formed_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "files.sqlite3"
    cache = FileStamps(path)
    cache.put("content/a.md", ("1 2 3 4 5", b"d" * 32, 7))
    cache.put("content/b.md", ("1 2 3 4 5", b"short", 7))
    cache.save()
    cache.close()
    again = FileStamps(path)
    assert again.get("content/a.md") == ("1 2 3 4 5", b"d" * 32, 7)
    assert again.get("content/b.md") is None
    again.close()


def test_markdown_given_as_a_function_is_asked_for_only_on_a_miss(tmp_path: Path) -> None:
    asked: list[str] = []

    def text(markdown: str):
        return lambda: asked.append(markdown) or markdown
    cache = RenderCache(tmp_path / CACHE_FILE)
    first, _ = _render(cache, [(key, text(markdown)) for key, markdown in ITEMS])
    assert asked == [markdown for _, markdown in ITEMS]
    asked.clear()
    again, stats = _render(cache, [(key, text(markdown)) for key, markdown in ITEMS])
    assert asked == [] and again == first and stats.cached == len(ITEMS)


@pytest.mark.parametrize("cache_class, value, column, spoilt", [
    (SourceCache, "text", "value", b"bytes"), (SourceCache, "text", "value", None),
    (ArticleCache, "text", "value", b"bytes"), (ArticleCache, "text", "value", None),
    (FileStamps, ("1 2 3 4 5", b"d" * 32, 7), "stamp", b"1 2 3 4 5"),
    (FileStamps, ("1 2 3 4 5", b"d" * 32, 7), "digest", "d" * 32),
    (FileStamps, ("1 2 3 4 5", b"d" * 32, 7), "recorded_ns", "seven"),
    (RenderCache, ("<p>x</p>", "x", 1), "html", b"<p>x</p>"),
    (RenderCache, ("<p>x</p>", "x", 1), "first", None),
    (RenderCache, ("<p>x</p>", "x", 1), "words", 1.5),
    (RenderCache, ("<p>x</p>", "x", 1), "links", 2),
    (RenderCache, ("<p>x</p>", "x", 1), "links", "no"),
])
def test_a_row_with_a_value_of_the_wrong_type_is_a_miss(
        tmp_path: Path, cache_class, value, column: str, spoilt: object) -> None:
    """Every column of every cache is checked when the rows are loaded, all at once (the
    values are ones the column's type affinity keeps as they are)."""
    path = tmp_path / "cache.sqlite3"
    if cache_class is RenderCache:  # made here: the let-go test counts the bodies alive
        value = RenderedBody(*value)
    cache = cache_class(path)
    cache.put("kept", value)
    cache.put("spoilt", value)
    cache.save()
    cache.close()
    db = sqlite3.connect(path)
    db.execute(f"UPDATE {cache_class.TABLE} SET {column} = ? WHERE key = 'spoilt'", (spoilt,))
    db.commit()
    db.close()
    again = cache_class(path)
    assert again.get("kept") == value and again.get("spoilt") is None
    again.close()


@pytest.mark.parametrize("html, expected", [
    ('<p><a href="other.md">x</a></p>', True), ('<p><a href="../a/b.md#part">x</a></p>', True),
    ('<p><a href="b.markdown?x=1">x</a></p>', True), ('<p><a href="b&#46;md">x</a></p>', True),
    ('<p><a href="https://e.org/b.md">x</a></p>', False), ('<p><a href="b.mdx">x</a></p>', False),
    ('<p><a href="/b/">x</a> b.md</p>', False), ("<p>No links.</p>", False),
])
def test_names_markdown_finds_the_links_link_content_rewrites(html: str, expected: bool) -> None:
    assert names_markdown(html) is expected


def test_which_bodies_link_markdown_is_kept_with_them(tmp_path: Path) -> None:
    """Rendered or from the cache, each body's links to Markdown files are told the same."""
    path = tmp_path / CACHE_FILE
    items = [(b"one", "See [two](two.md)."), (b"two", "No links."),
             (b"three", "[Away](https://e.org/x.md) and [in](../a/three.markdown#top).")]
    for expected_rendered in (3, 0):
        linking: set[int] = set()
        cache = RenderCache(path)
        _, stats = render_bodies(items, SETTINGS, cache, linking=linking)
        cache.save()
        cache.close()
        assert stats.rendered == expected_rendered and linking == {0, 2}
    with sqlite3.connect(path) as db:
        assert sorted(db.execute("SELECT links FROM bodies")) == [(0,), (1,), (1,)]


# --- Bodies submitted ahead of render ---------------------------------------------------------

BAD = "[" * 2100  # more '[' in a paragraph than markup allows


def test_bodies_submitted_ahead_render_as_render_bodies_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Submitted in chunks while more are known, some cached, one submitted but never asked
    for (nor cached, nor counted), one asked for but never submitted."""
    monkeypatch.setattr(generator.cache, "CHUNK", 3)
    items = [(f"file {i}".encode(), f"Story {i} with *emphasis*.") for i in range(10)]
    path = tmp_path / CACHE_FILE
    _render(RenderCache(path), items[:2])
    serial, _ = render_bodies(items, SETTINGS, RenderCache.disabled())
    cache = RenderCache(path)
    with BodyRenderer(SETTINGS, cache, jobs=2) as renderer:
        for raw, text in [*items[:9], (b"unpublished", BAD)]:
            renderer.submit(raw, text)
        assert renderer._pool is not None  # the workers started before render was called
        bodies, stats = renderer.render(items)
    cache.save()
    cache.close()
    assert bodies == serial and (stats.rendered, stats.cached) == (8, 2)
    assert _stored_bodies(path) == 10


@pytest.mark.parametrize("jobs, ahead", [(1, False), (2, False), (2, True)])
def test_every_failing_body_is_named(monkeypatch: pytest.MonkeyPatch, jobs: int,
                                     ahead: bool) -> None:
    monkeypatch.setattr(generator.cache, "CHUNK", 2)
    monkeypatch.setattr(generator.cache, "PARALLEL_THRESHOLD", 2)
    items = [(f"file {i}".encode(), BAD if i in (1, 4) else f"Story {i}.") for i in range(6)]
    with BodyRenderer(SETTINGS, RenderCache.disabled(), jobs) as renderer:
        if ahead:
            for raw, text in items:
                renderer.submit(raw, text)
        with pytest.raises(BodyErrors) as caught:
            renderer.render(items)
    assert [index for index, _ in caught.value.failed] == [1, 4]
    assert all("'[' characters" in message for _, message in caught.value.failed)


def test_a_stopped_renderer_sends_nothing_more_and_still_renders(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After stop, submits are ignored and chunks not started are cancelled; render still
    gives every body (rendering again what was cancelled)."""
    monkeypatch.setattr(generator.cache, "CHUNK", 2)
    items = [(f"file {i}".encode(), f"Story {i}.") for i in range(12)]
    serial, _ = render_bodies(items, SETTINGS, RenderCache.disabled())
    with BodyRenderer(SETTINGS, RenderCache.disabled(), jobs=2) as renderer:
        for raw, text in items[:8]:
            renderer.submit(raw, text)
        renderer.stop()
        sent = len(renderer._sent)
        for raw, text in items[8:]:
            renderer.submit(raw, text)
        assert len(renderer._sent) == sent == 8 and not renderer._waiting
        bodies, stats = renderer.render(items)
    assert bodies == serial and stats.rendered == 12
