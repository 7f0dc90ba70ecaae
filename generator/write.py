"""Write the site: stage it beside the output folder, then swap it in whole.

The output folder is only ever replaced by a complete build. Files the build did not make
(found in the output folder but not in the previous build's manifest) are carried over.
Unchanged files are hard links to the previous build's files, so their mtimes stay. The
retired output is kept beside the output as the next build's starting tree (the spare), so a
rebuild costs about what changed rather than one new file and folder per page. Each output
folder's (mtime, ctime, inode) is recorded beside the output, so the next build lists only the
folders that changed when it looks for files it did not make; the same records of the spare's
folders, with each output file's recorded inode, let it keep the spare's copy of an unchanged
file without a look at the file.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import functools
import hashlib
import json
import os
import shutil
from array import array
from bisect import bisect_left
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from stat import S_ISDIR, S_ISREG
from typing import TYPE_CHECKING, NamedTuple, Protocol

from generator.errors import BuildError, Problem, error

if TYPE_CHECKING:  # not at run time: the no-change shortcut uses this module without Jinja
    from generator.render import OutputFile

MANIFEST = ".briefing-manifest.json"
STAGING_MARK = ".briefing-staging"
SPARE_RECORD = "spare.json"


@dataclass(frozen=True)
class Asset:
    """A file copied as it is (stylesheet, image): its source and its path in the output."""

    source: Path
    path: str


class PlacedFile(NamedTuple):
    """A page a `DirectWriter` put in the staging tree: its path, size and digest, the
    file's mtime and inode, and whether it was written anew (else linked from the output)."""

    path: str
    size: int
    digest: str
    mtime: int
    inode: int
    fresh: bool


class PageStream(Protocol):
    """Rendered pages not yet started: the paths they may be written to, then either their
    bytes (`OutputFile`) or, given a `DirectWriter`, the pages it placed (`PlacedFile`).
    `in_workers`: rendered in other processes (else the writer's own process gains nothing
    from a `DirectWriter` and pays for the paths' check)."""

    in_workers: bool

    def planned_paths(self) -> list[str]:
        """Every path a page may be written to (a page whose layout fails writes none)."""
        ...

    def start(self, writer: DirectWriter | None, inherited: tuple[int, ...]
              ) -> Iterator[OutputFile | PlacedFile]:
        """Start rendering; worker processes close the file descriptors `inherited`."""
        ...

    def close(self) -> None:
        """Stop rendering and wait until no process writes any more."""
        ...


@dataclass(frozen=True)
class WriteReport:
    """What a write did: files written anew, files kept as they were, files removed."""

    written: int
    unchanged: int
    removed: int


def check_output_dir(output_dir: Path, site_dir: Path) -> list[Problem]:
    """Refuse an output folder that is, holds or sits inside the site's sources."""
    out = output_dir.resolve()
    site = site_dir.resolve()
    protected = [site, site / "content", site / "layouts", site / "config.yaml"]
    for path in protected:
        if out == path or path.is_relative_to(out):
            return [error(str(output_dir), None,
                          f"the output folder {output_dir} would contain {path.name or path}: "
                          "choose an output folder of its own, such as <site>/output")]
    for path in protected[1:3]:
        if out.is_relative_to(path):
            return [error(str(output_dir), None,
                          f"the output folder {output_dir} is inside the site's {path.name}/ "
                          "folder, so the next build would read its own output: choose an "
                          "output folder outside it, such as <site>/output")]
    if out.parent == out or out == Path.home().resolve():
        return [error(str(output_dir), None, "refusing to use this folder as the output folder")]
    if output_dir.exists() and not output_dir.is_dir():
        return [error(str(output_dir), None, "the output path exists and is not a folder")]
    return []


def staging_dir(output_dir: Path) -> Path:
    """The folder beside the output where a build is put together before the swap."""
    return output_dir.parent / f".{output_dir.name}.staging"


def _state_path(output_dir: Path) -> Path:
    return output_dir.parent / f".{output_dir.name}.state.json"


def _folders_path(output_dir: Path) -> Path:
    return output_dir.parent / f".{output_dir.name}.folders.json"


# A folder's (mtime, ctime, inode) tells a later build that nothing was added to, removed from
# or renamed in it since it was recorded (git's "untracked cache"), provided its last change
# was stamped strictly before a time stamp from the same file system's clock taken at or
# before any change the record does not know of (`_clock`): every later change is stamped at
# or after that time, so it cannot leave the folder's times as recorded, whatever the clock's
# tick (a jiffy, or whole seconds on ext3, FAT and some network file systems, where the times
# are rounded the same way). Where the stamps are whole seconds the margin is 2 s, so that a
# clock stepped back by up to that much (a leap second) cannot repeat the recorded second; on
# other file systems a stepped clock would have to land on the very nanosecond.
_WHOLE_SECOND_MARGIN = 2_000_000_000


def _clock(folder: str) -> int:
    """The file system's clock now, as it stamps changes: touch `folder` (one only the build
    writes in) and read its mtime back."""
    os.utime(folder)
    return os.stat(folder).st_mtime_ns


def _settled(stat: os.stat_result, reference: int) -> tuple[int, int, int] | None:
    """The (mtime, ctime, inode) by which a later build may know the folder `stat` describes
    unchanged, or None when its last change is too close to `reference` (see above)."""
    margin = _WHOLE_SECOND_MARGIN if reference % 1_000_000_000 == 0 else 0
    if max(stat.st_mtime_ns, stat.st_ctime_ns) >= reference - margin:
        return None
    return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


class FolderStats:
    """Folders (sorted, so a folder comes after its parent) and each one's settled
    (mtime, ctime, inode), zeros for none, packed three 64-bit numbers a folder."""

    def __init__(self, names: list[str], numbers: array):
        self.names = names
        self.numbers = numbers
        self._index: dict[str, int] | None = None

    @classmethod
    def of(cls, folders: dict[str, tuple[int, int, int] | None]) -> FolderStats:
        """The folders of `folders` and their settled stats."""
        names = sorted(folders)
        numbers = array("q")
        for name in names:
            try:
                numbers.extend(folders[name] or _NO_STAT)
            except OverflowError:  # an inode number beyond 2**63: listed next time
                del numbers[len(numbers) - len(numbers) % 3:]
                numbers.extend(_NO_STAT)
        return cls(names, numbers)

    @classmethod
    def from_json(cls, names: object, packed: object) -> FolderStats | None:
        """The value `to_json` gave, or None when it is not one."""
        if not (isinstance(names, list) and isinstance(packed, str)):
            return None
        numbers = array("q")
        numbers.frombytes(base64.b64decode(packed, validate=True))
        if (len(numbers) != 3 * len(names) or not set(map(type, names)) <= {str}
                or names != sorted(names)):
            return None
        return cls(names, numbers)

    def to_json(self) -> tuple[list[str], str]:
        """The folders and their stats, as JSON values."""
        return self.names, base64.b64encode(self.numbers.tobytes()).decode("ascii")

    def get(self, name: str) -> tuple[int, int, int] | None:
        """The settled stat of `name`, if it has one."""
        if self._index is None:
            self._index = {folder: n for n, folder in enumerate(self.names)}
        n = self._index.get(name)
        if n is None or not self.numbers[3 * n + 1]:
            return None
        return (self.numbers[3 * n], self.numbers[3 * n + 1], self.numbers[3 * n + 2])


_NO_STAT = (0, 0, 0)


