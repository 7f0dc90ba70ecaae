"""Render the site's pages in worker processes, with the same result as one process.

Workers are forked after the site model is built, so they inherit it instead of receiving it
pickled, and each makes its own Jinja environment (environments cannot be pickled). Shard k of
n runs the same render_pages sequence but renders only every n-th page from the k-th, so the
shards together hold every page once. Shards stream to the writer as they finish, so the parent
never holds all pages at once. Any layout problem is reported by a serial re-run, so the
problems are exactly those of a one-process build.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import itertools
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from generator.cache import Progress
from generator.errors import BuildError
from generator.render import SKIPPED, OutputFile, render_pages
from generator.site import Site

# Below this many articles a pool costs more than it saves.
PARALLEL_PAGES_THRESHOLD = 300
# Each worker renders its share in this many parts, so the parent holds only a part at a time.
SHARDS_PER_JOB = 4

_site: Site | None = None  # set in the parent just before forking; read by the workers


def _render_shard(shard: tuple[int, int]) -> list[OutputFile] | None:
    assert _site is not None
    try:
        return [f for f in render_pages(_site, shard=shard) if f.path != SKIPPED.path]
    except BuildError:
        return None


class RenderedPages:
    """The site's pages as they arrive from the workers; `count` is known once iterated."""

    def __init__(self, site: Site, results: Iterator[list[OutputFile] | None] | None,
                 pool: ProcessPoolExecutor | None = None, shards: int = 0,
                 progress: Progress | None = None):
        self.site = site
        self.results = results
        self.pool = pool
        self.shards = shards
        self.progress = progress
        self.count = 0

    def __iter__(self) -> Iterator[OutputFile]:
        try:
            if self.results is None:
                files: Iterable[OutputFile] = render_pages(self.site)
                for file in files:
                    self.count += 1
                    yield file
                return
            for done, shard in enumerate(self.results, 1):
                if shard is None:
                    render_pages(self.site)  # raises with exactly the serial build's problems
                    raise RuntimeError("a worker failed to render pages that render serially")
                self.count += len(shard)
                yield from shard
                if self.progress:
                    self.progress("pages", done, self.shards)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
                gc.unfreeze()


def render_pages_parallel(site: Site, jobs: int, progress: Progress | None = None
                          ) -> RenderedPages:
    """Every page of the site, rendered in `jobs` forked processes when the site is big enough
    to gain. The workers start now (before the writer takes its lock); the pages stream in,
    not in the order of a serial render but with the same paths and bytes."""
    if (jobs <= 1 or len(site.articles) < PARALLEL_PAGES_THRESHOLD
            or "fork" not in multiprocessing.get_all_start_methods()):
        return RenderedPages(site, None)
    global _site
    _site = site
    # Objects that exist now are shared with the workers: keep the collector off them, so
    # neither process spends time scanning them and fewer pages are copied after the fork.
    gc.collect()
    gc.freeze()
    _return_free_memory()
    try:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))
        count = jobs * SHARDS_PER_JOB
        shards = iter([(k, count) for k in range(count)])
        waiting = deque(pool.submit(_render_shard, shard)
                        for shard in itertools.islice(shards, jobs + 1))
    finally:
        _site = None
    return RenderedPages(site, _results(pool, waiting, shards), pool, count, progress)


def _return_free_memory() -> None:
    """Hand memory freed by the build so far (the sources) back to the system, where the C
    library allows it, so neither the parent nor the forked workers carry it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _results(pool: ProcessPoolExecutor, waiting: deque, shards: Iterator[tuple[int, int]]
             ) -> Iterator[list[OutputFile] | None]:
    """Each shard's pages in order. A new shard starts only when one is handed on, so the
    parent holds at most one shard being written and one more finished than there are workers."""
    while waiting:
        result = waiting.popleft().result()
        following = next(shards, None)
        if following is not None:
            waiting.append(pool.submit(_render_shard, following))
        yield result
        del result
