"""The writer: staged output swapped in whole, carry-over, refusals, the lock, killed builds."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.errors import BuildError
from generator.render import OutputFile
from generator.write import (
    MANIFEST,
    SPARE_RECORD,
    STAGING_MARK,
    Asset,
    DirectWriter,
    PlacedFile,
    Stage,
    _scan,
    _spare_listing,
    check_output_dir,
    file_digest,
    intact_files,
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
    assert not (output / "half.html").exists()
    # What is left is the retired output, kept whole for the next build.
    assert sorted(os.listdir(stage)) == sorted([STAGING_MARK, SPARE_RECORD, "site"])
    assert not (stage / "site" / "half.html").exists()
    assert (stage / "site" / "index.html").read_bytes() == b"1"


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
    config = site / "config.yaml"
    for name, renamed in (("Test Briefing", "Renamed"), ("Renamed", "Renamed again")):
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)  # 2nd: a spare
        # Change every page, so the next build writes them all anew.
        config.write_text(config.read_text(encoding="utf-8").replace(name, renamed),
                          encoding="utf-8")
    assert (staging_dir(output) / SPARE_RECORD).is_file()
    before = tree_digest(output)
    killed = False
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if not (staging_dir(output) / SPARE_RECORD).exists():  # the spare is being changed
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
    assert sorted(os.listdir(staging_dir(output))) == sorted([STAGING_MARK, SPARE_RECORD,
                                                              "site"])
    assert "Renamed again" in (output / "index.html").read_text(encoding="utf-8")


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
    assert intact_files(link) == intact_files(target) != {}


def tree_entries(folder: Path) -> dict[str, str]:
    """Every file (digest of its bytes) and symbolic link (its target) below `folder`."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            entries[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            entries[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def spare_is_clean(output: Path) -> bool:
    """The staging folder holds only a spare a finished build left, with its record."""
    stage = staging_dir(output)
    return sorted(os.listdir(stage)) == sorted([STAGING_MARK, SPARE_RECORD, "site"])


def spare_listing(output: Path):
    """What the spare's record says it holds, read as the next build would."""
    from generator.write import _recorded_folders

    raw = (output / MANIFEST).read_bytes()
    record = _recorded_folders(output, file_digest(raw))[0]
    return _spare_listing(staging_dir(output), json.loads(raw)["files"], file_digest(raw),
                          record.names if record is not None else None)


def test_intact_files_are_the_previous_files_as_written(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"i"), OutputFile("a/index.html", b"a"),
                  OutputFile("b/index.html", b"b"), OutputFile("c.xml", b"c")], [], output)
    digests = json.loads((output / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert intact_files(output) == {rel: entry[0] for rel, entry in digests.items()}
    stat = (output / "a/index.html").stat()
    os.utime(output / "a/index.html", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # touched
    (output / "b/index.html").unlink()
    (output / "b/index.html").write_bytes(b"B")  # replaced by hand
    (output / "c.xml").unlink()
    (output / "mine.txt").write_bytes(b"not the build's")
    assert intact_files(output) == {"index.html": digests["index.html"][0]}
    assert intact_files(tmp_path / "nothing-here") == {}


def test_a_same_file_is_the_previous_file_kept_as_it_was(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"home"), OutputFile("a/index.html", b"a")], [],
                 output)
    before = json.loads((output / MANIFEST).read_text(encoding="utf-8"))["files"]
    stat = (output / "a/index.html").stat()
    assert "a/index.html" in intact_files(output)
    report = write_output([OutputFile("index.html", b"home 2"),
                           OutputFile("a/index.html", b"", same=True)], [], output)
    assert report.written == 1 and report.unchanged == 1
    assert (output / "a/index.html").read_bytes() == b"a"
    after = (output / "a/index.html").stat()
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    manifest = json.loads((output / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert manifest["a/index.html"] == before["a/index.html"]
    assert intact_files(output)["a/index.html"] == before["a/index.html"][0]  # mtime recorded


@pytest.mark.parametrize("change", ["deleted", "touched", "never written"])
def test_a_same_file_whose_previous_file_is_not_intact_fails_the_write(tmp_path: Path,
                                                                       change: str) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"home"), OutputFile("a.html", b"a")], [], output)
    if change == "deleted":
        (output / "a.html").unlink()
    elif change == "touched":
        os.utime(output / "a.html", ns=(0, 10**9))
    before = tree_digest(output)
    path = "b.html" if change == "never written" else "a.html"
    with pytest.raises(BuildError) as caught:
        write_output([OutputFile("index.html", b"home 2"), OutputFile(path, b"", same=True)],
                     [], output)
    assert "cannot write the output" in caught.value.problems[0].message
    assert tree_digest(output) == before
    assert not staging_dir(output).exists() or spare_is_clean(output)


