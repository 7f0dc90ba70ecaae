"""Render pages in worker processes, with the same result as one process.

Workers are forked after the site model and the list of page jobs are made, so they inherit
them instead of receiving them pickled, and each makes its own Jinja environment
(environments cannot be pickled). Part k of n renders every n-th job from the k-th, so the
parts together hold every job once. Parts stream to the writer as they finish, so the parent
never holds all pages at once. Any layout problem is reported by a serial re-run, so the
problems are exactly those of a one-process build.

With a `ModelIndex`, each page is rendered while its reads of the site model are recorded
(`generator.deps`), and its `PageRecord` comes back with it.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import jinja2

from generator import deps
from generator.cache import Progress, return_free_memory
from generator.deps import ModelIndex, PageRecord
from generator.errors import BuildError
from generator.render import OutputFile, PageJob, Renderer, page_jobs, render_pages
from generator.site import Site
from generator.write import file_digest

# Below this many pages to render a pool costs more than it saves.
PARALLEL_PAGES_THRESHOLD = 400
# Each worker renders its share in this many parts, so the parent holds only a few parts at a
# time (up to `jobs + 1` finished, each as received bytes and as objects). A part costs little
# more than its pages, since a worker keeps its renderer. On 10,000 articles the parent's
# objects peaked 62 MB above the start of rendering with 24 parts a worker, 101 MB with 8.
PARTS_PER_JOB = 24

Part = tuple[list[OutputFile], list[PageRecord]]

# Set in the parent just before forking; read by the workers.
_work: tuple[Site, list[PageJob], ModelIndex | None, jinja2.BytecodeCache | None] | None = None
# A worker's renderer, made for its first part and kept for the others.
_renderer: Renderer | None = None


def render_part(site: Site, jobs: list[PageJob], index: ModelIndex | None,
                renderer: Renderer | None = None,
                templates: jinja2.BytecodeCache | None = None) -> Part:
    """Render `jobs` (with `renderer`, else a new one using the compiled layouts in
    `templates`), recording each page's reads when there is an index; raise BuildError with
    every layout problem."""
    renderer = renderer or Renderer(site, templates=templates)
    files: list[OutputFile] = []
    records: list[PageRecord] = []
    if index is None:
        files = [f for f in map(renderer.render, jobs) if f is not None]
    else:
        with deps.tracking():
            for job in jobs:
                with deps.reading() as reads:
                    file = renderer.render(job)
                if file is None:
                    continue
                files.append(file)
                context = deps.job_digest(index, job.template, job.info, job.context,
                                          job.basis)
                records.append(deps.make_record(index, file.path, context, reads,
                                                file_digest(file.data)))
    if renderer.problems:
        raise BuildError(renderer.problems)
    return files, records


def _render_shard(shard: tuple[int, int]) -> Part | None:
    global _renderer
    assert _work is not None
    site, jobs, index, templates = _work
    k, n = shard
    # One renderer per worker for all its parts: a new one compiles every layout again and
    # starts its date, link and metadata caches empty (about 0.3 s a part on 10,000 articles).
    if _renderer is None or _renderer.site is not site:
        _renderer = Renderer(site, templates=templates)
    try:
        return render_part(site, jobs[k::n], index, _renderer)
    except BuildError:
        _renderer = None  # its problems are reported by the serial re-run
        return None


class RenderedPages:
    """The rendered pages as they arrive from the workers, each page's record handed to
    `collect` as it comes; `count` is complete once iterated."""

    def __init__(self, site: Site, jobs: list[PageJob], index: ModelIndex | None,
                 collect: Callable[[PageRecord], None] | None,
                 results: Iterator[Part | None] | None,
                 pool: ProcessPoolExecutor | None = None, shards: int = 0,
                 progress: Progress | None = None,
                 templates: jinja2.BytecodeCache | None = None):
        self.site = site
        self.templates = templates
        self.jobs = jobs
        self.index = index
        self.collect = collect
        self.results = results
        self.pool = pool
        self.shards = shards
        self.progress = progress
        self.count = 0

    def __iter__(self) -> Iterator[OutputFile]:
        try:
            if self.results is None:
                files, records = render_part(self.site, self.jobs, self.index,
                                             templates=self.templates)
                self._collect(records)
                self.count = len(files)
                yield from files
                return
            for done, part in enumerate(self.results, 1):
                if part is None:
                    render_pages(self.site, jobs=self.jobs)  # raises with the serial problems
                    raise RuntimeError("a worker failed to render pages that render serially")
                files, records = part
                del part
                self._collect(records)
                self.count += len(files)
                yield from files
                if self.progress:
                    self.progress("pages", done, self.shards)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
                gc.unfreeze()
                # The parts' bytes were received (in the pool's thread) into malloc memory the
                # C library keeps after they are freed: hand it back before the page records
                # are saved, or saving adds to it (about 50 MB on 10,000 articles).
                return_free_memory()

    def _collect(self, records: list[PageRecord]) -> None:
        if self.collect is not None:
            for record in records:
                self.collect(record)


def render_pages_parallel(site: Site, jobs: int, progress: Progress | None = None,
                          pages: list[PageJob] | None = None, index: ModelIndex | None = None,
                          collect: Callable[[PageRecord], None] | None = None,
                          templates: jinja2.BytecodeCache | None = None) -> RenderedPages:
    """The `pages` jobs (every page by default) rendered in `jobs` forked processes when there
    are enough to gain; with an `index`, each page's record goes to `collect`; compiled layouts
    are read from and kept in `templates` when given. The workers
    start now (before the writer takes its lock); the pages stream in, not in the order of a
    serial render but with the same paths and bytes."""
    pages = page_jobs(site) if pages is None else pages
    if (jobs <= 1 or len(pages) < PARALLEL_PAGES_THRESHOLD
            or "fork" not in multiprocessing.get_all_start_methods()):
        return RenderedPages(site, pages, index, collect, None, templates=templates)
    global _work
    _work = (site, pages, index, templates)
    # Objects that exist now are shared with the workers: keep the collector off them, so
    # neither process spends time scanning them and fewer pages are copied after the fork.
    gc.collect()
    gc.freeze()
    return_free_memory()
    try:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))
        count = jobs * PARTS_PER_JOB
        shards = iter([(k, count) for k in range(count)])
        waiting = deque(pool.submit(_render_shard, shard)
                        for shard in itertools.islice(shards, jobs + 1))
    finally:
        _work = None
    return RenderedPages(site, pages, index, collect, _results(pool, waiting, shards), pool,
                         count, progress)


def _results(pool: ProcessPoolExecutor, waiting: deque, shards: Iterator[tuple[int, int]]
             ) -> Iterator[Part | None]:
    """Each part's pages in order. A new part starts only when one is handed on, so the
    parent holds at most one part being written and one more finished than there are workers."""
    while waiting:
        result = waiting.popleft().result()
        following = next(shards, None)
        if following is not None:
            waiting.append(pool.submit(_render_shard, following))
        yield result
        del result