def _save_folders(output_dir: Path, manifest_digest: str, folders: FolderStats,
                  extra: dict[str, bool]) -> None:
    """Remember each folder of the output with its settled stat, and the files in it the
    build did not make, beside the output, for the next carry_over()."""
    names, packed = folders.to_json()
    path = _folders_path(output_dir)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps({"format": 2, "manifest": manifest_digest,
                                         "folders": names, "stats": packed, "extra": extra}),
                             encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        _unlink_quietly(os.fspath(path))  # only a speed-up is lost: the next build looks


def _recorded_folders(output_dir: Path, manifest_digest: str | None
                      ) -> tuple[FolderStats | None, dict[str, bool]]:
    """What the last build recorded of the output's folders, if its record matches the output
    (whose manifest has `manifest_digest`): the folders and their settled stats, the files
    the build did not make."""
    try:
        record = json.loads(_folders_path(output_dir).read_bytes())
        if (manifest_digest is None or record["format"] != 2
                or record["manifest"] != manifest_digest):
            return None, {}
        folders = FolderStats.from_json(record["folders"], record["stats"])
        extra = record["extra"]
        if folders is None or not isinstance(extra, dict):
            return None, {}
        return folders, {str(rel): bool(link) for rel, link in extra.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def _save_state(output_dir: Path, manifest_digest: str, files: Iterable[str],
                mtimes: dict[str, int], inodes: dict[str, int]) -> None:
    """Remember the mtime and inode of every file written (packed, in the order of the
    manifest's `files`), beside the output (not in it, so the output stays byte-identical
    from build to build)."""
    path = _state_path(output_dir)
    temporary = path.with_name(path.name + ".tmp")
    try:
        packed = base64.b64encode(array("q", [mtimes[rel] for rel in files]).tobytes())
        numbers = base64.b64encode(array("Q", [inodes[rel] for rel in files]).tobytes())
        temporary.write_text(json.dumps({"format": 3, "manifest": manifest_digest,
                                         "mtimes": packed.decode("ascii"),
                                         "inodes": numbers.decode("ascii")}), encoding="utf-8")
        os.replace(temporary, path)
    except (OSError, OverflowError, KeyError):
        _unlink_quietly(os.fspath(path))  # only a speed-up is lost: bytes are compared


def recorded_mtimes(output_dir: Path, manifest_digest: str | None,
                    files: dict[str, list]) -> dict[str, int]:
    """The mtimes the last build recorded for its files, if its record matches the output,
    whose manifest has `manifest_digest` and lists `files`."""
    return _recorded_state(output_dir, manifest_digest, files)[0]


def _recorded_state(output_dir: Path, manifest_digest: str | None, files: dict[str, list]
                    ) -> tuple[dict[str, int], dict[str, int]]:
    """The mtimes and inodes the last build recorded for its files (`recorded_mtimes`)."""
    try:
        state = json.loads(_state_path(output_dir).read_bytes())
        if (manifest_digest is None or not isinstance(state, dict) or state.get("format") != 3
                or state.get("manifest") != manifest_digest):
            return {}, {}
        mtimes = array("q")
        mtimes.frombytes(base64.b64decode(state["mtimes"], validate=True))
        inodes = array("Q")
        inodes.frombytes(base64.b64decode(state["inodes"], validate=True))
    except (OSError, ValueError, KeyError, TypeError):
        return {}, {}
    if len(mtimes) != len(files) or len(inodes) != len(files):
        return {}, {}
    return dict(zip(files, mtimes, strict=True)), dict(zip(files, inodes, strict=True))


def recover(output_dir: Path) -> None:
    """Clean up after a build that was killed: put the output back if a swap was cut short,
    then remove the staging folder unless it holds a clean spare. Refuse to touch a folder
    briefing did not make."""
    _recover(output_dir)


SpareListing = tuple[dict[str, bool], FolderStats, list[str]]


def _recover(output_dir: Path, output_files: dict[str, list] | None = None,
             output_digest: str | None = None, folder_names: list[str] | None = None
             ) -> SpareListing | None:
    """recover(), returning the listing of the clean spare it kept, if any, given the output's
    manifest entries and digest (read here when not given) and the folders the output's
    folder record lists."""
    root = staging_dir(output_dir)
    if not root.exists() and not root.is_symlink():
        return None
    if root.is_symlink() or not root.is_dir() or (
            not (root / STAGING_MARK).is_file() and any(root.iterdir())):
        raise BuildError([error(str(root), None,
                                "this is in the way of the build's staging folder and was not "
                                "made by briefing; move it away")])
    old = root / "old"
    if not output_dir.exists() and old.is_dir():
        os.rename(old, output_dir)
    if output_files is None:
        try:
            raw = (output_dir / MANIFEST).read_bytes()
            output_files, output_digest = _parse_manifest(raw), file_digest(raw)
        except OSError:
            output_files, output_digest = {}, None
    listing = _spare_listing(root, output_files, output_digest, folder_names)
    if listing is None:
        shutil.rmtree(root)
    return listing


def _spare_listing(root: Path, output_files: dict[str, list], output_digest: str | None,
                   folder_names: list[str] | None = None) -> SpareListing | None:
    """What the spare holds (files -> whether a link; its folders and their settled stats from
    when it was the output; the output's files the spare may not share), when the staging
    folder holds only a retired output that a finished build put there with its record, not
    one a build was changing, and the output is the one that build made (whose manifest,
    `output_files`, has `output_digest`): the record lists the spare's files as they differ
    from the output's manifest, and its folders unless they are the output's, `folder_names`
    (from the output's folder record, written with the spare's)."""
    try:
        if sorted(os.listdir(root)) != sorted([STAGING_MARK, SPARE_RECORD, "site"]):
            return None
        site = root / "site"
        if site.is_symlink() or not site.is_dir():
            return None
        record = json.loads((root / SPARE_RECORD).read_text(encoding="utf-8"))
        manifest = (site / MANIFEST).read_bytes()
        if (record.get("format") != 5 or record.get("manifest") != file_digest(manifest)
                or output_digest is None or record.get("output") != output_digest):
            return None
        extra = record["extra"]
        names = record["folders"]
        folders = FolderStats.from_json(folder_names if names is None else names,
                                        record["stats"])
        loose = record["loose"]
        if not (isinstance(extra, dict) and isinstance(record["missing"], list)
                and isinstance(loose, list)) or not folders:
            return None
        files = dict.fromkeys(output_files, False)
        for rel in record["missing"]:
            files.pop(rel, None)
        files.update((str(rel), bool(link)) for rel, link in extra.items())
        return files, folders, [str(rel) for rel in loose]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def kept_files(output_dir: Path) -> list[str]:
    """Files in the output folder that the last build did not make, so the next one keeps."""
    if not output_dir.is_dir():
        return []
    old = _read_manifest(output_dir)
    files, _ = _scan(os.fspath(output_dir))
    return sorted(rel for rel in files if rel not in old and rel not in (MANIFEST, STAGING_MARK))


class IntactFiles(dict[str, str]):
    """What `intact_files` found (relative path -> manifest digest), with what it read to find
    it, so the writer need not read it again: the manifest's digest and entries, the recorded
    mtimes and inodes and each intact file's stat."""

    def __init__(self, digest: str = "", listed: dict[str, list] | None = None,
                 mtimes: dict[str, int] | None = None, inodes: dict[str, int] | None = None):
        super().__init__()
        self.digest = digest
        self.listed = listed if listed is not None else {}
        self.mtimes = mtimes if mtimes is not None else {}
        self.inodes = inodes if inodes is not None else {}
        self.stats: dict[str, os.stat_result] = {}
        self.raw: bytes | None = None  # the manifest's bytes, when intact_files read them


def intact_files(output_dir: Path) -> IntactFiles:
    """The previous build's files that are as it wrote them: relative path -> manifest digest.

    A file counts when the manifest lists it and its size and mtime are those the state file
    recorded; one stat per file, no bytes read."""
    if output_dir.is_symlink():  # the writer keeps its records beside the folder it points to
        output_dir = output_dir.resolve()
    try:
        raw = (output_dir / MANIFEST).read_bytes()
    except OSError:
        return IntactFiles()
    intact = _intact(output_dir, _parse_manifest(raw), file_digest(raw))
    intact.raw = raw
    return intact


def output_unchanged(output_dir: Path, manifest_digest: str) -> bool:
    """True when the output folder's manifest has `manifest_digest` and every file it lists is
    as the writer left it (`intact_files`), reading the manifest once."""
    if output_dir.is_symlink():
        output_dir = output_dir.resolve()
    try:
        raw = (output_dir / MANIFEST).read_bytes()
    except OSError:
        return False
    if file_digest(raw) != manifest_digest:
        return False
    listed = _parse_manifest(raw)
    return bool(listed) and len(_intact(output_dir, listed, manifest_digest)) == len(listed)


def _intact(output_dir: Path, listed: dict[str, list], digest: str) -> IntactFiles:
    """`intact_files` for the manifest `listed`, whose bytes have `digest`."""
    mtimes, inodes = _recorded_state(output_dir, digest, listed)
    top = os.fspath(output_dir)
    intact = IntactFiles(digest, listed, mtimes, inodes)
    if not mtimes:
        return intact
    stats = intact.stats
    lstat = os.lstat
    # _intact_stat(), inline: it runs for every file; the mtimes are in the manifest's order
    for (rel, entry), mtime in zip(listed.items(), mtimes.values(), strict=True):
        try:
            stat = lstat(f"{top}/{rel}")
        except (OSError, ValueError):
            continue
        if (stat.st_mtime_ns == mtime and type(entry) is list and len(entry) >= 2
                and stat.st_size == entry[1] and S_ISREG(stat.st_mode)):
            intact[rel] = entry[0]
            stats[rel] = stat
    return intact


def _intact_stat(top: str, rel: str, entry: object, mtimes: dict[str, int]
                 ) -> os.stat_result | None:
    """The stat of the previous build's file at `rel`, if it is as that build recorded it."""
    if not isinstance(entry, list) or len(entry) < 2 or rel not in mtimes:
        return None
    try:
        stat = os.stat(f"{top}/{rel}", follow_symlinks=False)
    except (OSError, ValueError):
        return None
    if not S_ISREG(stat.st_mode) or stat.st_size != entry[1] or stat.st_mtime_ns != mtimes[rel]:
        return None
    return stat


def _scan(top: str) -> tuple[dict[str, bool], set[str]]:
    """Every file and symbolic link below `top` (relative path -> whether it is a link), and
    every folder; links to folders are not followed."""
    files: dict[str, bool] = {}
    folders: set[str] = set()
    pending = [""]
    while pending:
        folder = pending.pop()
        prefix = f"{folder}/" if folder else ""
        with os.scandir(f"{top}/{folder}" if folder else top) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.add(rel)
                    pending.append(rel)
                else:
                    files[rel] = entry.is_symlink()
    return files, folders


_ODD_PARTS = frozenset(("", ".", ".."))


def safe_relative(path: str) -> str | None:
    """The normalised relative path, or None when it would leave the output folder."""
    if (path and path[0] not in "./" and path[-1] != "/" and "//" not in path
            and "/." not in path and "\x00" not in path):
        # Already normal (the common case): no part is empty, and none is ".", ".." or one
        # of the writer's own names, which all start with a dot.
        return path
    if "\x00" in path:
        return None
    parts = path.split("/")
    if not _ODD_PARTS.intersection(parts) and parts[0] not in (MANIFEST, STAGING_MARK):
        return path  # already normal: the common case, without PurePosixPath's cost
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("..", "") for p in pure.parts):
        return None
    if pure.parts[0] in (MANIFEST, STAGING_MARK):
        return None
    return pure.as_posix()