def test_the_spare_follows_the_site_through_many_builds(tmp_path: Path) -> None:
    """Adds, edits, deletes, files and folders trading places, and files of the user's added
    and removed between builds: each output is what a first build would write."""
    output = tmp_path / "out"
    builds: list[tuple[dict[str, bytes], dict[str, str]]] = [
        ({"index.html": b"1", "a/index.html": b"a", "b/c/index.html": b"c", "x": b"x"}, {}),
        ({"index.html": b"2", "a/index.html": b"a", "b/c/index.html": b"c", "x": b"x",
          "new/index.html": b"n"}, {"mine.txt": "mine", "a/notes.txt": "notes"}),
        ({"index.html": b"2", "a/index.html": b"a2", "x/index.html": b"x is a folder"},
         {"mine.txt": "mine", "well-known/security.txt": "contact", "media": "/srv/media"}),
        ({"index.html": b"3", "b/c/index.html": b"c", "x": b"x is a file again",
          "new/index.html": b"n"}, {"media": "/srv/other"}),
        ({"index.html": b"3", "b/c/index.html": b"c", "x": b"x is a file again",
          "new/index.html": b"n"}, {}),
    ]
    user: dict[str, str] = {}
    for number, (files, wanted_user) in enumerate(builds):
        for rel in set(user) - set(wanted_user):  # the user removes some of their files
            (output / rel).unlink()
        for rel, text in wanted_user.items():
            path = output / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if rel == "media":
                if path.is_symlink():
                    path.unlink()
                os.symlink(text, path)
            elif not path.exists():
                path.write_text(text, encoding="utf-8")
        user = dict(wanted_user)
        fresh = tmp_path / f"fresh-{number}"
        if output.exists():
            (tmp_path / "copy").mkdir()
            for rel in user:  # the same hand-placed files, in a folder no build wrote
                source, copy = output / rel, tmp_path / "copy" / rel
                copy.parent.mkdir(parents=True, exist_ok=True)
                if source.is_symlink():
                    os.symlink(os.readlink(source), copy)
                else:
                    copy.write_bytes(source.read_bytes())
            os.rename(tmp_path / "copy", fresh)
        write_output([OutputFile(rel, data) for rel, data in files.items()], [], fresh)
        write_output([OutputFile(rel, data) for rel, data in files.items()], [], output)
        assert tree_entries(output) == tree_entries(fresh), number
        assert set(intact_files(output)) == set(files)
        if number:
            assert spare_is_clean(output)
            # The spare's record lists exactly what it holds, so the next build need not look.
            stage = staging_dir(output)
            listing = spare_listing(output)
            assert listing is not None
            assert (listing[0], set(listing[1].names)) == _scan(os.fspath(stage / "site"))
        assert not (output / "b").exists() or number != 2  # an emptied folder goes


def test_a_spare_is_reused_in_place(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"1")], [], output)
    first = output.stat().st_ino
    write_output([OutputFile("index.html", b"2")], [], output)
    assert (staging_dir(output) / "site").stat().st_ino == first  # the retired output
    write_output([OutputFile("index.html", b"3")], [], output)
    assert output.stat().st_ino == first  # ... became the next output
    assert (output / "index.html").read_bytes() == b"3"


@pytest.mark.parametrize("damage", ["no record", "bad record", "manifest edited", "stray file",
                                    "wrong bytes", "folder in place of a file", "file gone",
                                    "folder gone", "file in place of a folder"])
def test_a_spare_that_does_not_check_out_is_not_trusted(tmp_path: Path, damage: str) -> None:
    output = tmp_path / "out"
    files = [OutputFile("index.html", b"1"), OutputFile("a/index.html", b"a")]
    write_output(files, [], output)
    write_output(files, [], output)
    stage = staging_dir(output)
    spare = stage / "site"
    if damage == "no record":
        (stage / SPARE_RECORD).unlink()
    elif damage == "bad record":
        (stage / SPARE_RECORD).write_text("{", encoding="utf-8")
    elif damage == "manifest edited":
        (spare / MANIFEST).unlink()
        (spare / MANIFEST).write_text("{}", encoding="utf-8")
    elif damage == "stray file":
        (stage / "tmp").write_bytes(b"half written")
    elif damage == "wrong bytes":  # the record checks out, but no byte of the spare is trusted
        (spare / "a/index.html").unlink()
        (spare / "a/index.html").write_bytes(b"b")
    # The record checks out but the spare's files and folders are not what it lists.
    elif damage == "folder in place of a file":
        (spare / "a/index.html").unlink()
        (spare / "a/index.html").mkdir()
        (spare / "a/index.html/junk").write_bytes(b"junk")
    elif damage == "file gone":
        (spare / "a/index.html").unlink()
    elif damage == "folder gone":
        shutil.rmtree(spare / "a")
    else:
        shutil.rmtree(spare / "a")
        (spare / "a").write_bytes(b"junk")
    report = write_output(files + [OutputFile("b.html", b"b")], [], output)
    assert tree_entries(output) == {"index.html": tree_entries(output)["index.html"],
                                    "a/index.html": hashlib.sha256(b"a").hexdigest(),
                                    "b.html": hashlib.sha256(b"b").hexdigest(),
                                    MANIFEST: tree_entries(output)[MANIFEST]}
    assert (output / "index.html").read_bytes() == b"1"
    assert report.unchanged == 2 and report.written == 1
    assert spare_is_clean(output)


