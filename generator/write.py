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
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
    """Refuse an output folder that is, or holds, the site, its content or its layouts."""
    out = output_dir.resolve()
    site = site_dir.resolve()
    protected = [site, site / "content", site / "layouts", site / "config.yaml"]
    for path in protected:
        if out == path or path.is_relative_to(out):
            return [error(str(output_dir), None,
                          f"the output folder {output_dir} would contain {path.name or path}: "
                          "choose an output folder of its own, such as <site>/output")]
    if out.parent == out or out == Path.home().resolve():
        return [error(str(output_dir), None, "refusing to use this folder as the output folder")]
    return []


def safe_relative(path: str) -> str | None:
    """The normalised relative path, or None when it would leave the output folder."""
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
    """A staging folder being filled with one build's files."""

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        self.dir = output_dir.parent / f".{output_dir.name}.staging"
        self.old = _read_manifest(output_dir)
        self.manifest: dict[str, list] = {}
        self.written = 0
        self.unchanged = 0

    def prepare(self) -> None:
        """Start from an empty staging folder (a killed build may have left one)."""
        if self.dir.exists():
            if not (self.dir / STAGING_MARK).exists() and any(self.dir.iterdir()):
                raise BuildError([error(str(self.dir), None,
                                        "this folder is in the way of the build's staging "
                                        "folder and was not made by briefing; move it away")])
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        (self.dir / STAGING_MARK).touch()

    def _target(self, rel: str) -> Path:
        target = self.dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _reuse(self, rel: str, digest: str, size: int) -> bool:
        """Hard-link the previous build's file when it is byte-for-byte what we would write."""
        entry = self.old.get(rel)
        if not entry or entry[0] != digest or entry[1] != size:
            return False
        previous = self.output_dir / rel
        try:
            stat = previous.stat()
            if stat.st_size != size or stat.st_mtime_ns != entry[2]:
                return False
            os.link(previous, self._target(rel))
        except OSError:
            return False
        self.manifest[rel] = [digest, size, stat.st_mtime_ns]
        self.unchanged += 1
        return True

    def add(self, rel: str, data: bytes) -> None:
        """Stage one file's bytes."""
        digest = _digest(data)
        if self._reuse(rel, digest, len(data)):
            return
        target = self._target(rel)
        target.write_bytes(data)
        self.manifest[rel] = [digest, len(data), target.stat().st_mtime_ns]
        self.written += 1

    def add_copy(self, rel: str, source: Path) -> None:
        """Stage a copy of a file (an image, a stylesheet)."""
        self.add(rel, source.read_bytes())

    def carry_over(self, produced: set[str]) -> list[Problem]:
        """Bring over what is in the output folder but was not made by a build."""
        problems: list[Problem] = []
        if not self.output_dir.is_dir():
            return problems
        for path in sorted(self.output_dir.rglob("*")):
            rel = path.relative_to(self.output_dir).as_posix()
            if rel == MANIFEST or rel in self.old or path.is_dir() and not path.is_symlink():
                continue
            if rel in produced:
                problems.append(error(f"{self.output_dir.name}/{rel}", None,
                                      "this file was not made by briefing and the build would "
                                      "replace it: move it out of the output folder"))
                continue
            target = self._target(rel)
            if path.is_symlink():
                os.symlink(os.readlink(path), target)
            else:
                try:
                    os.link(path, target)
                except OSError:
                    shutil.copy2(path, target)
        return problems

    def finish(self) -> int:
        """Write the manifest and swap the staging folder in; return how many files went."""
        (self.dir / STAGING_MARK).unlink()
        manifest = {"generator": "briefing", "files": dict(sorted(self.manifest.items()))}
        (self.dir / MANIFEST).write_text(json.dumps(manifest, indent=0, sort_keys=True),
                                         encoding="utf-8")
        removed = len(set(self.old) - set(self.manifest))
        if self.output_dir.exists():
            if _exchange(self.dir, self.output_dir):
                shutil.rmtree(self.dir)
            else:
                retired = self.output_dir.parent / f".{self.output_dir.name}.old"
                shutil.rmtree(retired, ignore_errors=True)
                os.rename(self.output_dir, retired)
                os.rename(self.dir, self.output_dir)
                shutil.rmtree(retired)
        else:
            os.rename(self.dir, self.output_dir)
        return removed

    def abandon(self) -> None:
        """Remove the staging folder after a failure; the output folder is untouched."""
        shutil.rmtree(self.dir, ignore_errors=True)


def write_output(files: Iterable[OutputFile], assets: Iterable[Asset], output_dir: Path
                 ) -> WriteReport:
    """Stage every file, then swap the whole site in; raise BuildError before any swap."""
    files = list(files)
    assets = list(assets)
    problems: list[Problem] = []
    seen: set[str] = set()
    for path in [f.path for f in files] + [a.path for a in assets]:
        rel = safe_relative(path)
        if rel is None:
            problems.append(error(path, None, "output path would leave the output folder"))
        elif rel in seen:
            problems.append(error(path, None, "two things would be written to this output path"))
        else:
            seen.add(rel)
    if problems:
        raise BuildError(problems)
    with output_lock(output_dir):
        stage = Stage(output_dir)
        stage.prepare()
        try:
            for item in files:
                stage.add(item.path, item.data)
            for asset in assets:
                stage.add_copy(asset.path, asset.source)
            problems = stage.carry_over(seen)
            if problems:
                raise BuildError(problems)
            removed = stage.finish()
        except BaseException:
            stage.abandon()
            raise
    return WriteReport(stage.written, stage.unchanged, removed)
