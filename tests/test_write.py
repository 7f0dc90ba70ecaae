"""The writer: staged output swapped in whole, carry-over, refusals, the lock, killed builds."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.errors import BuildError
from generator.render import OutputFile
from generator.write import (
    MANIFEST,
    STAGING_MARK,
    Asset,
    check_output_dir,
    output_lock,
    recover,
    safe_relative,
    staging_dir,
    write_output,
)
from tests.conftest import article, build_site, make_site

REPO = Path(__file__).resolve().parent.parent


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file below `folder` (hidden ones too) and the digest of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def small_site(root: Path, count: int = 3) -> Path:
    """A site with `count` articles."""
    articles = {f"story-{n:03d}": (article(f"Story number {n}", tags=["port"]), f"Body {n}.")
                for n in range(count)}
    return make_site(root, articles=articles)


def test_first_write_creates_output_and_manifest(tmp_path: Path) -> None:
    output = tmp_path / "out"
    report = write_output([OutputFile("index.html", b"<p>hi</p>"),
                           OutputFile("a/b/index.html", b"b")], [], output)
    assert report.written == 2
    assert (output / "a/b/index.html").read_bytes() == b"b"
    manifest = json.loads((output / MANIFEST).read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == ["a/b/index.html", "index.html"]
    assert not staging_dir(output).exists()


def test_manifest_holds_no_times_so_output_is_reproducible(tmp_path: Path) -> None:
    files = [OutputFile("index.html", b"x"), OutputFile("feed.xml", b"y")]
    write_output(files, [], tmp_path / "one")
    time.sleep(0.01)
    write_output(files, [], tmp_path / "two")
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")


def test_second_write_removes_what_the_build_no_longer_makes(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("old/index.html", b"old"), OutputFile("index.html", b"i")], [],
                 output)
    report = write_output([OutputFile("index.html", b"i")], [], output)
    assert report.removed == 1 and report.unchanged == 1
    assert not (output / "old").exists()


def test_files_the_build_did_not_make_are_carried_over(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"i")], [], output)
    (output / "robots-extra.txt").write_text("mine", encoding="utf-8")
    (output / "well-known").mkdir()
    (output / "well-known" / "security.txt").write_text("contact", encoding="utf-8")
    os.symlink("/srv/media", output / "media")
    write_output([OutputFile("index.html", b"i2")], [], output)
    assert (output / "robots-extra.txt").read_text(encoding="utf-8") == "mine"
    assert (output / "well-known" / "security.txt").read_text(encoding="utf-8") == "contact"
    assert os.readlink(output / "media") == "/srv/media"
    assert (output / "index.html").read_bytes() == b"i2"


def test_a_foreign_file_where_the_build_writes_is_an_error(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "index.html").write_text("hand made", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        write_output([OutputFile("index.html", b"i")], [], output)
    assert "not made by briefing" in caught.value.problems[0].message
    assert (output / "index.html").read_text(encoding="utf-8") == "hand made"
    assert not staging_dir(output).exists()


def test_a_foreign_file_in_the_way_of_a_folder_is_an_error(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "tags").write_text("a file", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        write_output([OutputFile("tags/x/index.html", b"i")], [], output)
    assert "in the way" in caught.value.problems[0].message
    assert (output / "tags").read_text(encoding="utf-8") == "a file"


def test_hand_edited_output_file_is_rewritten_not_reused(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"abc")], [], output)
    (output / "index.html").write_bytes(b"xyz")  # same size, different bytes
    report = write_output([OutputFile("index.html", b"abc")], [], output)
    assert (output / "index.html").read_bytes() == b"abc"
    assert report.written == 1


@pytest.mark.parametrize("path", ["../x.html", "/etc/passwd", "a/../../x", "", "a/\x00b",
                                  MANIFEST, STAGING_MARK + "/x"])
def test_paths_that_leave_the_output_are_refused(path: str) -> None:
    assert safe_relative(path) is None


def test_write_refuses_bad_paths_before_touching_anything(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with pytest.raises(BuildError) as caught:
        write_output([OutputFile("../escape.html", b"x"), OutputFile("a", b"1"),
                      OutputFile("a/index.html", b"2"), OutputFile("b", b"1"),
                      OutputFile("b", b"2"), OutputFile("x" * 300 + "/index.html", b"")],
                     [], output)
    messages = " ".join(p.message for p in caught.value.problems)
    assert "leave the output folder" in messages
    assert "both a file and a folder" in messages
    assert "two things" in messages
    assert "255 bytes" in messages
    assert not output.exists() and not (tmp_path / "escape.html").exists()


@pytest.mark.parametrize("where", [".", "content", "layouts", "content/output", "layouts/x",
                                   ".."])
def test_output_folder_that_holds_or_sits_in_the_sources_is_refused(tmp_path: Path,
                                                                     where: str) -> None:
    site = small_site(tmp_path / "site", 1)
    (site / "layouts").mkdir()
    problems = check_output_dir(site / where, site)
    assert problems and problems[0].is_error
    with pytest.raises(BuildError):
        build_site(site, output=site / where)
    assert not (site / "content" / "output").exists()


def test_output_beside_the_site_is_accepted(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site", 1)
    assert check_output_dir(site / "output", site) == []
    assert check_output_dir(tmp_path / "public", site) == []


def test_failed_build_leaves_output_as_it_was(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    build_site(site)
    before = tree_digest(site / "output")
    (site / "content" / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    with pytest.raises(BuildError):
        build_site(site)
    assert tree_digest(site / "output") == before
    assert not staging_dir(site / "output").exists()


def test_staging_left_by_a_killed_build_is_cleaned_up(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"1")], [], output)
    stage = staging_dir(output)
    (stage / "site").mkdir(parents=True)
    (stage / STAGING_MARK).touch()
    (stage / "site" / "half.html").write_text("half", encoding="utf-8")
    write_output([OutputFile("index.html", b"2")], [], output)
    assert not stage.exists()
    assert not (output / "half.html").exists()


def test_swap_cut_short_between_renames_is_repaired(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"1")], [], output)
    stage = staging_dir(output)
    stage.mkdir()
    (stage / STAGING_MARK).touch()
    os.rename(output, stage / "old")  # killed after the first of the fallback's two renames
    recover(output)
    assert (output / "index.html").read_bytes() == b"1"
    assert not stage.exists()


def test_a_foreign_folder_where_staging_goes_is_not_deleted(tmp_path: Path) -> None:
    output = tmp_path / "out"
    stage = staging_dir(output)
    stage.mkdir()
    (stage / "precious.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        write_output([OutputFile("index.html", b"1")], [], output)
    assert "was not made by briefing" in caught.value.problems[0].message
    assert (stage / "precious.txt").read_text(encoding="utf-8") == "keep"


def test_second_build_at_once_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with output_lock(output):
        with pytest.raises(BuildError) as caught:
            write_output([OutputFile("index.html", b"1")], [], output)
    assert "another build is writing this output folder" in caught.value.problems[0].message
    assert not output.exists()
    write_output([OutputFile("index.html", b"1")], [], output)  # the lock is free again


def test_lock_held_by_another_process_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from generator.write import output_lock\n"
         "with output_lock(Path(sys.argv[1])):\n print('locked', flush=True); time.sleep(30)",
         str(output)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BuildError) as caught:
            write_output([OutputFile("index.html", b"1")], [], output)
        assert "another build" in caught.value.problems[0].message
    finally:
        holder.kill()
        holder.wait()


def test_assets_are_copied(tmp_path: Path) -> None:
    source = tmp_path / "pic.jpg"
    source.write_bytes(b"\xff\xd8jpeg")
    write_output([], [Asset(source, "images/pic.jpg")], tmp_path / "out")
    assert (tmp_path / "out/images/pic.jpg").read_bytes() == b"\xff\xd8jpeg"


def test_build_killed_mid_write_leaves_output_untouched(tmp_path: Path) -> None:
    """SIGKILL a real `python -m generator build` once it has started staging."""
    site = small_site(tmp_path / "site", 400)
    output = tmp_path / "public"
    command = [sys.executable, "-m", "generator", "build", "--site", str(site), "--output",
               str(output), "--now", "2026-11-24T12:00:00+00:00", "--jobs", "1"]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    # Change every page, so the next build writes them all anew.
    (site / "config.yaml").write_text(
        (site / "config.yaml").read_text(encoding="utf-8").replace("Test Briefing", "Renamed"),
        encoding="utf-8")
    before = tree_digest(output)
    stage = staging_dir(output) / "site"
    killed = False
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if stage.is_dir() and any(stage.iterdir()):
            process.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.001)
    process.wait()
    assert killed, "the build finished before it could be killed"
    assert tree_digest(output) == before
    assert staging_dir(output).exists()  # the killed build's leftovers, until the next build
    finished = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert finished.returncode == 0, finished.stderr
    assert not staging_dir(output).exists()
    assert "Renamed" in (output / "index.html").read_text(encoding="utf-8")


def test_pages_may_stream_in_and_are_still_checked_before_the_swap(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"first")], [], output)

    def pages():
        yield OutputFile("a.html", b"a")
        yield OutputFile("a.html", b"again")

    with pytest.raises(BuildError) as caught:
        write_output(pages(), [], output)
    assert "two things" in caught.value.problems[0].message
    assert (output / "index.html").read_bytes() == b"first" and not (output / "a.html").exists()
    report = write_output(iter([OutputFile("b/c.html", b"c")]), [], output)
    assert report.written == 1 and (output / "b/c.html").read_bytes() == b"c"


def test_output_that_is_a_symlink_updates_the_folder_it_points_to(tmp_path: Path) -> None:
    target = tmp_path / "srv" / "site"
    write_output([OutputFile("index.html", b"1")], [], target)
    link = tmp_path / "public"
    os.symlink(target, link)
    write_output([OutputFile("index.html", b"2")], [], link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target / "index.html").read_bytes() == b"2"