def test_unchanged_files_keep_inode_and_mtime_across_builds(tmp_path: Path) -> None:
    output = tmp_path / "out"
    stats = []
    for number in range(4):
        intact = intact_files(output) if number else {}
        write_output([OutputFile("index.html", f"home {number}".encode()),
                      OutputFile("a/index.html", b"", same=True) if "a/index.html" in intact
                      else OutputFile("a/index.html", b"a"),
                      OutputFile("b/index.html", b"b"),
                      OutputFile("c.html", b"c" if number % 2 else b"C")], [], output)
        stats.append({rel: ((output / rel).stat().st_ino, (output / rel).stat().st_mtime_ns)
                      for rel in ("index.html", "a/index.html", "b/index.html", "c.html")})
        time.sleep(0.01)  # so that a file written anew would get a new mtime
    for rel in ("a/index.html", "b/index.html"):
        assert len({build[rel] for build in stats}) == 1, rel
    for rel in ("index.html", "c.html"):
        assert len({build[rel] for build in stats}) == 4, rel


def test_files_shared_with_the_spare_are_never_written_through(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"1"), OutputFile("a.html", b"a")], [], output)
    write_output([OutputFile("index.html", b"2"), OutputFile("a.html", b"a")], [], output)
    shared = output / "a.html"
    spare = staging_dir(output) / "site"
    assert shared.stat().st_ino == (spare / "a.html").stat().st_ino
    write_output([OutputFile("index.html", b"2"), OutputFile("a.html", b"A")], [], output)
    # The file of the last output was replaced, not rewritten: the retired one still says "a".
    assert (spare / "a.html").read_bytes() == b"a"
    assert (output / "a.html").read_bytes() == b"A"
    assert (spare / "index.html").read_bytes() == b"2"


@pytest.mark.parametrize("calls", [1, 2, 3, 5, 8, 13, 17, 21, 24])
def test_a_write_killed_at_any_step_leaves_old_or_new_and_the_next_recovers(
        tmp_path: Path, calls: int) -> None:
    """Kill the writer (os._exit, as SIGKILL would) at its n-th file-system change while it
    turns the spare into the new site; then build again."""
    output = tmp_path / "out"
    old = [OutputFile(f"p{n}/index.html", f"old {n}".encode()) for n in range(8)]
    new = [OutputFile(f"p{n}/index.html", f"new {n}".encode()) for n in range(0, 12, 2)]
    write_output(old[:4], [], output)
    write_output(old, [], output)
    (output / "p3" / "mine.txt").write_text("mine", encoding="utf-8")
    before = tree_entries(output)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child never returns to pytest
        try:
            count = 0

            def counted(function):
                def call(*args, **kwargs):
                    nonlocal count
                    count += 1
                    if count >= calls:
                        os._exit(9)
                    return function(*args, **kwargs)
                return call

            for name in ("rename", "replace", "link", "unlink", "mkdir", "rmdir", "symlink",
                         "write"):
                setattr(os, name, counted(getattr(os, name)))
            write_output(new, [], output)
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 9

    def is_new() -> bool:
        pages = {rel for rel in tree_entries(output) if rel.endswith("index.html")}
        return (pages == {page.path for page in new}
                and all((output / page.path).read_bytes() == page.data for page in new)
                and (output / "p3" / "mine.txt").read_text(encoding="utf-8") == "mine")

    assert tree_entries(output) == before or is_new()
    write_output(new, [], output)
    assert is_new()
    assert spare_is_clean(output)


def test_a_spare_folder_turned_into_a_link_does_not_lead_the_build_outside(
        tmp_path: Path) -> None:
    output = tmp_path / "out"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "old.html").write_bytes(b"precious")
    (outside / "index.html").write_bytes(b"precious too")
    files = [OutputFile("index.html", b"1"), OutputFile("a/index.html", b"a"),
             OutputFile("a/old.html", b"old")]
    write_output(files, [], output)
    write_output(files, [], output)
    spare = staging_dir(output) / "site"
    shutil.rmtree(spare / "a")
    os.symlink(outside, spare / "a")  # the record still lists a/ as a folder
    write_output([OutputFile("index.html", b"1"), OutputFile("a/index.html", b"new a")], [],
                 output)
    assert sorted(os.listdir(outside)) == ["index.html", "old.html"]
    assert (outside / "old.html").read_bytes() == b"precious"
    assert (outside / "index.html").read_bytes() == b"precious too"
    assert (output / "a/index.html").read_bytes() == b"new a"
    assert not (output / "a/old.html").exists() and not (output / "a").is_symlink()


def folder_record(output: Path) -> dict[str, list[int]]:
    """The writer's record of the output's folders: folder -> [mtime, ctime, inode] (zeros
    when it is to be listed next time)."""
    from generator.write import FolderStats, _folders_path

    record = json.loads(_folders_path(output).read_text(encoding="utf-8"))
    folders = FolderStats.from_json(record["folders"], record["stats"])
    assert folders is not None
    return {name: list(folders.numbers[3 * n:3 * n + 3])
            for n, name in enumerate(folders.names)}


