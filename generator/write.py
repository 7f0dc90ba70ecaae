"""Write the site: stage it beside the output folder, then swap it in whole.

The output folder is only ever replaced by a complete build. Files the build did not make
(found in the output folder but not in the previous build's manifest) are carried over.
Unchanged files are hard links to the previous build's files, so their mtimes stay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from generator.errors import BuildError, Problem, error
from generator.render import OutputFile

MANIFEST = ".briefing-manifest.json"
STAGING_MARK = ".briefing-staging"


@dataclass(frozen=True)
class Asset:
    """A file copied as it is (stylesheet, image): its source and its path in the output."""

    source: Path
    path: str


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


def _save_state(output_dir: Path, manifest_digest: str, mtimes: dict[str, int]) -> None:
    """Remember the mtime of every file written, beside the output (not in it, so the output
    stays byte-identical from build to build)."""
    path = _state_path(output_dir)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps({"manifest": manifest_digest,
                                         "mtimes": dict(sorted(mtimes.items()))}),
                             encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # only a speed-up is lost: the next build compares bytes instead of mtimes


def recorded_mtimes(output_dir: Path) -> dict[str, int]:
    """The mtimes the last build recorded for its files, if its record matches the output."""
    try:
        state = json.loads(_state_path(output_dir).read_text(encoding="utf-8"))
        manifest = (output_dir / MANIFEST).read_bytes()
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("manifest") != _digest(manifest):
        return {}
    mtimes = state.get("mtimes")
    return mtimes if isinstance(mtimes, dict) else {}


def recover(output_dir: Path) -> None:
    """Clean up after a build that was killed: put the output back if a swap was cut short,
    then remove the staging folder. Refuse to touch a folder briefing did not make."""
    root = staging_dir(output_dir)
    if not root.exists() and not root.is_symlink():
        return
    if root.is_symlink() or not root.is_dir() or (
            not (root / STAGING_MARK).is_file() and any(root.iterdir())):
        raise BuildError([error(str(root), None,
                                "this is in the way of the build's staging folder and was not "
                                "made by briefing; move it away")])
    old = root / "old"
    if not output_dir.exists() and old.is_dir():
        os.rename(old, output_dir)
    shutil.rmtree(root)


def kept_files(output_dir: Path) -> list[str]:
    """Files in the output folder that the last build did not make, so the next one keeps."""
    if not output_dir.is_dir():
        return []
    old = _read_manifest(output_dir)
    files = (path.relative_to(output_dir).as_posix() for path in _walk_files(output_dir))
    return [rel for rel in files if rel not in old and rel not in (MANIFEST, STAGING_MARK)]


def _walk_files(top: Path) -> Iterator[Path]:
    """Every file and symbolic link below `top`, sorted; links to folders are not followed."""
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames.sort()
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames + links):
            yield Path(dirpath, name)


def safe_relative(path: str) -> str | None:
    """The normalised relative path, or None when it would leave the output folder."""
    if "\x00" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("..", "") for p in pure.parts):
        return None
    if pure.parts[0] in (MANIFEST, STAGING_MARK):
        return None
    return pure.as_posix()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _read_manifest(output_dir: Path) -> dict[str, list]:
    try:
        data = json.loads((output_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


@contextmanager
def output_lock(output_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock for this output folder, or fail at once with a clear message."""
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
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result != 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            return False
        raise OSError(err, os.strerror(err), str(a))
    return True


