"""The no-change shortcut: a rebuild with nothing to do stops early, and any change to an
input, the clock's stretch or the output means a real build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import generator
from generator import cache, shortcut
from generator.errors import BuildError
from generator.shortcut import BuildRecord, clock_interval, input_fingerprint
from tests.conftest import (
    article,
    build_site,
    html_pages,
    make_site,
    page_text,
    three_stories,
)


def _site(tmp_path: Path) -> Path:
    return three_stories(tmp_path / "site")


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


def _later(path: Path) -> None:
    """Give a file a clearly later mtime, as an edit a moment after the build would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.mark.parametrize("change", ["edited", "same size", "removed", "added in a folder"])
def test_any_content_change_means_a_real_build(tmp_path: Path, change: str) -> None:
    site = _site(tmp_path)
    build_site(site)
    story = site / "content/two.md"
    if change == "edited":
        story.write_text(story.read_text(encoding="utf-8") + "\nA correction.\n",
                         encoding="utf-8")
    elif change == "same size":
        text = story.read_text(encoding="utf-8")
        story.write_text(text.replace("Second", "Sekond"), encoding="utf-8")
        _later(story)
    elif change == "removed":
        story.unlink()
    else:
        (site / "content/more").mkdir()
        (site / "content/more/four.md").write_text(
            "---\ntitle: Four\ndate: 2026-11-24T09:00:00+00:00\n---\nHi.\n", encoding="utf-8")
    report = build_site(site)
    assert not report.up_to_date
    assert report.articles == {"removed": 2, "added in a folder": 4}.get(change, 3)
    assert build_site(site).up_to_date


@pytest.mark.parametrize("change", ["rewritten", "same size", "manifest", "mtimes record"])
def test_any_output_change_means_a_real_build(tmp_path: Path, change: str) -> None:
    site = _site(tmp_path)
    build_site(site)
    output = site / "output"
    page = output / "index.html"
    good = page.read_bytes()
    if change == "rewritten":
        page.write_bytes(good + b"<!-- edited -->")
    elif change == "same size":
        page.write_bytes(good.replace(b"<html", b"<HTML", 1))
        _later(page)
    elif change == "manifest":
        manifest = output / ".briefing-manifest.json"
        manifest.write_bytes(manifest.read_bytes() + b"\n")
    else:
        (site / ".output.state.json").unlink()
    report = build_site(site)
    assert not report.up_to_date
    assert page.read_bytes() == good


def test_layout_edit_and_config_edit_mean_a_real_build(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"one": (article("One"), "Body.")},
                     layouts={"robots.txt": "User-agent: *\n"})
    build_site(site)
    (site / "layouts/robots.txt").write_text("User-agent: x\n", encoding="utf-8")
    assert not build_site(site).up_to_date
    assert build_site(site).up_to_date
    config = site / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "description: Other.\n",
                      encoding="utf-8")
    assert not build_site(site).up_to_date


def test_naive_clock_is_read_in_the_site_zone_by_the_shortcut_too(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", config={"timezone": "Asia/Dubai"},
                     articles={"one": (article("One"), "Body.")})
    first = build_site(site, now="2026-11-24T14:00:00")
    assert first.articles == 1 and not first.up_to_date
    assert build_site(site, now="2026-11-24T14:00:00").up_to_date
    # 23:59 in Dubai is still the same day; 00:30 the next day is not.
    assert build_site(site, now="2026-11-24T23:59:00").up_to_date
    assert not build_site(site, now="2026-11-25T00:30:00").up_to_date