def settled_builds(output: Path, files: list[OutputFile], count: int = 4) -> None:
    """Write `files` `count` times, a clock tick or more apart, so that the folders are
    recorded settled (their last change older than the clock at the record)."""
    for _ in range(count):
        write_output(files, [], output)
        time.sleep(0.03)


DEEP = [OutputFile("index.html", b"home"), OutputFile("a/b/c/index.html", b"deep"),
        OutputFile("a/other.html", b"other")]


def test_folders_not_changed_since_the_record_are_not_listed(tmp_path: Path,
                                                             monkeypatch) -> None:
    output = tmp_path / "out"
    settled_builds(output, DEEP)
    assert folder_record(output)["a/b/c"][1] != 0  # settled: the next build need not list it
    listed: list[str] = []
    real_open = os.open

    def spying_open(path, *args, **kwargs):
        listed.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)
    write_output(DEEP, [], output)
    assert f"{output}/a/b/c" not in listed and str(output) in listed


def test_a_file_added_to_a_deep_folder_later_is_carried_over(tmp_path: Path) -> None:
    output = tmp_path / "out"
    settled_builds(output, DEEP)
    assert folder_record(output)["a/b/c"][1] != 0
    (output / "a/b/c/mine.txt").write_text("mine", encoding="utf-8")
    (output / "a/b/c/d").mkdir()
    (output / "a/b/c/d/deeper.txt").write_text("deeper", encoding="utf-8")
    for _ in range(3):  # and on through the spare
        write_output(DEEP, [], output)
        assert (output / "a/b/c/mine.txt").read_text(encoding="utf-8") == "mine"
        assert (output / "a/b/c/d/deeper.txt").read_text(encoding="utf-8") == "deeper"


def test_a_file_the_user_deletes_is_not_brought_back(tmp_path: Path) -> None:
    output = tmp_path / "out"
    settled_builds(output, DEEP, 2)
    (output / "a/b/c/mine.txt").write_text("mine", encoding="utf-8")
    settled_builds(output, DEEP, 3)
    assert (output / "a/b/c/mine.txt").exists()
    (output / "a/b/c/mine.txt").unlink()
    for _ in range(3):
        write_output(DEEP, [], output)
        assert not (output / "a/b/c/mine.txt").exists()
        assert not (staging_dir(output) / "site/a/b/c/mine.txt").exists() or _ == 0


def test_a_folder_changed_in_the_tick_of_the_record_is_listed(tmp_path: Path,
                                                              monkeypatch) -> None:
    """A file added right after a build, in the same clock tick as the build's last change
    to its folder, leaves the folder's times as recorded: only the settled check finds it."""
    from generator import write

    output = tmp_path / "out"
    settled_builds(output, DEEP, 2)
    # The clock read for the record falls in the tick of the new folder's last change.
    monkeypatch.setattr(write, "_clock",
                        lambda folder: os.lstat(f"{folder}/site/new").st_ctime_ns)
    files = [*DEEP, OutputFile("new/index.html", b"new")]
    write_output(files, [], output)
    monkeypatch.undo()
    before = os.lstat(output / "new")
    (output / "new/mine.txt").write_text("mine", encoding="utf-8")
    real_lstat = os.lstat

    def same_tick_lstat(path, *args, **kwargs):  # the change left the folder's times
        if os.fspath(path) == f"{output}/new":
            return before
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", same_tick_lstat)
    write_output(files, [], output)
    monkeypatch.undo()
    assert (output / "new/mine.txt").read_text(encoding="utf-8") == "mine"


def test_a_file_added_while_the_build_swaps_is_kept(tmp_path: Path, monkeypatch) -> None:
    """A file put in the output after the writer looked at it and before the swap ends up in
    the spare; the next builds bring it back and keep it."""
    from generator import write

    output = tmp_path / "out"
    settled_builds(output, DEEP)
    real_finish = write.Stage.finish

    def finish_after_a_user_file(self):
        (output / "a/b/c/late.txt").write_text("late", encoding="utf-8")
        return real_finish(self)

    monkeypatch.setattr(write.Stage, "finish", finish_after_a_user_file)
    write_output(DEEP, [], output)
    monkeypatch.undo()
    assert (staging_dir(output) / "site/a/b/c/late.txt").exists()
    for _ in range(3):
        time.sleep(0.03)
        write_output(DEEP, [], output)
        assert (output / "a/b/c/late.txt").read_text(encoding="utf-8") == "late"


def test_a_planned_file_changed_before_staging_fails_the_write(tmp_path: Path) -> None:
    output = tmp_path / "out"
    files = [OutputFile("index.html", b"home"), OutputFile("a.html", b"aaaa")]
    settled_builds(output, files, 2)
    intact = intact_files(output)
    assert "a.html" in intact
    with open(output / "a.html", "r+b") as handle:  # in place: the spare shares the inode
        handle.write(b"bbbb")
    with pytest.raises(BuildError) as caught:
        write_output([OutputFile("index.html", b"home 2"), OutputFile("a.html", b"", same=True)],
                     [], output, intact)
    assert "changed while the build ran" in caught.value.problems[0].message


