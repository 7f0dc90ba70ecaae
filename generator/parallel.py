"""Render pages in worker processes, with the same result as one process.

Workers are forked after the site model and the list of page jobs are made, so they inherit
them instead of receiving them pickled, and each makes its own Jinja environment
(environments cannot be pickled). They are forked when the writer starts the pages, after it
has made its staging folder: given a `write.DirectWriter`, each worker writes its pages into
the staging folder itself and sends back only what it placed (`write.PlacedFile`), so no
page's bytes go through the parent. Part k of n renders every n-th job from the k-th, so the
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
import os
import signal
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
from generator.write import DirectWriter, PlacedFile, file_digest

# Below this many pages to render a pool costs more than it saves.
PARALLEL_PAGES_THRESHOLD = 400
# Each worker renders its share in this many parts, so the parent holds only a few parts at a
# time (up to `jobs + 1` finished, each as received bytes and as objects). A part costs little
# more than its pages, since a worker keeps its renderer. On 10,000 articles the parent's
# objects peaked 62 MB above the start of rendering with 24 parts a worker, 101 MB with 8.
PARTS_PER_JOB = 24


Part = tuple[list[OutputFile] | list[PlacedFile], list[PageRecord]]

# Set in the parent just before forking; read by the workers.
_work: tuple[Site, list[PageJob], ModelIndex | None, jinja2.BytecodeCache | None,
             DirectWriter | None] | None = None
# A worker's renderer, made for its first part and kept for the others.
_renderer: Renderer | None = None


def render_part(site: Site, jobs: list[PageJob], index: ModelIndex | None,
                renderer: Renderer | None = None,
                templates: jinja2.BytecodeCache | None = None,
                writer: DirectWriter | None = None) -> Part:
    """Render `jobs` (with `renderer`, else a new one using the compiled layouts in
    `templates`), recording each page's reads when there is an index; with a `writer`, put
    each page in the staging folder and give what was placed instead of the pages; raise
    BuildError with every layout problem."""
    renderer = renderer or Renderer(site, templates=templates)
    files: list = []
    records: list[PageRecord] = []
    if index is None:
        files = [f for f in map(renderer.render, jobs) if f is not None]
        if writer is not None:
            files = [writer.put(f.path, f.data) for f in files]
    else:
        with deps.tracking():
            for job in jobs:
                with deps.reading() as reads:
                    file = renderer.render(job)
                if file is None:
                    continue
                context = deps.job_digest(index, job.template, job.info, job.context,
                                          job.basis)
                digest = file_digest(file.data)
                records.append(deps.make_record(index, file.path, context, reads, digest,
                                                job.basis[0] if job.basis else ()))
                files.append(OutputFile(file.path, file.data, False, digest) if writer is None
                             else writer.put(file.path, file.data, digest))
    if renderer.problems:
        raise BuildError(renderer.problems)
    return files, records


def _render_shard(shard: tuple[int, int]) -> Part | None:
    global _renderer
    assert _work is not None
    site, jobs, index, templates, writer = _work
    k, n = shard
    # One renderer per worker for all its parts: a new one compiles every layout again and
    # starts its date, link and metadata caches empty (about 0.3 s a part on 10,000 articles).
    if _renderer is None or _renderer.site is not site:
        _renderer = Renderer(site, templates=templates)
    try:
        return render_part(site, jobs[k::n], index, _renderer, writer=writer)
    except BuildError:
        _renderer = None  # its problems are reported by the serial re-run
        return None


def _start_worker(parent: int, inherited: tuple[int, ...]) -> None:
    """In a new worker: close the parent's descriptors `inherited` (its output lock, which a
    worker outliving a killed parent would otherwise hold), and die with the parent, so no
    worker goes on writing into a staging folder after its build was killed."""
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: a killed build's workers end their part
        return
    pr_set_pdeathsig = 1
    prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


class RenderedPages:
    """The pages to render, rendered once started (`start`, or when iterated): they arrive
    from the workers part by part, each page's record handed to `collect` as it comes;
    `count` is complete once iterated."""

    def __init__(self, site: Site, jobs: list[PageJob], index: ModelIndex | None,
                 collect: Callable[[PageRecord], None] | None, workers: int = 0,
                 progress: Progress | None = None,
                 templates: jinja2.BytecodeCache | None = None):
        self.site = site
        self.templates = templates
        self.jobs = jobs
        self.index = index
        self.collect = collect
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.shards = workers * PARTS_PER_JOB
        self.progress = progress
        self.count = 0
        self.started = False

    @property
    def in_workers(self) -> bool:
        """True when the pages are rendered in worker processes."""
        return self.workers > 0

    def planned_paths(self) -> list[str]:
        """Every path a page may be written to."""
        return [job.path for job in self.jobs]

    def start(self, writer: DirectWriter | None = None, inherited: tuple[int, ...] = ()
              ) -> Iterator[OutputFile | PlacedFile]:
        """Start rendering (forking the workers, which close the descriptors `inherited`);
        with a `writer`, each page is put in the staging folder where it is rendered, and
        what was placed comes back instead of the page."""
        if self.started:
            raise RuntimeError("the pages were started already")
        self.started = True
        if not self.workers:
            return self._serial(writer)
        global _work
        _work = (self.site, self.jobs, self.index, self.templates, writer)
        # Objects that exist now are shared with the workers: keep the collector off them, so
        # neither process spends time scanning them and fewer pages are copied after the fork.
        gc.collect()
        gc.freeze()
        return_free_memory()
        try:
            self.pool = pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker, initargs=(os.getpid(), inherited))
            shards = iter([(k, self.shards) for k in range(self.shards)])
            waiting = deque(pool.submit(_render_shard, shard)
                            for shard in itertools.islice(shards, self.workers + 1))
        except BaseException:
            self.close()
            raise
        finally:
            _work = None
        return self._parallel(_results(pool, waiting, shards))

    def __iter__(self) -> Iterator[OutputFile | PlacedFile]:
        return self.start() if not self.started else iter(())

    def close(self) -> None:
        """Stop the workers, waiting for those busy with a part, so none writes any more."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()
            # The parts were received (in the pool's thread) into malloc memory the C library
            # keeps after they are freed: hand it back before the page records are saved, or
            # saving adds to it (about 50 MB on 10,000 articles when the pages' bytes came).
            return_free_memory()

    def _serial(self, writer: DirectWriter | None) -> Iterator[OutputFile | PlacedFile]:
        files, records = render_part(self.site, self.jobs, self.index,
                                     templates=self.templates, writer=writer)
        self._collect(records)
        self.count = len(files)
        yield from files

    def _parallel(self, results: Iterator[Part | None]) -> Iterator[OutputFile | PlacedFile]:
        try:
            for done, part in enumerate(results, 1):
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
            self.close()

    def _collect(self, records: list[PageRecord]) -> None:
        if self.collect is not None:
            for record in records:
                self.collect(record)


def render_pages_parallel(site: Site, jobs: int, progress: Progress | None = None,
                          pages: list[PageJob] | None = None, index: ModelIndex | None = None,
                          collect: Callable[[PageRecord], None] | None = None,
                          templates: jinja2.BytecodeCache | None = None) -> RenderedPages:
    """The `pages` jobs (every page by default), to be rendered in `jobs` forked processes
    when there are enough to gain; with an `index`, each page's record goes to `collect`;
    compiled layouts are read from and kept in `templates` when given. Nothing starts until
    the pages are started or iterated (the writer starts them once its staging folder is
    made); they stream in, not in the order of a serial render but with the same paths and
    bytes."""
    pages = page_jobs(site) if pages is None else pages
    parallel = (jobs > 1 and len(pages) >= PARALLEL_PAGES_THRESHOLD
                and "fork" in multiprocessing.get_all_start_methods())
    return RenderedPages(site, pages, index, collect, jobs if parallel else 0, progress,
                         templates)


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