def test_fingerprint_leaves_out_bytecode_but_not_code(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "generator"
    (code / "__pycache__").mkdir(parents=True)
    (code / "__init__.py").write_text("__version__ = '0'\n", encoding="utf-8")
    monkeypatch.setattr(generator, "__file__", str(code / "__init__.py"))
    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    before = input_fingerprint(site, [], tmp_path / "out", ())
    (code / "__pycache__" / "build.cpython-311.pyc").write_bytes(b"compiled on first import")
    assert input_fingerprint(site, [], tmp_path / "out", ()) == before
    (code / "build.py").write_text("x = 1\n", encoding="utf-8")
    assert input_fingerprint(site, [], tmp_path / "out", ()) != before


def test_fingerprint_changes_when_a_package_is_reinstalled(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "lib" / "briefing_fake_dependency"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    monkeypatch.setattr(shortcut, "DEPENDENCIES", ("briefing_fake_dependency",))
    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    os.utime(package, ns=(10**18, 10**18))
    before = input_fingerprint(site, [], tmp_path / "out", ())
    (package / "__init__.py").unlink()  # what an installer does: old files out, new ones in
    (package / "__init__.py").write_text("__version__ = '2'\n", encoding="utf-8")
    assert input_fingerprint(site, [], tmp_path / "out", ()) != before
    monkeypatch.setattr(shortcut, "DEPENDENCIES", ("briefing_no_such_package",))
    assert "briefing_no_such_package not found" in shortcut.installed_package(
        "briefing_no_such_package")


# Run in a fresh interpreter: a rebuild with nothing to do, then the modules it loaded.
NO_CHANGE_REBUILD = """
import sys
from generator import shortcut
from generator.cli import main
if sys.argv[2] == "settled":
    shortcut.RACY_NS = 0  # the files just written count as settled: the record is saved again
sys.argv = ["briefing", "build", "--site", sys.argv[1], "--now", "2026-11-24T12:00:00+00:00"]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)))
"""


@pytest.mark.parametrize("files", ["racy", "settled"])
def test_no_change_rebuild_reads_no_config_and_imports_no_jinja(tmp_path: Path,
                                                                files: str) -> None:
    site = _site(tmp_path)
    build_site(site)
    record = BuildRecord.path_for(site, site / "output")
    assert BuildRecord.load(record).hashed
    done = subprocess.run([sys.executable, "-c", NO_CHANGE_REBUILD, str(site), files],
                          capture_output=True, text=True, check=True)
    assert bool(BuildRecord.load(record).hashed) is (files == "racy")
    assert "output already up to date" in done.stdout
    modules = set(done.stdout.split("\n")[-2].split())
    assert "generator.build" in modules and "generator.shortcut" in modules
    for heavy in ("jinja2", "markdown", "nh3", "yaml", "babel", "generator.config",
                  "generator.render", "generator.pipeline", "generator.importer",
                  "importlib.metadata"):
        assert heavy not in modules, heavy


def test_config_broken_after_a_build_is_reported_not_skipped(tmp_path: Path) -> None:
    site = _site(tmp_path)
    build_site(site)
    config = site / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        build_site(site)
    lines = config.read_text(encoding="utf-8").count("\n")
    assert [(p.path, p.line) for p in caught.value.problems] == [("config.yaml", lines)]
    assert "unknown key 'colour'" in caught.value.problems[0].message


def test_record_is_kept_in_the_cache_folder(tmp_path: Path) -> None:
    assert shortcut.CACHE_DIR == cache.CACHE_DIR
    assert BuildRecord.path_for(tmp_path, tmp_path / "out").parent == tmp_path / cache.CACHE_DIR


@pytest.mark.parametrize("damage", ["older format", "unknown time zone"])
def test_record_of_another_format_or_zone_is_not_trusted(tmp_path: Path, damage: str) -> None:
    site = _site(tmp_path)
    build_site(site)
    path = BuildRecord.path_for(site, site / "output")
    data = json.loads(path.read_text(encoding="utf-8"))
    if damage == "older format":
        data["format"] = "briefing-build-record/1"
        del data["timezone"]
    else:
        data["timezone"] = "Mars/Olympus_Mons"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = build_site(site)
    assert not report.up_to_date
    assert build_site(site).up_to_date


def test_a_time_zone_database_update_is_not_up_to_date(tmp_path: Path) -> None:
    """The zone's rules come from a file outside the site (the system's or tzdata's): when it
    changes, offsets and so printed dates may change, and the rebuild is a real one."""
    source = shortcut.zone_source("UTC").split(" ")[0]
    zones = tmp_path / "zoneinfo"
    zones.mkdir()
    if Path(source).is_file():
        shutil.copyfile(source, zones / "UTC")
    else:  # no system zone files: tzdata's
        import tzdata  # type: ignore[import-not-found]
        shutil.copyfile(Path(tzdata.__file__).parent / "zoneinfo" / "UTC", zones / "UTC")
    zoneinfo.reset_tzpath([str(zones)])
    try:
        zoneinfo.ZoneInfo.clear_cache()
        site = _site(tmp_path)
        build_site(site)
        assert build_site(site).up_to_date
        stat = (zones / "UTC").stat()
        os.utime(zones / "UTC", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert not build_site(site).up_to_date
        assert build_site(site).up_to_date
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()


def test_same_size_edit_with_its_mtime_put_back_is_seen(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The ctime moves with every edit, even when an editor or a sync tool puts the mtime back."""
    monkeypatch.setattr(shortcut, "RACY_NS", 0)  # every file counts as settled: stats only
    site = _site(tmp_path)
    build_site(site)
    story = site / "content" / "one.md"
    before = story.stat()
    text = story.read_text(encoding="utf-8")
    story.write_text(text.replace("story body", "story bodz"), encoding="utf-8")
    os.utime(story, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert story.stat().st_size == before.st_size
    rebuilt = build_site(site)
    assert not rebuilt.up_to_date
    assert any("First story bodz" in page_text(page) for page in html_pages(site / "output"))


def test_racy_files_are_fingerprinted_by_their_bytes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Time stamps are coarse: a second same-size edit within the tick of the first leaves
    every stat field as it was. A file changed in the last RACY_NS counts by its bytes, and a
    fingerprint compared with one taken then reads the bytes of the files racy at that time."""
    monkeypatch.setattr(shortcut, "stat_identity", lambda stat: "a file system whose stats stay")
    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    story = site / "content" / "one.md"
    story.write_text("---\ntitle: One\n---\nAbc.\n", encoding="utf-8")
    first = input_fingerprint(site, [], tmp_path / "out", ())
    assert first is not None and first.racy == ("content/one.md",)
    story.write_text("---\ntitle: One\n---\nXyz.\n", encoding="utf-8")
    assert input_fingerprint(site, [], tmp_path / "out", ()) != first
    # Once it has settled, the stats alone stand for it; compared with a record taken while
    # it was racy, its bytes are still read.
    monkeypatch.setattr(shortcut, "RACY_NS", 0)
    settled = input_fingerprint(site, [], tmp_path / "out", ())
    assert settled is not None and settled.racy == ()
    assert input_fingerprint(site, [], tmp_path / "out", (), first.racy).digest != first.digest
    story.write_text("---\ntitle: One\n---\nAbc.\n", encoding="utf-8")
    assert input_fingerprint(site, [], tmp_path / "out", (), first.racy).digest == first.digest
    # The same pass gives the form a record of this build keeps: the settled one.
    assert input_fingerprint(site, [], tmp_path / "out", (), first.racy).own == settled.digest
    assert input_fingerprint(site, [], tmp_path / "out", ()).digest == settled.digest


def test_a_record_taken_with_racy_files_is_kept_in_the_settled_form(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path)
    assert not build_site(site).up_to_date
    path = BuildRecord.path_for(site, site / "output")
    assert "content/one.md" in BuildRecord.load(path).hashed  # just written: racy
    assert build_site(site).up_to_date
    monkeypatch.setattr(shortcut, "RACY_NS", 0)  # later: every file has settled
    assert build_site(site).up_to_date
    assert BuildRecord.load(path).hashed == ()
    assert build_site(site).up_to_date