def test_a_planned_file_replaced_before_staging_is_not_linked(tmp_path: Path) -> None:
    output = tmp_path / "out"
    files = [OutputFile("index.html", b"home"), OutputFile("a.html", b"aaaa")]
    write_output(files, [], output)  # no spare: the file is linked from the output
    intact = intact_files(output)
    stat = (output / "a.html").stat()
    os.rename(output / "a.html", tmp_path / "kept.html")  # so its inode is not reused
    (output / "a.html").write_bytes(b"bbbb")  # same size and mtime, another file
    os.utime(output / "a.html", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(BuildError):
        write_output([OutputFile("index.html", b"home 2"), OutputFile("a.html", b"", same=True)],
                     [], output, intact)
    assert (output / "a.html").read_bytes() == b"bbbb"


def test_planned_stats_of_another_output_are_not_used(tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"home"), OutputFile("a.html", b"a")], [], output)
    stale = intact_files(output)
    write_output([OutputFile("index.html", b"home 2"), OutputFile("a.html", b"A")], [], output)
    report = write_output([OutputFile("index.html", b"home 3"),
                           OutputFile("a.html", b"A")], [], output, stale)
    assert report.unchanged == 1 and (output / "a.html").read_bytes() == b"A"


def test_a_spare_recorded_against_another_output_is_not_used(tmp_path: Path) -> None:
    """The spare's record lists its files as they differ from the output's manifest, so it
    is used only beside the very output it was recorded with."""
    output = tmp_path / "out"
    both = [OutputFile("index.html", b"1"), OutputFile("a/index.html", b"a"),
            OutputFile("a/old.html", b"old")]
    write_output(both, [], output)
    write_output(both, [], output)
    other = tmp_path / "other"
    write_output([OutputFile("index.html", b"1"), OutputFile("a/index.html", b"a")], [], other)
    shutil.rmtree(output)
    os.rename(other, output)  # an output put back from elsewhere; the spare is still there
    write_output([OutputFile("index.html", b"2"), OutputFile("a/index.html", b"a")], [], output)
    assert set(tree_entries(output)) == {"index.html", "a/index.html", MANIFEST}


@pytest.mark.parametrize("path", ["index.html", "a/b/index.html", "a/.well-known/x", ".well-known",
                                  "a/..b/c", "a/b.", "a/./b", "./a", "a//b", "a/", "/a", "",
                                  "..", "a/..", "a/../b", ".", "a/.", "a\x00b", MANIFEST,
                                  MANIFEST + "/x", STAGING_MARK, "x/" + MANIFEST, "é/ü.html",
                                  "a/...", "...", ".hidden/x"])
def test_the_quick_path_check_agrees_with_the_full_one(path: str) -> None:
    from pathlib import PurePosixPath

    pure = PurePosixPath(path)  # the full check, as safe_relative() makes it for odd paths
    refused = ("\x00" in path or pure.is_absolute() or not pure.parts
               or any(p in ("..", "") for p in pure.parts)
               or pure.parts[0] in (MANIFEST, STAGING_MARK))
    assert safe_relative(path) == (None if refused else pure.as_posix())


NESTED = [OutputFile("index.html", b"home"), OutputFile("a/index.html", b"a page"),
          OutputFile("a/b.html", b"b page")]


def same_build(output: Path, files: list[OutputFile], home: bytes = b"home 2"
               ) -> tuple[list[str], os.stat_result]:
    """Write `files` again as a build that renders only the home page would (the rest
    `same`, planned with intact_files), noting the spare paths the writer looked at; return
    them and the stat of a/index.html before the build."""
    before = os.lstat(output / "a/index.html")
    intact = intact_files(output)
    looked: list[str] = []
    real_lstat = os.lstat

    def spying_lstat(path, *args, **kwargs):
        looked.append(os.fspath(path))
        return real_lstat(path, *args, **kwargs)

    os.lstat = spying_lstat
    try:
        write_output([OutputFile("index.html", home)]
                     + [OutputFile(f.path, b"", same=True) for f in files[1:]
                        if f.path in intact], [], output, intact)
    finally:
        os.lstat = real_lstat
    return looked, before


@pytest.mark.parametrize("change", ["untouched", "deleted", "replaced", "renamed away"])
def test_a_kept_file_the_spare_lost_by_hand_is_linked_again(tmp_path: Path,
                                                            change: str) -> None:
    """A same file's spare copy is kept without a look while the spare's folder is as
    recorded; a change to the folder (a file deleted, renamed over or away) is seen."""
    output = tmp_path / "out"
    settled_builds(output, NESTED, 3)
    spare = staging_dir(output) / "site"
    assert (spare / "a/index.html").stat().st_ino == (output / "a/index.html").stat().st_ino
    if change == "deleted":
        (spare / "a/index.html").unlink()
    elif change == "replaced":
        (spare / "new.html").write_bytes(b"junk 1")
        os.rename(spare / "new.html", spare / "a/index.html")
    elif change == "renamed away":  # the file keeps its two links: only the folder tells
        os.rename(spare / "a/index.html", spare / "a/old.html")
        (spare / "a/index.html").write_bytes(b"junk 2")
    looked, before = same_build(output, NESTED)
    assert (output / "a/index.html").read_bytes() == b"a page"
    after = os.lstat(output / "a/index.html")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (output / "a/b.html").read_bytes() == b"b page"
    if change == "untouched":  # the trust is used: no look at the spare's copies
        assert not any(path.startswith(f"{spare}/a/") and path.endswith(".html")
                       for path in looked)


