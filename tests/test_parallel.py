"""Parallel builds equal serial ones byte for byte; rebuilds rewrite only what changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator import cache, parallel
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
