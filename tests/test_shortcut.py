"""The no-change shortcut: a rebuild with nothing to do stops early, and any change to an
input, the clock's stretch or the output means a real build."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from generator.shortcut import BuildRecord, clock_interval, input_fingerprint
from tests.conftest import article, build_site, make_site


def _site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site", articles={
        "one": (article("One", tags=["alpha"]), "First story body."),
        "two": (article("Two", "2026-11-23T08:00:00+00:00"), "Second story body."),
        "three": (article("Three", "2026-11-22T08:00:00+00:00"), "Third story body.")})


def test_no_change_rebuild_stops_early(tmp_path: Path) -> None:
    site = _site(tmp_path)
    first = build_site(site)
    second = build_site(site)
    assert second.up_to_date
    assert (second.articles, second.pages, second.written) == (first.articles, first.pages, 0)


def test_no_change_rebuild_still_reports_warnings(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "one": (article("One", colour="blue"), "Body.")})
    first = build_site(site)
    assert first.warnings
    second = build_site(site)
    assert second.up_to_date and second.warnings == first.warnings


@pytest.mark.parametrize("change", ["config", "content", "layout", "drafts", "output"])
def test_any_input_change_means_a_real_build(tmp_path: Path, change: str) -> None:
    site = _site(tmp_path)
    build_site(site)
    options: dict = {}
    if change == "config":
        text = (site / "config.yaml").read_text(encoding="utf-8")
        (site / "config.yaml").write_text(text.replace("Test Briefing", "Other"),
                                          encoding="utf-8")
    elif change == "content":
        (site / "content/four.md").write_text("---\ntitle: Four\ndate: 2026-11-24\n---\nHi.\n",
                                              encoding="utf-8")
    elif change == "layout":
        (site / "layouts").mkdir()
        (site / "layouts/robots.txt").write_text("User-agent: *\n", encoding="utf-8")
    elif change == "drafts":
        options["drafts"] = True
    report = build_site(site, output=tmp_path / "elsewhere" if change == "output" else None,
                        **options)
    assert not report.up_to_date


def test_fingerprint_names_each_content_file_by_its_folder(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "content" / "a").mkdir(parents=True)
    (site / "content" / "b").mkdir()
    story = site / "content" / "a" / "x.md"
    story.write_text("same bytes", encoding="utf-8")
    os.utime(story, ns=(10**18, 10**18))
    before = input_fingerprint(site, [], tmp_path / "out", ())
    story.rename(site / "content" / "b" / "x.md")
    assert input_fingerprint(site, [], tmp_path / "out", ()) != before


def test_tampered_output_is_rebuilt(tmp_path: Path) -> None:
    site = _site(tmp_path)
    build_site(site)
    page = site / "output/index.html"
    good = page.read_bytes()
    page.unlink()
    report = build_site(site)
    assert not report.up_to_date and page.read_bytes() == good


def test_clock_crossing_a_publication_time_rebuilds(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "now": (article("Now"), "Body."),
        "later": (article("Later", "2026-11-24T15:00:00+00:00"), "Body.")})
    first = build_site(site, now="2026-11-24T12:00:00+00:00")
    assert first.articles == 1
    assert build_site(site, now="2026-11-24T13:00:00+00:00").up_to_date
    after = build_site(site, now="2026-11-24T16:00:00+00:00")
    assert not after.up_to_date and after.articles == 2


def test_clock_interval_stops_at_moments_and_midnight() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    moments = [now - timedelta(hours=3), now + timedelta(hours=2)]
    start, end = clock_interval(moments, now, UTC, windows=())
    assert (start, end) == (now - timedelta(hours=3), now + timedelta(hours=2))
    start, end = clock_interval([], now, UTC, windows=())
    assert (start, end) == (datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC))
    start, end = clock_interval([now - timedelta(days=1, hours=23)], now, UTC,
                                windows=(timedelta(days=2),))
    assert end == now + timedelta(hours=1)


def test_clock_exactly_at_a_moment_matches_only_itself() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    start, end = clock_interval([now], now, UTC, windows=())
    assert start == end == now


def test_corrupt_build_record_is_ignored(tmp_path: Path) -> None:
    site = _site(tmp_path)
    build_site(site)
    record = BuildRecord.path_for(site, site / "output")
    assert record.is_file()
    record.write_text("{not json", encoding="utf-8")
    assert BuildRecord.load(record) is None
    report = build_site(site)
    assert not report.up_to_date
    assert build_site(site).up_to_date


def test_no_cache_option_builds_everything(tmp_path: Path) -> None:
    site = _site(tmp_path)
    build_site(site)
    report = build_site(site, use_cache=False)
    assert not report.up_to_date and report.rendered == 3