class Stage:
    """A staging folder beside the output being filled with one build's files.

    Layout: `.<output>.staging/` holds a mark file and `site/`, the new output. The swap
    exchanges `site/` with the output folder, so the retired output ends up inside the marked
    staging folder too, and a build killed at any moment leaves only things the next build
    recognises as its own and removes.
    """

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        self.root = staging_dir(output_dir)
        self.dir = self.root / "site"
        self.old = _read_manifest(output_dir)
        self.old_mtimes = recorded_mtimes(output_dir)
        self.manifest: dict[str, list] = {}
        self.mtimes: dict[str, int] = {}
        self.written = 0
        self.unchanged = 0

    def prepare(self) -> None:
        """Start from an empty staging folder, cleaning up after a build that was killed."""
        recover(self.output_dir)
        self.root.mkdir(parents=True)
        (self.root / STAGING_MARK).touch()
        self.dir.mkdir()

    def _target(self, rel: str) -> Path:
        target = self.dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _reuse(self, rel: str, data: bytes, digest: str) -> bool:
        """Hard-link the previous build's file when it is byte-for-byte what we would write."""
        entry = self.old.get(rel)
        if not isinstance(entry, list) or entry[:2] != [digest, len(data)]:
            return False
        previous = self.output_dir / rel
        try:
            stat = os.stat(previous, follow_symlinks=False)
            if not S_ISREG(stat.st_mode) or stat.st_size != len(data):
                return False
            # The recorded mtime says nobody touched the file since; else compare the bytes.
            if self.old_mtimes.get(rel) != stat.st_mtime_ns and previous.read_bytes() != data:
                return False
            os.link(previous, self._target(rel))
        except OSError:
            return False
        self.manifest[rel] = [digest, len(data)]
        self.mtimes[rel] = stat.st_mtime_ns
        self.unchanged += 1
        return True

    def add(self, rel: str, data: bytes) -> None:
        """Stage one file's bytes."""
        digest = _digest(data)
        if self._reuse(rel, data, digest):
            return
        target = self._target(rel)
        target.write_bytes(data)
        self.manifest[rel] = [digest, len(data)]
        self.mtimes[rel] = target.stat().st_mtime_ns
        self.written += 1

    def add_copy(self, rel: str, source: Path) -> None:
        """Stage a copy of a file (an image, a stylesheet)."""
        self.add(rel, source.read_bytes())

    def carry_over(self, produced: set[str]) -> list[Problem]:
        """Bring over what is in the output folder but was not made by a build."""
        problems: list[Problem] = []
        if not self.output_dir.is_dir():
            return problems
        for path in _walk_files(self.output_dir):
            rel = path.relative_to(self.output_dir).as_posix()
            if rel in (MANIFEST, STAGING_MARK) or rel in self.old:
                continue
            where = f"{self.output_dir.name}/{rel}"
            if rel in produced:
                problems.append(error(where, None,
                                      "this file was not made by briefing and the build would "
                                      "replace it: move it out of the output folder"))
                continue
            try:
                target = self._target(rel)
                if path.is_symlink():
                    os.symlink(os.readlink(path), target)
                else:
                    try:
                        os.link(path, target)
                    except OSError as exc:
                        if exc.errno in (errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
                            raise
                        shutil.copy2(path, target)
            except OSError:
                problems.append(error(where, None,
                                      "this file was not made by briefing and is in the way of "
                                      "a folder or file the build makes: move it out of the "
                                      "output folder"))
        return problems

    def finish(self) -> int:
        """Write the manifest and swap the staging folder in; return how many files went."""
        manifest = {"generator": "briefing", "files": dict(sorted(self.manifest.items()))}
        manifest_bytes = json.dumps(manifest, indent=0, sort_keys=True).encode("utf-8")
        (self.dir / MANIFEST).write_bytes(manifest_bytes)
        removed = len(set(self.old) - set(self.manifest))
        if self.output_dir.is_dir():
            try:
                shutil.copymode(self.output_dir, self.dir)
            except OSError:
                pass
            if not _exchange(self.dir, self.output_dir):
                # No atomic exchange here: two renames; recover() repairs a kill between them.
                os.rename(self.output_dir, self.root / "old")
                os.rename(self.dir, self.output_dir)
        else:
            os.rename(self.dir, self.output_dir)
        _save_state(self.output_dir, _digest(manifest_bytes), self.mtimes)
        shutil.rmtree(self.root, ignore_errors=True)
        return removed

    def abandon(self) -> None:
        """Remove the staging folder after a failure; the output folder is left as it was."""
        try:
            recover(self.output_dir)
        except (OSError, BuildError):
            shutil.rmtree(self.root, ignore_errors=True)


def check_paths(paths: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """Each output path normalised, or a problem for one that leaves the output folder, is
    written twice, or is both a file and a folder."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in paths:
        rel = safe_relative(path)
        if rel is None:
            problems.append(error(path, None, "output path would leave the output folder"))
        elif any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in rel.split("/")):
            problems.append(error(path, None, "a part of this output path is longer than the "
                                  "255 bytes a file name may have: use a shorter slug or tag"))
        elif rel in seen:
            problems.append(error(path, None, "two things would be written to this output path"))
        else:
            seen[rel] = path
    folders = {rel.rsplit("/", 1)[0] for rel in seen if "/" in rel}
    folders = {"/".join(f.split("/")[:n]) for f in folders for n in range(1, f.count("/") + 2)}
    for rel in sorted(folders & seen.keys()):
        problems.append(error(seen[rel], None, "this output path is both a file and a folder"))
    return list(seen), problems


def write_output(files: Iterable[OutputFile], assets: Iterable[Asset], output_dir: Path
                 ) -> WriteReport:
    """Stage every file, then swap the whole site in; raise BuildError before any swap.

    `files` may be an iterator: each file is staged as it comes, so a big site's pages need not
    all be in memory at once; every path is still checked before anything is swapped in."""
    assets = list(assets)
    paths: list[str] = []
    staged: set[str] = set()
    failed: list[OSError] = []
    if output_dir.is_symlink():  # `output -> /srv/www/site`: replace the folder it points to
        output_dir = output_dir.resolve()

    def stage_one(path: str, add: Callable[[], None]) -> None:
        paths.append(path)
        rel = safe_relative(path)
        if rel is None or rel in staged or any(
                len(part.encode("utf-8", "surrogateescape")) > 255 for part in rel.split("/")):
            return  # _check_paths reports it below
        staged.add(rel)
        try:
            add()
        except OSError as exc:  # a file/folder clash is reported by _check_paths below
            failed.append(exc)

    try:
        with output_lock(output_dir):
            stage = Stage(output_dir)
            stage.prepare()
            try:
                for item in files:
                    stage_one(item.path, functools.partial(stage.add, item.path, item.data))
                for asset in assets:
                    stage_one(asset.path,
                              functools.partial(stage.add_copy, asset.path, asset.source))
                seen, problems = check_paths(paths)
                if problems:
                    raise BuildError(problems)
                if failed:
                    raise failed[0]
                problems = stage.carry_over(set(seen))
                if problems:
                    raise BuildError(problems)
                removed = stage.finish()
            except BaseException:
                stage.abandon()
                raise
    except OSError as exc:
        where = str(exc.filename) if exc.filename else str(output_dir)
        raise BuildError([error(where, None, f"cannot write the output: {exc.strerror or exc}; "
                                "the output folder was left as it was")]) from None
    return WriteReport(stage.written, stage.unchanged, removed)
