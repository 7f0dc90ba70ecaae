"""Parallel builds equal serial ones byte for byte; rebuilds rewrite only what changed."""

from __future__ import annotations

import ctypes
import errno
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from generator import cache, parallel, write
from generator.errors import BuildError
from tests.conftest import article, build_site, make_site

TOPICS = ("world", "business")


def _site(root: Path, count: int = 24) -> Path:
    articles = {}
    for i in range(count):
        day = 20 + i % 5
        articles[f"story-{i:02d}"] = (
            article(f"Story number {i}", f"2026-11-{day}T{6 + i % 5:02d}:{i:02d}:00+00:00",
                    topic=TOPICS[i % 2], tags=[f"tag {i % 4}", "all"], author=["A. Writer"]),
            f"Paragraph *{i}* with a [link](https://example.com/{i}).\n\n> A quote.\n\n- x\n- y\n")
    return make_site(root, config={"per_page": 3}, articles=articles)


def _files(output: Path) -> dict[str, bytes]:
    return {p.relative_to(output).as_posix(): p.read_bytes()
            for p in sorted(output.rglob("*")) if p.is_file() and not p.name.startswith(".")}


@pytest.fixture(autouse=True)
def _always_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the worker pools even for tiny test sites."""
    monkeypatch.setattr(parallel, "PARALLEL_PAGES_THRESHOLD", 0)
    monkeypatch.setattr(cache, "PARALLEL_THRESHOLD", 0)
    monkeypatch.setattr(cache, "CHUNK", 5)


def test_two_jobs_equal_one_job_byte_for_byte(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    serial = build_site(site, output=tmp_path / "one", jobs=1, use_cache=False)
    twice = build_site(site, output=tmp_path / "two", jobs=2, use_cache=False)
    build_site(site, output=tmp_path / "three", jobs=3, use_cache=False)
    assert (serial.pages, serial.articles) == (twice.pages, twice.articles)
    expected = _files(tmp_path / "one")
    assert len(expected) > 40
    assert _files(tmp_path / "two") == expected
    assert _files(tmp_path / "three") == expected


def test_parallel_layout_error_reports_what_a_serial_build_does(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    (site / "layouts").mkdir()
    (site / "layouts/list.html").write_text(
        '{% extends "base.html" %}{% block main %}{{ listing.nonsense.deeper }}{% endblock %}',
        encoding="utf-8")
    problems = []
    for jobs in (1, 2):
        with pytest.raises(BuildError) as caught:
            build_site(site, output=tmp_path / f"out{jobs}", jobs=jobs, use_cache=False)
        problems.append(caught.value.problems)
    assert problems[0] == problems[1]
    assert not (tmp_path / "out2").exists()


def _mtimes(output: Path) -> dict[str, int]:
    return {p.relative_to(output).as_posix(): p.stat().st_mtime_ns
            for p in output.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_unchanged_files_keep_their_mtime(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    build_site(site, jobs=2)
    before = _mtimes(site / "output")
    report = build_site(site, jobs=2, use_cache=False)  # a full build, not the shortcut
    assert not report.up_to_date
    assert report.written == 0 and report.unchanged == len(before)
    assert _mtimes(site / "output") == before


def test_an_edit_rewrites_only_the_affected_files(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    build_site(site, jobs=2)
    output = site / "output"
    before = _mtimes(output)
    path = site / "content/story-03.md"
    path.write_text(path.read_text(encoding="utf-8").replace("A quote.", "A longer quote."),
                    encoding="utf-8")
    report = build_site(site, jobs=2)
    after = _mtimes(output)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert (report.rendered, report.cached) == (1, 23)
    assert report.written == len(changed)
    page = next(rel for rel in changed if rel.endswith("story-number-3/index.html"))
    assert page
    # The other stories' pages and every listing page are untouched.
    others = [rel for rel in after if "story-number-" in rel and "story-number-3/" not in rel]
    assert others and not changed.intersection(others)
    # Listing pages show no body text; the feeds carry the full body, so they change.
    assert not any(rel.startswith(("tags/", "topics/", "authors/", "editions/"))
                   and rel.endswith(".html") for rel in changed), sorted(changed)


def test_progress_is_reported_for_articles_and_pages(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    calls: list[tuple[str, int, int]] = []
    build_site(site, jobs=2, progress=lambda *step: calls.append(step))
    articles = [c for c in calls if c[0] == "articles"]
    pages = [c for c in calls if c[0] == "pages"]
    assert articles[-1] == ("articles", 24, 24) and articles[0][1] <= articles[-1][1]
    assert pages and pages[-1][1] == pages[-1][2]
    assert [c[1] for c in pages] == sorted(c[1] for c in pages)



def test_a_worker_renders_all_its_parts_with_one_renderer(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Layouts are compiled, and the renderer's caches filled, once per worker, not once per
    part; the pages are still those of a serial build."""
    made = tmp_path / "renderers"
    made.mkdir()

    class CountedRenderer(parallel.Renderer):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            (made / f"{os.getpid()}-{len(list(made.iterdir()))}").touch()

    monkeypatch.setattr(parallel, "Renderer", CountedRenderer)
    site = _site(tmp_path / "site")
    build_site(site, output=tmp_path / "two", jobs=2, use_cache=False)
    workers = {name.name.split("-")[0] for name in made.iterdir()}
    assert 1 <= len(list(made.iterdir())) == len(workers) <= 2 < 2 * parallel.PARTS_PER_JOB
    build_site(site, output=tmp_path / "one", jobs=1, use_cache=False)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def _tree(output: Path) -> dict[str, bytes]:
    """Every file below `output`, hidden ones (the manifest) too."""
    return {p.relative_to(output).as_posix(): p.read_bytes()
            for p in sorted(output.rglob("*")) if p.is_file()}