def test_a_file_written_anew_is_not_taken_for_its_spare_copy(tmp_path: Path) -> None:
    output = tmp_path / "out"
    settled_builds(output, NESTED, 3)
    changed = [NESTED[0], OutputFile("a/index.html", b"a page, edited"), NESTED[2]]
    write_output(changed, [], output)  # the spare keeps the old a/index.html
    time.sleep(0.03)
    same_build(output, changed)
    assert (output / "a/index.html").read_bytes() == b"a page, edited"


def test_a_file_replaced_in_the_output_while_a_build_links_it_is_seen_later(
        tmp_path: Path, monkeypatch) -> None:
    """A file replaced in the output after the writer linked it and before it looked at the
    output's folders ends up in the spare, in a folder recorded as it was after the change:
    the next build does not take the spare's copy for the file it linked."""
    from generator import write

    output = tmp_path / "out"
    settled_builds(output, NESTED, 3)
    real_carry_over = write.Stage.carry_over

    def carry_over_after_a_replacement(self, produced):
        (output / "new.html").write_bytes(b"swapped")
        os.rename(output / "new.html", output / "a/index.html")
        time.sleep(0.03)  # a clock tick or more: the look records the folder settled
        return real_carry_over(self, produced)

    monkeypatch.setattr(write.Stage, "carry_over", carry_over_after_a_replacement)
    same_build(output, NESTED)
    monkeypatch.undo()
    assert (output / "a/index.html").read_bytes() == b"a page"
    assert (staging_dir(output) / "site/a/index.html").read_bytes() == b"swapped"
    time.sleep(0.03)
    same_build(output, NESTED, b"home 3")
    assert (output / "a/index.html").read_bytes() == b"a page"


