"""Where one build's time goes, stage by stage.

    python bench/stages.py SITE OUTPUT [build options...]

Runs `briefing build --site SITE --output OUTPUT --now 2026-11-25T00:00:00+00:00 -q` in this
process with the pipeline's stages wrapped, then prints for each stage the build process's
CPU and wall seconds and the CPU its worker processes used meanwhile, and the totals. Which
code it measures is the `generator` package Python finds first (set PYTHONPATH to a copy of
the code to measure that copy; the page records are keyed on the code's bytes). Run a cold
build with no output and no `<site>/.cache/`, an edit build after changing a content file.
"""

from __future__ import annotations

import functools
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

START_WALL, START_CPU = time.perf_counter(), time.process_time()

import generator.deps as deps  # noqa: E402  (imports are part of what is measured)
import generator.pipeline as pipeline  # noqa: E402
from generator.cli import main  # noqa: E402

IMPORTS = time.process_time() - START_CPU
STAGES = ("read_and_check", "render_articles", "article_inputs", "link_content",
          "build_site_model", "page_jobs", "page_records", "intact_files", "plan_pages",
          "write_output", "record_build")
NOW = "2026-11-25T00:00:00+00:00"


def children_cpu() -> float:
    """CPU seconds of the worker processes that have ended so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(rows: list[tuple[str, float, float, float]], name: str,
          function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, adding (name, CPU, wall, workers' CPU) to `rows` for each call."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cpu, wall, workers = time.process_time(), time.perf_counter(), children_cpu()
        try:
            return function(*args, **kwargs)
        finally:
            rows.append((name, time.process_time() - cpu, time.perf_counter() - wall,
                         children_cpu() - workers))
    return wrapper


def run(site: str, output: str, options: list[str]) -> list[tuple[str, float, float, float]]:
    """Build with every stage timed; the rows in the order the stages ended."""
    rows: list[tuple[str, float, float, float]] = []
    for name in STAGES:
        setattr(pipeline, name, timed(rows, name, getattr(pipeline, name)))
    deps.PageRecords.save = timed(rows, "records save", deps.PageRecords.save)
    sys.argv = ["briefing", "build", "--site", site, "--output", output, "--now", NOW, "-q",
                *options]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
    return rows


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    timings = run(sys.argv[1], sys.argv[2], sys.argv[3:])
    print(f"{'stage':18} {'CPU s':>7} {'wall s':>7} {'workers CPU s':>14}")
    print(f"{'imports':18} {IMPORTS:7.2f}")
    for stage, cpu, wall, workers in timings:
        print(f"{stage:18} {cpu:7.2f} {wall:7.2f} {workers:14.2f}")
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{'total':18} {time.process_time() - START_CPU:7.2f} "
          f"{time.perf_counter() - START_WALL:7.2f} {children_cpu():14.2f}"
          f"   (build process: {own.ru_utime:.2f} user, {own.ru_stime:.2f} system)")
