"""build(options) -> BuildReport: the no-change shortcut or, when there is work to do, the whole
pipeline (`generator.pipeline`)."""

from __future__ import annotations

import dataclasses
import gc
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from generator.errors import BuildError, Problem, error, raise_if_errors, sorted_problems
from generator.shortcut import BuildRecord, Fingerprint, input_fingerprint, outside_inputs
from generator.theme import layout_dirs
from generator.write import check_output_dir

if TYPE_CHECKING:
    from generator.cache import Progress


@dataclass(frozen=True)
class BuildOptions:
    """What the person running the build asked for."""

    site_dir: Path
    output_dir: Path | None = None
    drafts: bool = False
    future: bool = False
    now: datetime | None = None
    jobs: int | None = None
    progress: Progress | None = field(default=None, compare=False)
    strict: bool = False
    use_cache: bool = True


@dataclass(frozen=True)
class BuildReport:
    """What a successful build did, and the warnings it met."""

    output_dir: Path
    articles: int
    pages: int
    seconds: float
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    warnings: tuple[Problem, ...] = field(default_factory=tuple)
    rendered: int = 0
    cached: int = 0
    up_to_date: bool = False
    pages_rendered: int = 0


def build_clock(now: datetime | None, tz: tzinfo) -> datetime:
    """The build's pinned clock: --now (naive means the site's zone), else SOURCE_DATE_EPOCH,
    else the wall clock."""
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=tz)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise BuildError([error("SOURCE_DATE_EPOCH", None,
                                    f"must be a whole number of seconds, not {epoch!r}")]) from None
    return datetime.now(UTC)


def raise_if_strict(problems: Iterable[Problem], options: BuildOptions) -> None:
    """With --strict, warnings fail the build (before anything is written)."""
    warnings = [p for p in problems if not p.is_error]
    if options.strict and warnings:
        raise BuildError(sorted_problems(
            Problem(p.path, p.line, p.message + " (an error with --strict)", "error")
            for p in warnings))


def build_fingerprint(options: BuildOptions, output_dir: Path, hashed: Iterable[str] = ()
                      ) -> Fingerprint | None:
    """The digest of every input of this build but the clock, reading the bytes of the files
    named in `hashed` as well as of racy ones; None when the shortcut is off."""
    if not options.use_cache:
        return None
    return input_fingerprint(options.site_dir, layout_dirs(options.site_dir.resolve()),
                             output_dir, (options.drafts, options.future), hashed)


def load_record(options: BuildOptions, output_dir: Path) -> BuildRecord | None:
    """The last successful build's record for this output, when the shortcut is on."""
    if not options.use_cache:
        return None
    return BuildRecord.load(BuildRecord.path_for(options.site_dir, output_dir))


def up_to_date(options: BuildOptions, output_dir: Path, fingerprint: Fingerprint | None,
               record: BuildRecord | None, started: float) -> BuildReport | None:
    """The last build's report when this build would make exactly its output, else None.

    The inputs must have the recorded fingerprint, the clock be inside the recorded stretch,
    and the output folder be as that build left it. Nothing is parsed: config.yaml's bytes are
    in the fingerprint, and a clock without an offset is read in the time zone the last build
    read from those same bytes."""
    if fingerprint is None or record is None:
        return None
    try:
        tz = ZoneInfo(record.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    if list(record.outside) != outside_inputs(record.timezone, record.packages):
        return None  # the zone's rules or an extension's package changed
    if not record.matches(fingerprint, build_clock(options.now, tz), output_dir):
        return None
    if fingerprint.own != fingerprint.digest:
        # Files racy when the record was taken have settled: keep the record in the form the
        # next build computes, so it need not read their bytes again.
        dataclasses.replace(record, fingerprint=fingerprint.own, hashed=fingerprint.racy).save(
            BuildRecord.path_for(options.site_dir, output_dir))
    report = report_from_record(record, output_dir, time.perf_counter() - started)
    raise_if_strict(report.warnings, options)
    return report


def report_from_record(record: BuildRecord, output_dir: Path, seconds: float) -> BuildReport:
    """The report of a build that found its output already up to date."""
    data = record.report
    warnings = tuple(Problem(str(p), line if isinstance(line, int) else None, str(m), level)
                     for p, line, m, level in data.get("warnings", []))
    return BuildReport(output_dir=output_dir, articles=int(data["articles"]),
                       pages=int(data["pages"]), seconds=seconds, written=0,
                       unchanged=int(data.get("files", 0)), removed=0, warnings=warnings,
                       rendered=0, cached=int(data["articles"]), up_to_date=True)


# A build makes hundreds of thousands of objects that live until it ends (sources, articles,
# the site model, page records): the collector's default pace would scan them again and again.
BUILD_GC_THRESHOLDS = (50_000, 20, 20)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often for the duration (restored after)."""
    before = gc.get_threshold()
    gc.set_threshold(*BUILD_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def build(options: BuildOptions) -> BuildReport:
    """Build the site in `options.site_dir`; raise BuildError with every problem found."""
    with fewer_collections():
        return _build(options)


def _build(options: BuildOptions) -> BuildReport:
    started = time.perf_counter()
    output_dir = options.output_dir or options.site_dir / "output"
    raise_if_errors(check_output_dir(output_dir, options.site_dir))
    record = load_record(options, output_dir)
    fingerprint = build_fingerprint(options, output_dir, record.hashed if record else ())
    report = up_to_date(options, output_dir, fingerprint, record, started)
    if report is not None:
        return report

    # The pipeline (config, Jinja, Markdown, the site model) is imported only when there is
    # work to do: importing it takes longer than the whole no-change rebuild above.
    from generator.pipeline import build_site

    return build_site(options, output_dir, fingerprint, started)