def test_a_spare_copy_is_kept_only_while_the_output_holds_the_recorded_file(
        tmp_path: Path) -> None:
    """The spare's copy is edited in place (so is the output's file, the same inode), then
    the output's file is replaced by one with the right bytes, size and mtime: intact, but
    another inode than the one recorded, so the spare's copy is not kept."""
    output = tmp_path / "out"
    settled_builds(output, NESTED, 3)
    spare = staging_dir(output) / "site"
    stat = os.lstat(output / "a/index.html")
    with open(spare / "a/index.html", "r+b") as handle:
        handle.write(b"X")
    os.unlink(output / "a/index.html")
    (output / "a/index.html").write_bytes(b"a page")
    os.utime(output / "a/index.html", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "a/index.html" in intact_files(output)
    same_build(output, NESTED)
    assert (output / "a/index.html").read_bytes() == b"a page"


def test_build_files_gone_from_the_output_are_listed_missing_in_the_spare_record(
        tmp_path: Path) -> None:
    """The files of a listed folder are found in the sorted manifest by bisection: the
    spare's record still lists exactly what the spare holds."""
    output = tmp_path / "out"
    files = [*NESTED, OutputFile("a/b/index.html", b"deeper"), OutputFile("a0.html", b"a0"),
             OutputFile("a-z/index.html", b"a-z")]
    settled_builds(output, files, 3)
    (output / "a/b.html").unlink()
    (output / "index.html").unlink()
    (output / "a0.html").unlink()
    time.sleep(0.03)
    write_output(files, [], output)
    stage = staging_dir(output)
    listing = spare_listing(output)
    assert listing is not None
    assert (listing[0], set(listing[1].names)) == _scan(os.fspath(stage / "site"))
    assert {"a/b.html", "index.html", "a0.html"}.isdisjoint(listing[0])
    for path in ("a/b.html", "index.html", "a0.html", "a/b/index.html", "a-z/index.html"):
        assert (output / path).is_file()


def test_a_kept_file_changed_in_place_after_planning_is_rewritten_by_the_next_build(
        tmp_path: Path) -> None:
    """The spare's copy is kept without a look, so a change made in place after planning
    (to the output's file and so to the spare's, one inode) is not seen at staging; the
    recorded mtime is the planned one, so the next build sees the file changed."""
    output = tmp_path / "out"
    settled_builds(output, NESTED, 3)
    intact = intact_files(output)
    time.sleep(0.03)
    with open(output / "a/index.html", "r+b") as handle:
        handle.write(b"A")
    write_output([OutputFile("index.html", b"home 2"),
                  OutputFile("a/index.html", b"", same=True),
                  OutputFile("a/b.html", b"", same=True)], [], output, intact)
    assert "a/index.html" not in intact_files(output)
    write_output(NESTED, [], output)
    assert (output / "a/index.html").read_bytes() == b"a page"
    assert "a/index.html" in intact_files(output)


class InlinePages:
    """A page stream rendered in this process (`write.PageStream`): `pages` as given, put by
    the writer it is started with, if any; `fail` raised after the first page."""

    def __init__(self, pages: list[OutputFile], planned: list[str] | None = None,
                 fail: BaseException | None = None):
        self.pages = pages
        self.planned = planned if planned is not None else [page.path for page in pages]
        self.fail = fail
        self.writer: object = "not started"
        self.closed = False
        self.in_workers = True

    def planned_paths(self) -> list[str]:
        return list(self.planned)

    def start(self, writer: DirectWriter | None, inherited: tuple[int, ...]
              ) -> Iterator[OutputFile | PlacedFile]:
        self.writer = writer
        assert inherited and all(isinstance(fd, int) for fd in inherited)
        return self._pages(writer)

    def _pages(self, writer: DirectWriter | None) -> Iterator[OutputFile | PlacedFile]:
        for page in self.pages:
            yield page if writer is None else writer.put(page.path, page.data)
            if self.fail is not None:
                raise self.fail

    def close(self) -> None:
        self.closed = True


PAGES = [OutputFile("index.html", b"home"), OutputFile("a/b/index.html", b"b"),
         OutputFile("a/c.xml", b"<c/>"), OutputFile("d/index.html", b"d")]


def test_pages_of_a_new_staging_folder_are_put_there_by_the_writer_they_start_with(
        tmp_path: Path) -> None:
    source = tmp_path / "style.css"
    source.write_bytes(b"body{}")
    same = [OutputFile("e/index.html", b"e")]
    expected = write_output(same + PAGES, [Asset(source, "css/style.css")], tmp_path / "old")
    pages = InlinePages(PAGES)
    report = write_output(same, [Asset(source, "css/style.css")], tmp_path / "new",
                          pages=pages)
    assert isinstance(pages.writer, DirectWriter)
    assert report == expected
    assert tree_digest(tmp_path / "new") == tree_digest(tmp_path / "old")
    assert not staging_dir(tmp_path / "new").exists()
    write_output(same + PAGES, [Asset(source, "css/style.css")], tmp_path / "old")
    assert intact_files(tmp_path / "new") == intact_files(tmp_path / "old")


def test_pages_rendered_in_the_writers_own_process_come_as_bytes(tmp_path: Path) -> None:
    pages = InlinePages(PAGES)
    pages.in_workers = False
    write_output([], [], tmp_path / "out", pages=pages)
    assert pages.writer is None
    assert tree_digest(tmp_path / "out") == (write_output(PAGES, [], tmp_path / "old")
                                             and tree_digest(tmp_path / "old"))


def test_a_page_a_writer_puts_with_the_output_files_bytes_keeps_that_file(
        tmp_path: Path) -> None:
    output = tmp_path / "out"
    write_output(PAGES, [], output)
    before = {page.path: os.stat(output / page.path) for page in PAGES}
    changed = [*PAGES[:3], OutputFile("d/index.html", b"d 2")]
    pages = InlinePages(changed)
    report = write_output([], [], output, pages=pages)  # no spare yet: `site/` made empty
    assert isinstance(pages.writer, DirectWriter)
    assert (report.written, report.unchanged) == (1, 3)
    for page in PAGES[:3]:
        after = os.stat(output / page.path)
        assert (after.st_ino, after.st_mtime_ns) == (before[page.path].st_ino,
                                                     before[page.path].st_mtime_ns)
    assert os.stat(output / "d/index.html").st_ino != before["d/index.html"].st_ino
    assert (output / "d/index.html").read_bytes() == b"d 2"
    # With a spare to turn into the site the pages come as bytes, staged as ever.
    pages = InlinePages(PAGES)
    report = write_output([], [], output, pages=pages)
    assert pages.writer is None
    assert (report.written, report.unchanged) == (1, 3)
    assert (output / "d/index.html").read_bytes() == b"d"


@pytest.mark.parametrize("planned", [
    ["index.html", "a/b/index.html", "a/c.xml", "d/index.html", "a/c.xml"],  # one path twice
    ["index.html", "a/b/index.html", "a/c.xml", "d/index.html", "a/b"],  # a file and a folder
    ["index.html", "a/b/index.html", "a/c.xml", "d/index.html", "./x.html"],  # not normal
])
def test_pages_whose_paths_are_not_all_fine_come_as_bytes(tmp_path: Path,
                                                          planned: list[str]) -> None:
    """The paths are checked before the pages start; any doubt and the writer stages them
    as it stages every file, reporting problems as it always did."""
    pages = InlinePages(PAGES, planned)
    write_output([], [], tmp_path / "out", pages=pages)
    assert pages.writer is None
    assert tree_digest(tmp_path / "out") == (write_output(PAGES, [], tmp_path / "old")
                                             and tree_digest(tmp_path / "old"))
    clash = InlinePages([*PAGES, OutputFile("a/c.xml", b"again")])
    with pytest.raises(BuildError) as caught:
        write_output([], [], tmp_path / "two", pages=clash)
    assert clash.writer is None
    assert [p.message for p in caught.value.problems] == [
        "two things would be written to this output path"]
    assert not (tmp_path / "two").exists() and not staging_dir(tmp_path / "two").exists()


@pytest.mark.parametrize("fail", [KeyboardInterrupt(), OSError(errno.ENOSPC, "no space")])
def test_a_build_failing_while_pages_are_put_stops_them_and_keeps_the_last_good_site(
        tmp_path: Path, fail: BaseException) -> None:
    output = tmp_path / "out"
    write_output([OutputFile("index.html", b"good"), OutputFile("x/index.html", b"x")], [],
                 output)
    good = tree_digest(output)
    pages = InlinePages(PAGES, fail=fail)
    with pytest.raises(type(fail) if isinstance(fail, KeyboardInterrupt) else BuildError):
        write_output([], [], output, pages=pages)
    assert isinstance(pages.writer, DirectWriter) and pages.closed
    assert tree_digest(output) == good
    assert not staging_dir(output).exists()
    write_output(PAGES, [], output)  # a later build is not in the way of anything
    assert (output / "a/c.xml").read_bytes() == b"<c/>"


def _empty_stage(output: Path) -> Stage:
    stage = Stage(output)
    stage.prepare()
    assert stage.empty
    return stage


def test_a_direct_writer_never_writes_through_a_link_or_an_existing_file(
        tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stage = _empty_stage(tmp_path / "out")
    os.symlink(elsewhere, stage.dir / "a")
    writer = DirectWriter(stage)
    with pytest.raises(FileExistsError):
        writer.put("a/x.html", b"x")
    assert list(elsewhere.iterdir()) == []
    (stage.dir / "b").mkdir()  # made by another worker: fine
    (stage.dir / "b/kept.html").write_bytes(b"kept")
    placed = writer.put("b/y.html", b"y")
    assert (stage.dir / "b/y.html").read_bytes() == b"y"
    assert placed == PlacedFile("b/y.html", 1, file_digest(b"y"),
                                os.stat(stage.dir / "b/y.html").st_mtime_ns,
                                os.stat(stage.dir / "b/y.html").st_ino, True)
    with pytest.raises(FileExistsError):
        writer.put("b/kept.html", b"other")
    assert (stage.dir / "b/kept.html").read_bytes() == b"kept"
    stage.abandon()
    assert not staging_dir(tmp_path / "out").exists() and list(elsewhere.iterdir()) == []


def test_the_parent_shares_the_folders_the_workers_make(tmp_path: Path) -> None:
    """While workers put pages, a folder the parent needs may exist already: it is theirs,
    so it stays with what they put in it."""
    stage = _empty_stage(tmp_path / "out")
    stage.shared = True
    stage.note_placed(DirectWriter(stage).put("f/g/a.html", b"a"))
    stage.folders.clear()  # as if the worker's report had not come yet
    stage.used.clear()
    stage.add("f/g/b.html", b"b")
    assert (stage.dir / "f/g/a.html").read_bytes() == b"a"
    assert {"f", "f/g"} <= stage.made and {"f", "f/g"} <= stage.used
    stage.abandon()


def test_a_page_that_comes_with_its_digest_is_not_hashed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[bytes] = []
    original = file_digest

    def digest(data: bytes) -> str:
        hashed.append(data)
        return original(data)

    monkeypatch.setattr("generator.write.file_digest", digest)
    write_output([OutputFile("a/index.html", b"page a", digest=original(b"page a")),
                  OutputFile("b.html", b"page b")], [], tmp_path / "out")
    assert b"page a" not in hashed and b"page b" in hashed
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["files"]["a/index.html"] == [original(b"page a"), 6]


def test_a_build_killed_while_workers_put_pages_leaves_the_output_and_no_workers(
        tmp_path: Path) -> None:
    """SIGKILL a real build while its page workers write into a staging folder made empty
    (no spare: the first build after a cold one): the output stays, the workers die with it
    (so they neither hold the lock nor write on), and the next build cleans up and runs."""
    site = small_site(tmp_path / "site", 400)
    output = tmp_path / "public"
    command = [sys.executable, "-m", "generator", "build", "--site", str(site), "--output",
               str(output), "--now", "2026-11-24T12:00:00+00:00", "--jobs", "2"]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    config = site / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("Test Briefing", "Renamed"),
                      encoding="utf-8")  # every page changes
    assert not staging_dir(output).exists()
    before = tree_digest(output)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    workers: list[int] = []
    while process.poll() is None:
        try:
            pages = os.listdir(staging_dir(output) / "site")
            workers = [int(pid) for pid in children.read_text().split()]
        except (FileNotFoundError, ValueError):
            pages, workers = [], []
        if len(pages) > 1 and len(workers) >= 2:  # the workers are putting pages
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the build finished before it was killed"


    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] not in "ZX"
        except (FileNotFoundError, ProcessLookupError):
            return False

    deadline = time.monotonic() + 30  # the signal is asynchronous: a bound, not a timing
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(map(alive, workers)), "a worker outlived its killed build"
    assert tree_digest(output) == before
    finished = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert finished.returncode == 0, finished.stderr
    assert "Renamed" in (output / "index.html").read_text(encoding="utf-8")
