"""The pipeline's use of the article cache: what a rebuild reports and makes with it equals
what a build without it does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator import models
from generator.errors import BuildError
from tests.conftest import article, build_site, make_site, parse_html

STORIES = {
    "one": (article("One", tags=["alpha"], colour="red"), "First story body."),
    "two": (article("Two", "2026-11-23T22:30:00+00:00", image="/images/two.jpg"),
            "Second story body."),
    "three": (article("Three", "2026-11-22T08:00:00"), "Third story body."),
}


def _checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the article check runs on from now on."""
    checked: list[str] = []
    real = models.check_article

    def counting(source, config):
        checked.append(source.rel)
        return real(source, config)
    monkeypatch.setattr(models, "check_article", counting)
    return checked


def _files(output: Path) -> dict[str, bytes]:
    return {p.relative_to(output).as_posix(): p.read_bytes() for p in sorted(output.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build as if every file had last changed long ago (nothing racily clean), for the
    fingerprint's stat pass and for the content reader alike."""
    from generator import shortcut, sources
    now = sources._clock()
    monkeypatch.setattr(sources, "_clock", lambda: now + 10 ** 10)
    monkeypatch.setattr(shortcut, "_clock", lambda: now + 10 ** 10)


def _same_size_edit(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` (as long), putting the mtime back as some editors do."""
    before = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def _edit(site: Path, name: str = "three") -> None:
    """A body edit, so that the next build is not 'up to date'."""
    with (site / "content" / f"{name}.md").open("a", encoding="utf-8") as file:
        file.write("More.\n")


def test_cached_checks_report_the_same_warnings_every_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", articles=STORIES)
    first = build_site(site)
    assert [(w.path, w.message) for w in first.warnings] == [
        ("content/one.md", "unknown field 'colour'"),
        ("content/two.md", "'image.alt' is missing: describe the picture for readers who "
                           "cannot see it"),
        ("content/two.md", "image file content/images/two.jpg does not exist")]
    checked = _checks(monkeypatch)
    _edit(site)
    again = build_site(site)
    assert checked == ["content/three.md"]
    assert again.warnings == first.warnings


def test_an_image_that_appears_is_seen_by_a_cached_check(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles=STORIES)
    build_site(site)
    (site / "content" / "images").mkdir()
    (site / "content" / "images" / "two.jpg").write_bytes(b"jpeg")
    _edit(site)
    messages = [w.message for w in build_site(site).warnings]
    assert "image file content/images/two.jpg does not exist" not in messages


def test_a_renamed_file_is_checked_under_its_new_path(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles=STORIES)
    build_site(site)
    (site / "content" / "one.md").rename(site / "content" / "uno.md")
    assert "content/uno.md" in {w.path for w in build_site(site).warnings}


@pytest.mark.parametrize("config", [{"timezone": "Asia/Tokyo"}, {"permalink": "/{slug}/"},
                                    {"topics": [{"slug": "world", "name": "World"}]}])
def test_a_config_change_makes_what_a_build_without_the_cache_makes(
        tmp_path: Path, config: dict) -> None:
    stories = {**STORIES, "four": (article("Four", topic="world"), "Fourth.")}
    site = make_site(tmp_path / "site", articles=stories)
    build_site(site)
    make_site(site, config=config)  # rewrites config.yaml only
    build_site(site)
    build_site(site, output=tmp_path / "fresh", use_cache=False)
    assert _files(site / "output") == _files(tmp_path / "fresh")


def test_a_file_left_unread_is_read_when_its_body_must_be_rendered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checked article from the cache, its body rendered again (the render cache gone):
    the Markdown is read from the file then."""
    _settled(monkeypatch)
    site = make_site(tmp_path / "site", articles=STORIES)
    build_site(site)
    (site / ".cache" / "render.sqlite3").unlink()
    _edit(site)
    build_site(site)
    build_site(site, output=tmp_path / "fresh", use_cache=False)
    assert _files(site / "output") == _files(tmp_path / "fresh")


@pytest.mark.parametrize("old, new", [("First story body", "First story bodz"),
                                      ("title: One", "title: Uno")])
def test_a_same_size_edit_with_the_mtime_put_back_builds_what_no_cache_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """The content reader trusts the fingerprint's stat of each file: an edit that keeps the
    size and the mtime is seen by its ctime there too."""
    _settled(monkeypatch)
    site = make_site(tmp_path / "site", articles=STORIES)
    build_site(site)
    _same_size_edit(site / "content" / "one.md", old, new)
    checked = _checks(monkeypatch)
    assert not build_site(site).up_to_date
    assert checked == ["content/one.md"]
    build_site(site, output=tmp_path / "fresh", use_cache=False)
    assert _files(site / "output") == _files(tmp_path / "fresh")


def test_links_to_markdown_files_in_cached_bodies_are_still_rewritten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only bodies known to link a Markdown file have their links rewritten: that is kept
    with the cached body, so a body from the cache is rewritten as a new one is."""
    _settled(monkeypatch)
    stories = {**STORIES, "four": (article("Four"), "See [one](one.md#top) and [gone](gone.md).")}
    site = make_site(tmp_path / "site", articles=stories)
    first = build_site(site)
    _edit(site)
    again = build_site(site)
    assert again.cached == 3 and again.warnings == first.warnings
    assert any("gone.md" in w.message for w in again.warnings)
    build_site(site, output=tmp_path / "fresh", use_cache=False)
    assert _files(site / "output") == _files(tmp_path / "fresh")
    page = next(path for path in (site / "output").rglob("index.html") if "/four/" in str(path))
    hrefs = [a.get("href") for a in parse_html(page).iter("a")]
    assert any(href.endswith("/one/#top") for href in hrefs), hrefs


# --- Markdown rendered while the content is read ---------------------------------------------
# With CHUNK at 2 the workers start on the bodies while the rest of a small site is read.

BAD_BODY = "[" * 2100 + " too many brackets"  # markup.MAX_BRACKETS_PER_PARAGRAPH is 2000


def _early(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator import cache
    monkeypatch.setattr(cache, "CHUNK", 2)


def _stories(count: int, **extra: tuple) -> dict:
    stories = {f"s{i:02d}": (article(f"Story {i}", f"2026-11-{1 + i % 20:02d}T08:00:00+00:00",
                                      tags=[f"tag {i % 3}"]),
                             f"Body of story {i} with *emphasis* and [a link](https://x.org/).")
               for i in range(count)}
    stories.update(extra)
    return stories


def _bodies(site: Path) -> list[tuple]:
    import sqlite3
    with sqlite3.connect(site / ".cache" / "render.sqlite3") as db:
        return sorted(db.execute("SELECT key, html, first, words, links FROM bodies"))


def test_bodies_rendered_while_reading_build_what_one_process_builds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--jobs 2 with the workers started during the read: the same output, the same render
    cache rows and the same counts as --jobs 1; drafts and future stories not rendered."""
    _early(monkeypatch)
    stories = _stories(9, draft=(article("Draft", draft=True), "Draft body."),
                       later=(article("Later", "2027-01-01T08:00:00+00:00"), "Future body."))
    reports = []
    for jobs in (1, 2):
        site = make_site(tmp_path / f"site{jobs}", articles=stories)
        reports.append(build_site(site, output=tmp_path / f"out{jobs}", jobs=jobs))
    assert _files(tmp_path / "out1") == _files(tmp_path / "out2")
    assert _bodies(tmp_path / "site1") == _bodies(tmp_path / "site2")
    assert len(_bodies(tmp_path / "site2")) == 9
    assert [(r.rendered, r.cached) for r in reports] == [(9, 0), (9, 0)]
    _edit(tmp_path / "site2", "s03")
    again = build_site(tmp_path / "site2", output=tmp_path / "out2", jobs=2)
    assert (again.rendered, again.cached) == (1, 8)


def test_a_markdown_error_in_a_draft_is_no_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A draft's body is not rendered, so it cannot fail the build, unless drafts are built."""
    _early(monkeypatch)
    site = make_site(tmp_path / "site", articles=_stories(
        6, draft=(article("Draft", draft=True), BAD_BODY)))
    report = build_site(site, jobs=2)
    assert (report.rendered, report.cached) == (6, 0)
    with pytest.raises(BuildError) as caught:
        build_site(site, output=tmp_path / "drafts", jobs=2, drafts=True)
    assert [p.format() for p in caught.value.problems] == [
        "content/draft.md:6: error: a paragraph has 2,100 '[' characters (at most 2,000): "
        "converting it would take minutes; write them as \\[ or split the paragraph"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_body_that_cannot_be_converted_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    """Two failing bodies among stories rendered by running workers: both named, with the
    line their body starts on; nothing cached, no worker left running."""
    import multiprocessing
    _early(monkeypatch)
    site = make_site(tmp_path / "site", articles=_stories(
        7, bad1=(article("Bad one"), BAD_BODY), bad2=(article("Bad two"), "x\n\n" + BAD_BODY)))
    with pytest.raises(BuildError) as caught:
        build_site(site, jobs=jobs)
    assert [(p.path, p.line, p.level) for p in caught.value.problems] == [
        ("content/bad1.md", 5, "error"), ("content/bad2.md", 5, "error")]
    assert not multiprocessing.active_children()
    assert not (site / "output").exists()
    assert _bodies(site) == []


@pytest.mark.parametrize("first", ["a00", "t00"])
def test_a_front_matter_error_stops_the_workers_and_reports_every_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    """Problems found before the workers start (a00 is read first) or while they run (t00
    after the twelve stories): every one is reported, nothing more is sent to the workers
    once one is found, and no worker is left running."""
    import multiprocessing

    from generator import cache
    _early(monkeypatch)
    submitted: list[int] = []
    real_send = cache.BodyRenderer._send

    def counting_send(self, workers):  # type: ignore[no-untyped-def]
        submitted.append(len(self._waiting))
        real_send(self, workers)
    monkeypatch.setattr(cache.BodyRenderer, "_send", counting_send)
    site = make_site(tmp_path / "site", articles=_stories(
        12, **{first: (article("Broken", "not a date"), "Body.")},
        z99=("title: [unclosed\n", "Body.")))
    with pytest.raises(BuildError) as caught:
        build_site(site, jobs=2)
    assert [(p.path, p.level) for p in caught.value.problems] == [
        (f"content/{first}.md", "error"), ("content/z99.md", "error")]
    assert submitted == ([] if first == "a00" else [2] * 6)
    assert not multiprocessing.active_children()


def test_no_cache_renders_ahead_the_same(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """--no-cache with the workers started during the read makes the cached build's output."""
    _early(monkeypatch)
    site = make_site(tmp_path / "site", articles=_stories(7))
    build_site(site, jobs=2)
    build_site(site, output=tmp_path / "fresh", jobs=2, use_cache=False)
    assert _files(site / "output") == _files(tmp_path / "fresh")


def test_a_warning_does_not_stop_rendering_ahead(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A warning (an error only with --strict, which reports the later stages' warnings too)
    leaves the workers rendering: every body is sent once, none rendered twice."""
    from generator import cache
    _early(monkeypatch)
    sent: list[int] = []
    real_send = cache.BodyRenderer._send

    def counting_send(self, workers):  # type: ignore[no-untyped-def]
        sent.append(len(self._waiting))
        real_send(self, workers)
    monkeypatch.setattr(cache.BodyRenderer, "_send", counting_send)
    site = make_site(tmp_path / "site", articles=_stories(
        8, s03=(article("Three", colour="red"), "Body.")))
    with pytest.raises(BuildError) as caught:
        build_site(site, jobs=2, strict=True)
    assert [(p.path, p.level) for p in caught.value.problems] == [("content/s03.md", "error")]
    assert sent == [2, 2, 2, 2]
    report = build_site(site, jobs=2)
    assert [p.path for p in report.warnings] == ["content/s03.md"]