def file_digest(data: bytes) -> str:
    """The digest the manifest records for a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _read_manifest(output_dir: Path) -> dict[str, list]:
    try:
        return _parse_manifest((output_dir / MANIFEST).read_bytes())
    except OSError:
        return {}


def _parse_manifest(raw: bytes | None) -> dict[str, list]:
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


@contextmanager
def output_lock(output_dir: Path) -> Iterator[int]:
    """Hold an exclusive lock for this output folder, or fail at once with a clear message;
    give the lock file's descriptor (processes forked meanwhile close theirs)."""
    lock_path = output_dir.parent / f".{output_dir.name}.lock"
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise BuildError([error(str(output_dir), None,
                                    "another build is writing this output folder; "
                                    "wait for it to finish and run the build again")]) from None
        try:
            yield handle.fileno()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """The C library's renameat2(), if it has one."""
    # Imported here: a rebuild with nothing to do only checks the output through this module.
    import ctypes

    try:  # the program's own symbols, the C library among them: no search for its file
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        pass
    import ctypes.util  # brings subprocess, and runs a program to find the library

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    return getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result != 0:
        import ctypes  # loaded by _renameat2()

        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            return False
        raise OSError(err, os.strerror(err), str(a))
    return True


class Stage:
    """A staging folder beside the output being filled with one build's files.

    Layout: `.<output>.staging/` holds a mark file and `site/`, the tree that becomes the new
    output. The swap exchanges `site/` with the output folder, so the retired output ends up in
    the marked staging folder, where it is kept as the spare: the next build turns the spare
    into its site in place, touching only what differs, instead of making every folder anew
    and deleting the old tree. `spare.json` records the spare's manifest and what it holds (as
    carry_over() found it in the output, so the next build need not walk it), and is removed
    before the spare is changed, so the spare of a build that was killed or failed is
    discarded and the next build starts from an empty `site/`. Nothing in the spare is
    trusted for its bytes: a file is kept only when it is the very file (inode) the output
    holds and the output's file is as the last build wrote it; anything else is written anew.
    That it is the very file is known without a look at it when the output's file is the
    inode the last build recorded, the spare shared that file when it was retired (the record
    lists the files it may not share as `loose`) and the spare's folder still has the settled
    (mtime, ctime, inode) recorded then (nothing was added, removed or renamed in it since);
    else the spare's file is looked at.
    A spare whose listed folders are not all folders is discarded; one that otherwise differs
    from its listing is set right from the disk as the build meets the difference (what the
    listing misses in a folder the site keeps, put there in the moment of the last swap,
    stays, as a file the build did not make).

    Files in `site/` may be hard links shared with the output, so they are never opened for
    writing: they are only replaced by a rename or removed.
    """

    def __init__(self, output_dir: Path, intact: dict[str, str] | None = None):
        self.output_dir = output_dir
        self.root = staging_dir(output_dir)
        self.dir = self.root / "site"
        self.live = os.fspath(output_dir)
        self.top = os.fspath(self.dir)
        self.temp = os.fspath(self.root / "tmp")
        try:
            self.old_manifest: bytes | None = (output_dir / MANIFEST).read_bytes()
        except OSError:
            self.old_manifest = None
        if isinstance(intact, IntactFiles) and intact.raw == self.old_manifest:
            self.old_digest: str | None = intact.digest  # the bytes it read: not hashed again
        else:
            self.old_digest = (file_digest(self.old_manifest) if self.old_manifest is not None
                               else None)
        # The stat of each file `intact` found as the previous build wrote it, when it was
        # found in this very output (same manifest bytes); re-read otherwise.
        self.planned: dict[str, os.stat_result] = {}
        if isinstance(intact, IntactFiles) and intact.digest and intact.digest == self.old_digest:
            self.old, self.old_mtimes, self.planned = intact.listed, intact.mtimes, intact.stats
            self.old_inodes = intact.inodes
        else:
            self.old = _parse_manifest(self.old_manifest)
            self.old_mtimes, self.old_inodes = _recorded_state(output_dir, self.old_digest,
                                                               self.old)
        # The output as carry_over() found it: the files it did not make, the build's files
        # missing, every folder and the settled stat of those that have one.
        self.live_extra: dict[str, bool] = {}
        self.live_missing: list[str] = []
        self.live_folders = FolderStats([], array("q"))
        self.carried: dict[str, bool] = {}  # what carry_over() put in `site/`
        # The spare's folders and their settled stats, recorded when they were the output's.
        self.spare_folders = FolderStats([], array("q"))
        self.made: set[str] = set()  # folders this build made in `site/`
        self.manifest: dict[str, list] = {}
        self.mtimes: dict[str, int] = {}
        self.inodes: dict[str, int] = {}
        self.fresh: set[str] = set()  # files this build wrote anew
        # Spare folders that are as recorded (so each file in them is the one it was), the
        # output's files the spare may not share (`_keep_spare`), the spare's device; and the
        # output's folders carry_over() found as recorded.
        self.verified: set[str] = set()
        self.loose: set[str] = set()
        self.spare_dev = -1
        self.live_trusted: set[str] = set()
        self.live_found: dict[str, bool] | None = None  # None: carry_over() did not look
        self.empty = False  # `site/` was made empty: no spare
        self.shared = False  # page workers make folders in `site/` too (`DirectWriter`)
        # What the last build recorded of the output's folders (`_recorded_folders`).
        self.folder_record: tuple[FolderStats | None, dict[str, bool]] | None = None
        self.written = 0
        self.unchanged = 0
        self.base: dict[str, bool] = {}  # what `site/` held at the start: path -> is a link
        self.folders: set[str] = set()  # the real folders in `site/`
        self.placed: set[str] = set()  # files this build put in `site/`
        self.used: set[str] = set()  # folders that hold a file this build put there

    def prepare(self) -> None:
        """Start from the clean spare or an empty staging folder, cleaning up after a build
        that was killed."""
        record = self.folder_record = _recorded_folders(self.output_dir, self.old_digest)
        listing = _recover(self.output_dir, self.old, self.old_digest,
                           record[0].names if record[0] is not None else None)
        if listing is not None and self._check_folders(listing[1]):
            os.unlink(self.root / SPARE_RECORD)  # from here on the spare is being changed
            self.base, self.spare_folders, loose = listing
            self.loose = set(loose)
            self.folders = set(self.spare_folders.names)
            return
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        (self.root / STAGING_MARK).touch()
        self.dir.mkdir()
        self.empty = True

    def _check_folders(self, folders: FolderStats) -> bool:
        """True when no folder the spare's record lists is now a link or a file, since a path
        through a link to a folder would lead the build outside the staging folder; and note
        in `verified` each folder whose (mtime, ctime, inode) is still the settled one the
        record holds, below verified folders: nothing was added to, removed from or renamed
        in it since, so each of its files is the very file (inode) it was then."""
        top = self.top
        try:
            dev = self.spare_dev = os.lstat(top).st_dev
        except OSError:
            return False
        numbers = folders.numbers
        verified = self.verified
        lstat = os.lstat
        for n, folder in enumerate(folders.names):  # sorted: a folder after its parent
            try:
                stat = lstat(f"{top}/{folder}")
            except FileNotFoundError:
                continue  # gone: made again when needed
            except OSError:
                return False
            if not S_ISDIR(stat.st_mode):
                return False
            j = 3 * n
            if (stat.st_ctime_ns == numbers[j + 1] and stat.st_mtime_ns == numbers[j]
                    and stat.st_ino == numbers[j + 2] and stat.st_dev == dev):
                cut = folder.rfind("/")
                if cut < 0 or folder[:cut] in verified:
                    verified.add(folder)
        return True

    def _make_folder(self, folder: str) -> None:
        """Make `folder` and its parents real folders in `site/` that hold this build's files."""
        if folder in self.used:
            return
        cut = folder.rfind("/")
        if cut > 0:
            self._make_folder(folder[:cut])
        if folder not in self.folders:
            path = f"{self.top}/{folder}"
            try:
                os.mkdir(path)
            except FileExistsError:
                if not (self.shared and S_ISDIR(os.lstat(path).st_mode)):  # else a worker's
                    self._clear(folder)  # an older site's file or link where a folder goes
                    os.mkdir(path)
            except (FileNotFoundError, NotADirectoryError):
                self._repair_folders(folder)  # the spare is not as its record says
                os.mkdir(path)
            self.made.add(folder)
            self.folders.add(folder)
            self.base.pop(folder, None)
        self.used.add(folder)

    def _clear(self, rel: str) -> None:
        """Remove what an older site left at `rel` in `site/`; what this build put there stays."""
        path = f"{self.top}/{rel}"
        if rel in self.placed or rel in self.used:
            raise FileExistsError(errno.EEXIST, "a file and a folder at one path", path)
        try:
            is_folder: bool | None = S_ISDIR(os.lstat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_folder = None
        if is_folder:
            shutil.rmtree(path)
        elif is_folder is not None:
            os.unlink(path)
        if is_folder or rel in self.folders:  # forget it and all the record says is inside
            inside = f"{rel}/"
            # In place: `quick_add` holds these sets and dicts.
            for folders in (self.folders, self.verified):
                folders.difference_update([f for f in folders
                                           if f == rel or f.startswith(inside)])
            for path in [p for p in self.base if p.startswith(inside)]:
                del self.base[path]
        self.base.pop(rel, None)

    def _put(self, rel: str, make: Callable[[str], object]) -> None:
        """Put a new file at `rel` in `site/` with `make(path)`: straight there when the path
        is free, else made beside it and renamed over what an older site left there."""
        folder = rel[:rel.rfind("/") + 1][:-1]
        if folder and folder not in self.used:
            self._make_folder(folder)
        if rel in self.folders:
            self._clear(rel)
        try:
            self._place(rel, make)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            # The spare is not quite as its record says (changed behind the build's back):
            # make its folders real and the path free, then try once more.
            self._repair_folders(rel)
            self._remove_stale(rel)
            self.base[rel] = False  # whatever is there now is replaced by a rename
            self._place(rel, make)
        self.placed.add(rel)

    def _place(self, rel: str, make: Callable[[str], object]) -> None:
        target = f"{self.top}/{rel}"
        if rel in self.base:
            _unlink_quietly(self.temp)
            make(self.temp)
            os.rename(self.temp, target)
        else:
            try:
                make(target)
            except FileExistsError:
                self._clear(rel)  # something nobody recorded: not this build's, so it goes
                make(target)

    def _repair_folders(self, rel: str) -> None:
        """Make every folder above `rel` a real folder, looking at the disk instead of the
        spare's record; never following a link."""
        parts = rel.split("/")
        for end in range(1, len(parts)):
            folder = "/".join(parts[:end])
            path = f"{self.top}/{folder}"
            try:
                mode: int | None = os.lstat(path).st_mode
            except FileNotFoundError:
                mode = None
            if mode is None or not S_ISDIR(mode):
                if mode is not None:
                    if folder in self.placed:
                        raise FileExistsError(errno.EEXIST, "a file and a folder at one path",
                                              path)
                    os.unlink(path)
                os.mkdir(path)
                self.made.add(folder)
            self.folders.add(folder)
            self.used.add(folder)
            self.base.pop(folder, None)

    def _remove_stale(self, rel: str) -> None:
        """Remove an older site's file, link or folder at `rel`, if there is one."""
        path = f"{self.top}/{rel}"
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            pass  # nothing there, or a file where a folder above it was
        except IsADirectoryError:
            if rel not in self.used:  # else it is this build's folder, and the file is gone
                shutil.rmtree(path)

    def _link(self, rel: str, source: str, stat: os.stat_result) -> None:
        """Make `rel` in `site/` the very file `source` is (whose stat is `stat`), so its inode
        and mtime stay; nothing is done when it already is."""
        if rel in self.base and not self.base[rel] and rel not in self.placed:
            try:
                here = os.lstat(f"{self.top}/{rel}")
            except OSError:
                here = None
            if here is not None and (here.st_ino, here.st_dev) == (stat.st_ino, stat.st_dev):
                folder = rel[:rel.rfind("/") + 1][:-1]
                if folder and folder not in self.used:
                    self._make_folder(folder)
                self.placed.add(rel)
                return
        self._put(rel, functools.partial(_hard_link, source))

    def _place_same(self, rel: str, entry: list, planned: os.stat_result) -> os.stat_result:
        """Make `rel` in `site/` the previous build's file that was planned on (`planned` is
        its stat then): the spare's copy when it is that very file (inode), else a new hard
        link to the output's. The one look at the file placed also checks that it is still
        as the previous build wrote it, so a file changed or replaced since it was planned
        fails the write."""
        path = f"{self.top}/{rel}"
        here: os.stat_result | None = None
        if self.base.get(rel) is False and rel not in self.placed:
            try:
                here = os.lstat(path)
            except OSError:
                here = None
            if here is not None and here.st_ino == planned.st_ino and (
                    here.st_dev == planned.st_dev):
                cut = rel.rfind("/")
                if cut > 0 and rel[:cut] not in self.used:
                    self._make_folder(rel[:cut])
                self.placed.add(rel)
            else:
                here = None
        if here is None:
            self._put(rel, functools.partial(_hard_link, f"{self.live}/{rel}"))
            here = os.lstat(path)
        if (here.st_mtime_ns != self.old_mtimes.get(rel) or here.st_ino != planned.st_ino
                or here.st_dev != planned.st_dev or here.st_size != entry[1]
                or not S_ISREG(here.st_mode)):
            raise OSError(errno.ESTALE, "the previous build's file was changed while the "
                          "build ran", f"{self.live}/{rel}")
        return here

    def _previous(self, rel: str, digest: str, data: bytes) -> os.stat_result | None:
        """The stat of the previous build's file at `rel` when it holds exactly `data`."""
        entry = self.old.get(rel)
        if not isinstance(entry, list) or entry[:2] != [digest, len(data)]:
            return None
        path = f"{self.live}/{rel}"
        try:
            stat = os.stat(path, follow_symlinks=False)
            if not S_ISREG(stat.st_mode) or stat.st_size != len(data):
                return None
            # The recorded mtime says nobody touched the file since; else compare the bytes.
            if self.old_mtimes.get(rel) != stat.st_mtime_ns:
                with open(path, "rb") as handle:
                    if handle.read() != data:
                        return None
        except OSError:
            return None
        return stat

    def add(self, rel: str, data: bytes, same: bool = False, digest: str | None = None
            ) -> None:
        """Stage one file's bytes (`digest`: their `file_digest`, when known); `same` stands
        for the previous build's file at `rel`, as `intact_files` found it."""
        if same:
            entry = self.old.get(rel)
            planned = self.planned.get(rel)
            if planned is None:
                planned = _intact_stat(self.live, rel, entry, self.old_mtimes)
            if planned is None or not isinstance(entry, list):
                raise OSError(errno.ENOENT, "the previous build's file is gone or was changed "
                              "while the build ran", f"{self.live}/{rel}")
            stat = self._place_same(rel, entry, planned)
            self.manifest[rel] = entry if len(entry) == 2 else entry[:2]
            self.mtimes[rel] = stat.st_mtime_ns
            self.inodes[rel] = stat.st_ino
            self.unchanged += 1
            return
        digest = digest or file_digest(data)
        stat = self._previous(rel, digest, data)
        if stat is not None:
            try:
                self._link(rel, f"{self.live}/{rel}", stat)
            except OSError:
                stat = None
        if stat is None:
            made: list[os.stat_result] = []
            self._put(rel, functools.partial(_write_new, data=data, stats=made))
            stat = made[-1]  # the last try made the file
            self.fresh.add(rel)
            self.written += 1
        else:
            self.unchanged += 1
        self.manifest[rel] = [digest, len(data)]
        self.mtimes[rel] = stat.st_mtime_ns
        self.inodes[rel] = stat.st_ino

    def quick_add(self) -> Callable[[str, bytes, bool, str | None], None]:
        """`add`, with its common cases inline: on a big site it runs for nearly every file,
        so it looks each set up once. A same file whose spare copy is that very file (see the
        class) is kept without a look at it, so a change made in place to the output's file
        after `intact_files` looked (which changes the spare's copy too, the same inode) is
        found by the next build, whose look sees another mtime than the recorded one, as a
        change after staging always was; a same file in a folder made empty is linked anew
        and looked at as `add` does."""
        planned_get, recorded_inode, old_get = (self.planned.get, self.old_inodes.get,
                                                self.old.get)
        verified, loose, base_get, placed, used = (self.verified, self.loose, self.base.get,
                                                   self.placed, self.used)
        manifest, mtimes, inodes, dev, add = (self.manifest, self.mtimes, self.inodes,
                                              self.spare_dev, self.add)
        empty, make_folder, old_mtimes = self.empty, self._make_folder, self.old_mtimes
        top, live, link, lstat = self.top, self.live, os.link, os.lstat

        def quick(rel: str, data: bytes, same: bool = False, digest: str | None = None
                  ) -> None:
            if same and empty:  # no spare: a new hard link to the output's file, as `add`
                planned = planned_get(rel)
                if planned is not None:
                    cut = rel.rfind("/")
                    if cut > 0 and rel[:cut] not in used:
                        make_folder(rel[:cut])
                    path = f"{top}/{rel}"
                    link(f"{live}/{rel}", path, follow_symlinks=False)
                    placed.add(rel)
                    here = lstat(path)
                    entry = old_get(rel)
                    if (here.st_ino != planned.st_ino or here.st_dev != planned.st_dev
                            or here.st_mtime_ns != old_mtimes.get(rel)
                            or here.st_size != entry[1] or not S_ISREG(here.st_mode)):
                        raise OSError(errno.ESTALE, "the previous build's file was changed "
                                      "while the build ran", f"{live}/{rel}")
                    manifest[rel] = entry if len(entry) == 2 else entry[:2]
                    mtimes[rel] = here.st_mtime_ns
                    inodes[rel] = here.st_ino
                    self.unchanged += 1
                    return
            elif same:  # the spare's copy, when it is the very file: see the class
                planned = planned_get(rel)
                cut = rel.rfind("/")
                if (planned is not None and cut > 0 and planned.st_ino == recorded_inode(rel)
                        and rel[:cut] in verified and planned.st_dev == dev
                        and rel not in loose and base_get(rel) is False and rel not in placed):
                    folder = rel[:cut]
                    while folder not in used:
                        used.add(folder)
                        cut = folder.rfind("/")
                        if cut < 0:
                            break
                        folder = folder[:cut]
                    placed.add(rel)
                    entry = old_get(rel)
                    manifest[rel] = entry if len(entry) == 2 else entry[:2]
                    mtimes[rel] = planned.st_mtime_ns
                    inodes[rel] = planned.st_ino
                    self.unchanged += 1
                    return
            add(rel, data, same, digest)

        return quick

    def note_placed(self, placed: PlacedFile) -> None:
        """Take in a page a `DirectWriter` put in `site/` (made empty by this build, so each
        folder above it was made by this build)."""
        rel = placed.path
        used, cut = self.used, rel.rfind("/")
        while cut > 0:
            folder = rel[:cut]
            if folder in used:
                break  # and so are the folders above it
            used.add(folder)
            self.folders.add(folder)
            self.made.add(folder)
            cut = folder.rfind("/")
        self.placed.add(rel)
        self.manifest[rel] = [placed.digest, placed.size]
        self.mtimes[rel] = placed.mtime
        self.inodes[rel] = placed.inode
        if placed.fresh:
            self.fresh.add(rel)
            self.written += 1
        else:
            self.unchanged += 1

    def add_copy(self, rel: str, source: Path) -> None:
        """Stage a copy of a file (an image, a stylesheet)."""
        self.add(rel, source.read_bytes())

    def carry_over(self, produced: set[str]) -> list[Problem]:
        """Bring over what is in the output folder but was not made by a build."""
        problems: list[Problem] = []
        if not os.path.isdir(self.live):
            return problems
        self._look_at_output()
        for rel, link in sorted(self.live_extra.items()):
            if rel in (MANIFEST, STAGING_MARK):
                continue
            where = f"{self.output_dir.name}/{rel}"
            if rel in produced:
                problems.append(error(where, None,
                                      "this file was not made by briefing and the build would "
                                      "replace it: move it out of the output folder"))
                continue
            source = f"{self.live}/{rel}"
            try:
                if link:
                    self._carry_link(rel, os.readlink(source))
                else:
                    self._carry_file(rel, source)
                self.carried[rel] = link
            except OSError:
                problems.append(error(where, None,
                                      "this file was not made by briefing and is in the way of "
                                      "a folder or file the build makes: move it out of the "
                                      "output folder"))
        return problems

    def _look_at_output(self) -> None:
        """Find what the output holds that the previous build did not make (`live_extra`),
        which of its files are missing and every folder, listing only the folders that are
        not as the previous build recorded them (or that it could not record settled): a
        folder whose (mtime, ctime, inode) is the recorded one holds what it held then. A
        folder counts only when reached through real folders (a look at its parent, or a
        parent as recorded), never through a link."""
        record, extra = self.folder_record or _recorded_folders(self.output_dir,
                                                                self.old_digest)
        names = record.names if record is not None else []
        numbers = record.numbers if record is not None else array("q")
        recorded = set(names)
        reference = _clock(os.fspath(self.root))  # before any look, so later changes show
        live = self.live
        folders: dict[str, tuple[int, int, int] | None] = {}  # those looked at, or to be
        found: dict[str, bool] = {}
        trusted: set[str] = set()
        new: list[str] = []
        listed: list[str] = []
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

        def look(start: str) -> None:
            """List `start` and every folder below it that has no record."""
            pending = [start]
            while pending:
                folder = pending.pop()
                try:
                    fd = os.open(f"{live}/{folder}" if folder else live, flags)
                except OSError:  # gone, or no longer a folder, since its parent was listed
                    folders.pop(folder, None)
                    continue
                listed.append(folder)
                try:
                    if folder:  # the stat before the listing: a change after it shows
                        folders[folder] = _settled(os.fstat(fd), reference)
                    prefix = f"{folder}/" if folder else ""
                    with os.scandir(fd) as entries:
                        for entry in entries:
                            rel = prefix + entry.name
                            if entry.is_dir(follow_symlinks=False):
                                folders[rel] = None
                                if rel not in recorded:
                                    new.append(rel)
                                    pending.append(rel)
                            else:
                                found[rel] = entry.is_symlink()
                finally:
                    os.close(fd)

        look("")
        lstat = os.lstat
        now = array("q", numbers)  # the record, set right below where it differs
        complete = True  # every recorded folder is still there (and `new` says if any came)
        for n, folder in enumerate(names):  # sorted: a folder comes after its parent
            j = 3 * n
            if folder not in folders:
                cut = folder.rfind("/")
                if cut < 0 or folder[:cut] not in trusted:
                    complete = False
                    continue  # gone: its parent was listed without it, or is gone too
            if numbers[j + 1]:  # settled when recorded
                try:
                    stat = lstat(f"{live}/{folder}")
                except OSError:
                    stat = None
                if (stat is not None and stat.st_ctime_ns == numbers[j + 1]
                        and stat.st_mtime_ns == numbers[j] and stat.st_ino == numbers[j + 2]
                        and S_ISDIR(stat.st_mode)):
                    trusted.add(folder)
                    continue
            look(folder)
            if folder not in folders:
                complete = False
            else:
                try:
                    now[j:j + 3] = array("q", folders[folder] or _NO_STAT)
                except OverflowError:
                    now[j:j + 3] = array("q", _NO_STAT)
        if complete and not new:
            self.live_folders = FolderStats(names, now)
        else:
            for n, folder in enumerate(names):
                if folder in trusted:
                    folders[folder] = (numbers[3 * n], numbers[3 * n + 1], numbers[3 * n + 2])
            self.live_folders = FolderStats.of(folders)
        old = self.old
        self.live_trusted, self.live_found = trusted, found
        self.live_extra = {rel: link for rel, link in extra.items()
                           if rel[:rel.rfind("/") + 1][:-1] in trusted}
        self.live_extra.update((rel, link) for rel, link in found.items() if rel not in old)
        if complete and record is not None and self.old_mtimes:
            # Every folder of the old manifest's files was recorded (the record goes with
            # the manifest) and is still there, so each is trusted or listed; and the
            # manifest is this writer's (the state goes with it), sorted: the files of a
            # listed folder are found by bisection, not by a look at every file.
            self.live_missing = _missing_from(list(old), listed, found)
        else:
            self.live_missing = [rel for rel in old if rel not in found
                                 and rel[:rel.rfind("/") + 1][:-1] not in trusted]

    def _carry_link(self, rel: str, target: str) -> None:
        """Carry over a symbolic link, keeping the spare's when it points to the same place."""
        if rel in self.base and self.base[rel] and rel not in self.placed:
            try:
                kept = os.readlink(f"{self.top}/{rel}") == target
            except OSError:
                kept = False
            if kept:
                cut = rel.rfind("/")
                if cut > 0:
                    self._make_folder(rel[:cut])
                self.placed.add(rel)
                return
        self._put(rel, functools.partial(os.symlink, target))

    def _carry_file(self, rel: str, source: str) -> None:
        """Carry over a file as a hard link to it, or a copy where a link cannot be made."""
        try:
            self._link(rel, source, os.lstat(source))
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
                raise
            self._put(rel, functools.partial(_copy_new, source))

    def finish(self) -> int:
        """Write the manifest, drop what the new site no longer has, swap the staging folder
        in and keep the retired output as the next build's spare; return how many build
        files went."""
        manifest = self.manifest
        self.manifest = {rel: manifest[rel] for rel in sorted(manifest)}  # the manifest's order
        manifest_bytes = _manifest_bytes(self.manifest)
        self._put_manifest(manifest_bytes)
        for rel in self.base.keys() - self.placed:
            self._remove_stale(rel)
        for folder in sorted(self.folders - self.used, reverse=True):  # inner folders first
            path = f"{self.top}/{folder}"
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except NotADirectoryError:
                if folder not in self.placed:
                    os.unlink(path)  # a file nobody recorded
            except OSError:
                shutil.rmtree(path)  # holds what nobody recorded
        removed = len(self.old.keys() - self.manifest.keys())
        folders = self._new_folders()
        retired = os.path.isdir(self.live)
        if retired:
            try:
                shutil.copymode(self.output_dir, self.dir)
            except OSError:
                pass
            if not _exchange(self.dir, self.output_dir):
                # No atomic exchange here: two renames; recover() repairs a kill between them.
                os.rename(self.output_dir, self.root / "old")
                os.rename(self.dir, self.output_dir)
                os.rename(self.root / "old", self.dir)
        else:
            os.rename(self.dir, self.output_dir)
        digest = file_digest(manifest_bytes)
        _save_state(self.output_dir, digest, self.manifest, self.mtimes, self.inodes)
        _save_folders(self.output_dir, digest, folders, self.carried)
        self._keep_spare(retired, digest, folders.names)
        return removed

    def _new_folders(self) -> FolderStats:
        """Each folder of the finished `site/` with its settled stat, for the next build's
        carry_over(): for a spare folder, the one recorded when carry_over() last looked at
        it in the output (it held what the spare's record lists then; any change since, in
        the moment of the swap or this build's own, is stamped later, so it shows and the
        folder is listed); for a folder this build made, its stat now, settled against the
        clock read after these stats and before the swap (nobody else changes `site/` until
        then)."""
        spare = self.spare_folders
        used = self.used
        if (not self.made and len(used) == len(spare.names)
                and used.issuperset(spare.names)):
            return spare  # the same folders: each keeps the stat recorded with it
        folders: dict[str, tuple[int, int, int] | None] = {}
        made: dict[str, os.stat_result] = {}
        for folder in used:
            if folder in self.made:
                try:
                    made[folder] = os.lstat(f"{self.top}/{folder}")
                except OSError:
                    folders[folder] = None
            else:
                folders[folder] = spare.get(folder)
        if made:
            reference = _clock(os.fspath(self.root))
            for folder, stat in made.items():
                folders[folder] = _settled(stat, reference) if S_ISDIR(stat.st_mode) else None
        return FolderStats.of(folders)

    def _put_manifest(self, manifest_bytes: bytes) -> None:
        """Put the manifest in `site/`: the output's own file when it has the same bytes."""
        if manifest_bytes == self.old_manifest:
            try:
                source = f"{self.live}/{MANIFEST}"
                self._link(MANIFEST, source, os.lstat(source))
                return
            except OSError:
                pass
        self._put(MANIFEST, functools.partial(_write_new, data=manifest_bytes, stats=[]))

    def _keep_spare(self, retired: bool, output_digest: str, output_folders: list[str]
                    ) -> None:
        """Keep the retired output in `site/` for the next build, with the record that says it
        is whole; without a retired output with a manifest, remove the staging folder. The
        record leaves out the spare's folders when they are the new output's, which the
        output's folder record lists."""
        _unlink_quietly(self.temp)
        if retired and self.old_manifest is not None:
            # What the retired output held when carry_over() looked, so the next build need
            # not walk it: its manifest's files less those missing, plus the others.
            # Its files, as they differ from the new output's manifest, which the next build
            # reads anyway: carry_over() found the old manifest's files less those missing,
            # plus the others.
            old, new, extra = self.old, self.manifest, self.live_extra
            gone = set(self.live_missing)
            names, packed = self.live_folders.to_json()
            # The new output's files that may not be the very files (inodes) the spare holds
            # at their paths: those written anew, and those in a folder carry_over() did not
            # find as recorded (changed since the last build, maybe while this one linked
            # from it). Each other file was linked from (or kept as) the retired output's
            # file, in a folder nothing changed in from before this build until the look.
            # Those are the files carry_over() found in the folders it listed (the others
            # it trusted), or found gone.
            found = self.live_found
            loose = (self.fresh | (new.keys() & found.keys()) | (new.keys() & gone)
                     if found is not None else new.keys())
            record = {"format": 5, "manifest": self.old_digest,
                      "output": output_digest, "loose": sorted(loose),
                      "missing": sorted(((new.keys() - old.keys()) | (new.keys() & gone))
                                        - extra.keys()),
                      "extra": {**dict.fromkeys(sorted(old.keys() - new.keys() - gone), False),
                                **{rel: link for rel, link in extra.items() if rel not in new}},
                      "folders": None if names == output_folders else names,
                      "stats": packed}
            try:
                (self.root / SPARE_RECORD).write_text(json.dumps(record), encoding="utf-8")
                return
            except OSError:
                pass  # only a speed-up is lost: recover() discards a spare without its record
        shutil.rmtree(self.root, ignore_errors=True)

    def abandon(self) -> None:
        """Remove the staging folder after a failure; the output folder is left as it was."""
        try:
            recover(self.output_dir)
        except (OSError, BuildError):
            shutil.rmtree(self.root, ignore_errors=True)


class DirectWriter:
    """Puts pages straight into the `site/` of a `Stage` that this build made empty, from
    the page workers (forked after it was made), so no page's bytes go through the parent:
    a page whose bytes the output's file holds is a hard link to it, as `Stage.add` makes;
    any other is a new file (O_EXCL). Folders are made by whichever process comes first;
    one found in place counts only when it is a real folder, never a link. The parent
    checked every path before the workers started (`write_output`) and takes in what was
    placed with `Stage.note_placed`."""

    def __init__(self, stage: Stage):
        self.top, self.live = stage.top, stage.live
        self.previous = stage._previous if stage.old else None
        self.folders: set[str] = set()  # those this process knows are real folders

    def put(self, rel: str, data: bytes, digest: str | None = None) -> PlacedFile:
        """Put one page (`digest`: its `file_digest`, when known) at `rel` in `site/`."""
        digest = digest or file_digest(data)
        cut = rel.rfind("/")
        if cut > 0 and rel[:cut] not in self.folders:
            self._make_folders(rel[:cut])
        path = f"{self.top}/{rel}"
        stat = self.previous(rel, digest, data) if self.previous is not None else None
        if stat is not None:
            try:
                os.link(f"{self.live}/{rel}", path, follow_symlinks=False)
                return PlacedFile(rel, len(data), digest, stat.st_mtime_ns, stat.st_ino, False)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise
        made: list[os.stat_result] = []
        _write_new(path, data, made)
        return PlacedFile(rel, len(data), digest, made[0].st_mtime_ns, made[0].st_ino, True)

    def _make_folders(self, folder: str) -> None:
        cut = folder.rfind("/")
        if cut > 0 and folder[:cut] not in self.folders:
            self._make_folders(folder[:cut])
        path = f"{self.top}/{folder}"
        try:
            os.mkdir(path)
        except FileExistsError:
            if not S_ISDIR(os.lstat(path).st_mode):  # a link or a file: nothing of this build's
                raise
        self.folders.add(folder)


def _missing_from(files: list[str], listed: list[str], found: Container[str]) -> list[str]:
    """Those of the sorted `files` that are directly in a folder of `listed` but not among
    the `found` entries of the listed folders."""
    missing = []
    for folder in listed:
        if folder:
            start = len(folder) + 1
            inside = files[bisect_left(files, f"{folder}/"):bisect_left(files, f"{folder}0")]
            missing.extend(rel for rel in inside if rel not in found and "/" not in rel[start:])
        else:
            missing.extend(rel for rel in files if "/" not in rel and rel not in found)
    return missing


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _hard_link(source: str, path: str) -> None:
    os.link(source, path, follow_symlinks=False)


def _write_new(path: str, data: bytes, stats: list[os.stat_result]) -> None:
    """Create `path` holding `data` (O_EXCL: never an existing file, which may be shared with
    the output) and append its stat to `stats`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        stats.append(os.fstat(fd))
    finally:
        os.close(fd)


def _copy_new(source: str, path: str) -> None:
    """Create `path` as a copy of `source`, its mode and times included."""
    with open(source, "rb") as reader, open(path, "xb") as writer:
        shutil.copyfileobj(reader, writer)
    shutil.copystat(source, path)


def _name_too_long(rel: str) -> bool:
    """True when a part of `rel` is longer than the 255 bytes a file name may have."""
    if len(rel) <= 255 and rel.isascii():
        return False  # no part is longer than the whole, one byte a character
    size = len(rel.encode("utf-8", "surrogateescape"))
    return size > 255 and any(
        len(part.encode("utf-8", "surrogateescape")) > 255 for part in rel.split("/"))


def _manifest_bytes(files: dict[str, list]) -> bytes:
    """The manifest as `json.dumps(..., indent=0, sort_keys=True)` writes it, made entry by
    entry with the C encoder (the indenting encoder is pure Python and slow on 15,000 files)."""
    if not files:
        return json.dumps({"files": {}, "generator": "briefing"}, indent=0).encode("utf-8")
    text, value = json.encoder.encode_basestring_ascii, json.dumps  # type: ignore[attr-defined]
    entries = ",\n".join(
        f"{text(rel)}: [\n{text(digest) if isinstance(digest, str) else value(digest)},\n"
        f"{size if type(size) is int else value(size)}\n]"
        for rel, (digest, size) in sorted(files.items()))
    return f'{{\n"files": {{\n{entries}\n}},\n"generator": "briefing"\n}}'.encode()


def check_paths(paths: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """Each output path normalised, or a problem for one that leaves the output folder, is
    written twice, or is both a file and a folder."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in paths:
        rel = safe_relative(path)
        if rel is None:
            problems.append(error(path, None, "output path would leave the output folder"))
        elif _name_too_long(rel):
            problems.append(error(path, None, "a part of this output path is longer than the "
                                  "255 bytes a file name may have: use a shorter slug or tag"))
        elif rel in seen:
            problems.append(error(path, None, "two things would be written to this output path"))
        else:
            seen[rel] = path
    folders = {rel[:rel.rfind("/")] for rel in seen if "/" in rel}
    for folder in list(folders):  # and the folders above them
        while "/" in folder:
            folder = folder[:folder.rfind("/")]
            if folder in folders:
                break
            folders.add(folder)
    for rel in sorted(folders & seen.keys()):
        problems.append(error(seen[rel], None, "this output path is both a file and a folder"))
    return list(seen), problems


def write_output(files: Iterable[OutputFile], assets: Iterable[Asset], output_dir: Path,
                 intact: dict[str, str] | None = None, pages: PageStream | None = None
                 ) -> WriteReport:
    """Stage every file, then swap the whole site in; raise BuildError before any swap.

    `files` may be an iterator: each file is staged as it comes, so a big site's pages need not
    all be in memory at once; every path is still checked before anything is swapped in.
    `intact` is what `intact_files` answered for this output when the caller planned with it:
    what it read is not read again while this output's manifest is the one it read.
    `pages` are staged after `files`, started once the staging folder is ready: when it was
    made empty (no spare), the pages render in workers and every path is fine, with a
    `DirectWriter`, so the workers write their pages themselves; they are stopped before a
    failed build's staging folder is removed."""
    assets = list(assets)
    paths: list[str] = []
    staged: set[str] = set()
    failed: list[OSError] = []
    refused = False
    if output_dir.is_symlink():  # `output -> /srv/www/site`: replace the folder it points to
        output_dir = output_dir.resolve()

    def admit(path: str) -> str | None:
        """The path to stage `path` at, or None when check_paths() will refuse it."""
        nonlocal refused
        paths.append(path)
        rel = safe_relative(path)
        if rel is None or rel in staged or _name_too_long(rel):
            refused = True
            return None
        staged.add(rel)
        return rel

    try:
        with output_lock(output_dir) as lock:
            stage = Stage(output_dir, intact)
            stage.prepare()
            try:
                if pages is not None:
                    files = _with_pages(stage, files, assets, pages, lock)
                add = stage.quick_add()
                for item in files:
                    if type(item) is PlacedFile:  # a page a worker put in `site/` itself
                        stage.note_placed(item)
                        staged.add(item.path)
                        paths.append(item.path)
                        continue
                    path = item.path
                    if (path[:1] not in "./" and path[-1] != "/" and len(path) <= 255
                            and "//" not in path and "/." not in path and "\x00" not in path
                            and path.isascii() and path not in staged):
                        # admit(), inline for the common case: a normal path, short enough
                        paths.append(path)
                        staged.add(path)
                        rel: str | None = path
                    else:
                        rel = admit(path)
                    if rel is not None:
                        try:
                            add(rel, item.data, item.same, item.digest)
                        except OSError as exc:  # a file/folder clash: check_paths says which
                            failed.append(exc)
                for asset in assets:
                    rel = admit(asset.path)
                    if rel is not None:
                        try:
                            stage.add_copy(rel, asset.source)
                        except OSError as exc:
                            failed.append(exc)
                # Every folder above a staged file is in `used`, so a path that is both a file
                # and a folder is in both (staging it also failed); else the paths are fine.
                if refused or failed or not staged.isdisjoint(stage.used):
                    problems = check_paths(paths)[1]
                    if problems:
                        raise BuildError(problems)
                    if failed:
                        raise failed[0]
                problems = stage.carry_over(staged)
                if problems:
                    raise BuildError(problems)
                removed = stage.finish()
            except BaseException:
                if pages is not None:
                    pages.close()  # no worker writes in the staging folder any more
                stage.abandon()
                raise
    except OSError as exc:
        where = str(exc.filename) if exc.filename else str(output_dir)
        raise BuildError([error(where, None, f"cannot write the output: {exc.strerror or exc}; "
                                "the output folder was left as it was")]) from None
    return WriteReport(stage.written, stage.unchanged, removed)


def _with_pages(stage: Stage, files: Iterable[OutputFile], assets: list[Asset],
                pages: PageStream, lock: int) -> Iterator[OutputFile | PlacedFile]:
    """`files`, then `pages` started: with a `DirectWriter` when `site/` was made empty and
    every path of the build is normal, unique, and no file's path is another's folder (else
    `write_output` reports the problems as for any file)."""
    writer = None
    if stage.empty and pages.in_workers:
        files = list(files)
        planned = [item.path for item in files]
        planned += pages.planned_paths()
        planned += [asset.path for asset in assets]
        if all(safe_relative(path) == path for path in planned) and not check_paths(planned)[1]:
            writer = DirectWriter(stage)
            stage.shared = True
    stream = pages.start(writer, (lock,))
    yield from files
    yield from stream
