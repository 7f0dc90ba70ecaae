"""Render the site's pages in worker processes, with the same result as one process.

Workers are forked after the site model is built, so they inherit it instead of receiving it
pickled, and each makes its own Jinja environment (environments cannot be pickled). Worker k of
n runs the same render_pages sequence but renders only every n-th page from the k-th; the lists
line up and are merged in order. Any layout problem is reported by a serial re-run, so the
problems are exactly those of a one-process build.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from generator.errors import BuildError
from generator.render import SKIPPED, OutputFile, render_pages
from generator.site import Site

# Below this many articles a pool costs more than it saves.
PARALLEL_PAGES_THRESHOLD = 300

_site: Site | None = None  # set in the parent just before forking; read by the workers


def _render_shard(shard: tuple[int, int]) -> list[OutputFile] | None:
    assert _site is not None
    try:
        return render_pages(_site, shard=shard)
    except BuildError:
        return None


def render_pages_parallel(site: Site, jobs: int) -> list[OutputFile]:
    """render_pages(site), in `jobs` forked processes when the site is big enough to gain."""
    if (jobs <= 1 or len(site.articles) < PARALLEL_PAGES_THRESHOLD
            or "fork" not in multiprocessing.get_all_start_methods()):
        return render_pages(site)
    global _site
    _site = site
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            shards = list(pool.map(_render_shard, [(k, jobs) for k in range(jobs)]))
    finally:
        _site = None
    complete = [s for s in shards if s is not None]
    if len(complete) != len(shards) or len({len(s) for s in complete}) != 1:
        return render_pages(site)  # raises with exactly the serial build's problems
    merged = []
    for files in zip(*complete, strict=True):
        chosen = next((f for f in files if f.path != SKIPPED.path), None)
        if chosen is None:
            raise RuntimeError("a page was rendered by no worker")
        merged.append(chosen)
    return merged