def _count_placed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pages the parent takes in as put in the staging folder by the workers."""
    placed: list[str] = []
    original = write.Stage.note_placed

    def note(self: write.Stage, item: write.PlacedFile) -> None:
        placed.append(item.path)
        original(self, item)

    monkeypatch.setattr(write.Stage, "note_placed", note)
    return placed


def test_on_a_cold_build_the_workers_write_the_pages_themselves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path / "site")
    placed = _count_placed(monkeypatch)
    report = build_site(site, output=tmp_path / "two", jobs=2)
    assert len(placed) == report.pages == report.pages_rendered > 40
    placed.clear()
    build_site(site, output=tmp_path / "one", jobs=1, use_cache=False)
    assert placed == []  # rendered in the build's own process: staged as bytes
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert not write.staging_dir(tmp_path / "two").exists()


def _good_site_then(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A site with a good build in its output (which leaves no spare behind), and that
    output's files."""
    site = _site(tmp_path / "site")
    build_site(site, jobs=2)
    output = site / "output"
    assert not write.staging_dir(output).exists()
    return site, output, _tree(output)


def _left_as_it_was(output: Path, good: dict[str, bytes]) -> None:
    assert _tree(output) == good
    assert not write.staging_dir(output).exists()
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_leaves_the_last_good_site(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    site, output, good = _good_site_then(tmp_path)
    original = write.DirectWriter.put

    def put(self: write.DirectWriter, rel: str, data: bytes, digest: str | None = None
            ) -> write.PlacedFile:
        if "story-number-5/" in rel:
            os._exit(3)  # in the worker: as if it were killed
        return original(self, rel, data, digest)

    monkeypatch.setattr(write.DirectWriter, "put", put)
    with pytest.raises(BrokenProcessPool):
        build_site(site, jobs=2, use_cache=False)
    _left_as_it_was(output, good)
    monkeypatch.undo()
    build_site(site, jobs=2, use_cache=False)
    assert _tree(output) == good


def test_an_interrupted_parent_stops_its_workers_before_removing_the_staging_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page a worker puts after the interrupt (slowly) is logged, and so is the removal
    of the staging folder: it comes last."""
    site, output, good = _good_site_then(tmp_path)
    placed = _count_placed(monkeypatch)
    original_note, original_put = write.Stage.note_placed, write.DirectWriter.put
    original_abandon = write.Stage.abandon
    flag, log = tmp_path / "interrupted", tmp_path / "log"

    def note(self: write.Stage, item: write.PlacedFile) -> None:
        original_note(self, item)  # the counting one
        if len(placed) == 3:
            flag.touch()
            raise KeyboardInterrupt

    def put(self: write.DirectWriter, rel: str, data: bytes, digest: str | None = None
            ) -> write.PlacedFile:
        if flag.exists():
            time.sleep(0.02)
            with open(log, "a") as handle:
                handle.write("put\n")
        return original_put(self, rel, data, digest)

    def abandon(self: write.Stage) -> None:
        with open(log, "a") as handle:
            handle.write("abandon\n")
        original_abandon(self)

    monkeypatch.setattr(write.Stage, "note_placed", note)
    monkeypatch.setattr(write.DirectWriter, "put", put)
    monkeypatch.setattr(write.Stage, "abandon", abandon)
    with pytest.raises(KeyboardInterrupt):
        build_site(site, jobs=2, use_cache=False)
    assert log.read_text().splitlines()[-1] == "abandon"
    _left_as_it_was(output, good)


def test_a_worker_that_cannot_write_fails_the_build_and_leaves_the_last_good_site(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site, output, good = _good_site_then(tmp_path)
    original = write._write_new

    def write_new(path: str, data: bytes, stats: list[os.stat_result]) -> None:
        if "story-number-7/" in path:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        original(path, data, stats)

    monkeypatch.setattr(write, "_write_new", write_new)
    story = site / "content/story-07.md"  # so its page is written anew, not linked
    story.write_text(story.read_text(encoding="utf-8").replace("A quote.", "A new quote."),
                     encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        build_site(site, jobs=2, use_cache=False)
    assert "No space left on device" in caught.value.problems[0].message
    _left_as_it_was(output, good)


def test_a_layout_error_leaves_the_last_good_site(tmp_path: Path) -> None:
    site, output, good = _good_site_then(tmp_path)
    (site / "layouts").mkdir()
    (site / "layouts/article.html").write_text(
        '{% extends "base.html" %}{% block main %}{{ page.nonsense.deeper }}{% endblock %}',
        encoding="utf-8")
    with pytest.raises(BuildError):
        build_site(site, jobs=2, use_cache=False)
    _left_as_it_was(output, good)


def _worker_state(fd: int) -> tuple[bool, int]:
    """In a worker: whether `fd` is open, and the signal it gets when its parent dies."""
    try:
        os.fstat(fd)
        open_ = True
    except OSError:
        open_ = False
    signal_number = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(signal_number))  # PR_GET_PDEATHSIG
    return open_, signal_number.value


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_workers_close_the_output_lock_and_die_with_their_parent(tmp_path: Path) -> None:
    """A worker outliving a killed build would otherwise hold the output's lock (so no later
    build could run) or go on writing into a staging folder a later build is using."""
    with write.output_lock(tmp_path / "out") as lock:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                 initializer=parallel._start_worker,
                                 initargs=(os.getpid(), (lock,))) as pool:
            assert pool.submit(_worker_state, lock).result() == (False, signal.SIGKILL)
        os.fstat(lock)  # still open here


def test_edits_built_from_a_spare_equal_a_build_without_caches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first build after a cold one has no spare (its pages are put by the workers), the
    next ones turn the spare into the site (the pages come as bytes with their digests)."""
    site = _site(tmp_path / "site")
    placed = _count_placed(monkeypatch)
    build_site(site, jobs=2)
    for n, story in enumerate(("story-03", "story-08", "story-11")):
        path = site / f"content/{story}.md"
        path.write_text(path.read_text(encoding="utf-8").replace("A quote.", f"Quote {n}."),
                        encoding="utf-8")
        placed.clear()
        report = build_site(site, jobs=2)
        assert report.pages_rendered and bool(placed) == (n == 0)
        assert write.staging_dir(site / "output").exists()  # the next build's spare
        build_site(site, output=tmp_path / f"fresh{n}", jobs=1, use_cache=False)
        assert _tree(site / "output") == _tree(tmp_path / f"fresh{n}")
