"""The `briefing` command: turns reports into printed lines and exit codes."""

from __future__ import annotations

import atexit
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from generator import __version__
from generator.build import BuildOptions, build, build_clock
from generator.errors import BuildError, Problem

if TYPE_CHECKING:
    from generator.importer import ImportResult

# Commands import what they run (the config reader, the pipeline, the importer) when they run,
# not here: every command pays for this module's imports, and `briefing build` with nothing
# to do takes a fraction of a second, which importing those would more than double.

EXIT_PROBLEMS = 1


def _print_problems(problems: tuple[Problem, ...] | list[Problem]) -> None:
    for problem in problems:
        click.echo(problem.format(), err=True)


def _fail(problems: tuple[Problem, ...] | list[Problem], what: str) -> None:
    _print_problems(problems)
    errors = sum(1 for p in problems if p.is_error)
    click.echo(f"{what} failed: {errors} error{'s' if errors != 1 else ''}", err=True)
    sys.exit(EXIT_PROBLEMS)


def _parse_now(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time "
                                 "(e.g. 2026-11-24T07:00:00+00:00)") from None


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        """Run a command; unexpected exceptions become one line unless --debug is given."""
        try:
            return super().invoke(ctx)
        except BuildError as exc:
            _fail(exc.problems, ctx.invoked_subcommand or "briefing")
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted: the output folder was left as it was", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            where = traceback.extract_tb(exc.__traceback__)[-1]
            click.echo(f"error: internal error: {type(exc).__name__}: {exc} "
                       f"(at {Path(where.filename).name}:{where.lineno}; run with --debug "
                       "for the traceback and please report it)", err=True)
            sys.exit(EXIT_PROBLEMS)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="briefing")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Briefing: build a static news briefing site from Markdown articles.

    \b
    Examples:
      briefing init my-site
      briefing new "Port workers end strike" --site my-site --topic business
      briefing build --site my-site
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


SITE_OPTION = click.option(
    "--site", "site_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
    show_default=True, help="The site folder (holds config.yaml and content/).")


def _build_selection(command: Callable[..., None]) -> Callable[..., None]:
    """The options build and check share: site, output folder, what is published, clock, jobs."""
    for option in reversed((
        SITE_OPTION,
        click.option("--output", "output_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="The output folder [default: <site>/output]."),
        click.option("--drafts", is_flag=True, help="Include articles marked draft: true."),
        click.option("--future", is_flag=True,
                     help="Include articles dated after the build's clock."),
        click.option("--now", callback=_parse_now, metavar="ISO8601",
                     help="Pin the build's clock (else SOURCE_DATE_EPOCH, else now). Without "
                          "an offset it is read in the site's time zone."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), metavar="N",
                     help="Worker processes for rendering [default: CPU count]."),
    )):
        command = option(command)
    return command


@cli.command("build")
@_build_selection
@click.option("-q", "--quiet", is_flag=True,
              help="Print only problems: no progress bar, no summary line.")
@click.option("--no-cache", is_flag=True,
              help="Ignore and do not update <site>/.cache/ (render everything).")
@click.option("--strict", is_flag=True, help="Treat warnings as errors (nothing is written).")
def build_command(site_dir: Path, output_dir: Path | None, drafts: bool, future: bool,
                  now: datetime | None, jobs: int | None, quiet: bool, no_cache: bool,
                  strict: bool) -> None:
    """Build the site into the output folder.

    The output folder is replaced only when the whole build succeeds.

    \b
    Examples:
      briefing build
      briefing build --site my-site --output /srv/www/briefing
      briefing build --drafts --future          # preview everything
      briefing build --now 2026-11-24T06:00:00+00:00
    """
    bar = _ProgressBar(enabled=not quiet and sys.stderr.isatty())
    try:
        report = build(BuildOptions(site_dir, output_dir, drafts, future, now, jobs,
                                    progress=bar.update, use_cache=not no_cache,
                                    strict=strict))
    finally:
        bar.close()
    _print_problems(report.warnings)
    if not quiet:
        index = report.output_dir / "index.html"
        click.echo(f"built {report.articles} articles ({report.rendered} rendered, "
                   f"{report.cached} from cache), {report.pages} pages "
                   f"({report.pages_rendered} rendered) in "
                   f"{report.seconds:.2f} s ({report.written} written, {report.unchanged} "
                   f"unchanged, {report.removed} removed"
                   f"{'; output already up to date' if report.up_to_date else ''}): {index}")


@cli.command("check")
@_build_selection
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems, no summary line.")
def check_command(site_dir: Path, output_dir: Path | None, drafts: bool, future: bool,
                  now: datetime | None, jobs: int | None, strict: bool, quiet: bool) -> None:
    """Check the site as a build would, plus every internal link; write nothing.

    Exits 1 when there is an error (or, with --strict, a warning).

    \b
    Examples:
      briefing check --site my-site
      briefing check --strict               # in CI: warnings fail too
    """
    # Imported when the command runs (see the note at the top): startup time of `build`.
    from generator.pipeline import check

    report = check(BuildOptions(site_dir, output_dir, drafts, future, now, jobs, strict=strict))
    _print_problems(report.warnings)
    if not quiet:
        warnings = len(report.warnings)
        click.echo(f"checked {report.articles} articles, {report.pages} pages and "
                   f"{report.links} internal links: no errors, {warnings} "
                   f"warning{'s' if warnings != 1 else ''}")


class _ProgressBar:
    """A progress bar on the terminal, shown only once a build has run for a second."""

    def __init__(self, enabled: bool, delay: float = 1.0):
        self.enabled = enabled
        self.delay = delay
        self.started = time.monotonic()
        self.bar: Any = None
        self.stage = ""
        self.shown = 0

    def update(self, stage: str, done: int, total: int) -> None:
        """Called by the build: `done` of `total` steps of a stage ("articles", "pages")."""
        if not self.enabled or total <= 0:
            return
        if stage != self.stage:
            self.close()
            self.stage, self.shown = stage, 0
        if self.bar is None:
            if time.monotonic() - self.started < self.delay or done >= total:
                return
            self.bar = click.progressbar(length=total, label=f"rendering {stage}",
                                         file=sys.stderr, show_pos=stage == "articles")
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        """Finish the bar's line, if one was shown."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


SAMPLE_CONFIG = """\
# Site settings: see the README's config.yaml section for every key.
title: {title}
description: A daily briefing.
base_url: https://example.org/
language: en
timezone: UTC
topics:
  - slug: news
    name: News
"""

SAMPLE_ARTICLE = """\
---
title: Welcome to your briefing
date: "{date}"
standfirst: This sample story shows the front matter an article can carry.
topic: news
tags: [welcome]
---

This is the body, written in Markdown. Edit or delete this file, then run
`briefing build --site {site}` to build the site into `{site}/output/`.

## Writing a story

Each story is one file in `content/`, with YAML front matter between `---` lines.
"""


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", default="My Briefing", show_default=True, help="The site's name.")
def init_command(directory: Path, title: str) -> None:
    """Create a new site with a config and one sample article; it builds at once.

    The site uses the default theme; copy files into DIRECTORY/layouts/ to change them.

    \b
    Example:
      briefing init my-site && briefing build --site my-site
    """
    # Imported when the command runs (see the note at the top): startup time of `build`.
    from generator.config import load_config

    config_path = directory / "config.yaml"
    if config_path.exists() or (directory / "content").exists():
        raise click.UsageError(f"{directory} already holds a site; choose an empty folder")
    (directory / "content").mkdir(parents=True, exist_ok=True)
    config_path.write_text(SAMPLE_CONFIG.format(title=_yaml_text(title)), encoding="utf-8")
    now = build_clock(None, load_config(directory).tz).replace(microsecond=0)
    sample = directory / "content" / "welcome.md"
    sample.write_text(SAMPLE_ARTICLE.format(date=now.isoformat(), site=directory),
                      encoding="utf-8")
    (directory / ".gitignore").write_text("/output/\n/.cache/\n", encoding="utf-8")
    click.echo(f"created {directory}: run `briefing build --site {directory}`")


def _yaml_text(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


@cli.command("new")
@click.argument("headline")
@SITE_OPTION
@click.option("--topic", help="The topic's slug or name.")
@click.option("--draft/--no-draft", default=True, show_default=True,
              help="Start the article as a draft.")
def new_command(headline: str, site_dir: Path, topic: str | None, draft: bool) -> None:
    """Create a new article file with a front matter skeleton; print its path.

    \b
    Example:
      briefing new "Port workers end nine-day strike" --topic business
    """
    # Imported when the command runs (see the note at the top): startup time of `build`.
    from slugify import slugify

    from generator.config import load_config

    config = load_config(site_dir)
    if topic is not None and config.topic(topic) is None:
        names = ", ".join(t.slug for t in config.topics) or "none configured"
        raise click.BadParameter(f"unknown topic {topic!r}; topics: {names}",
                                 param_hint="--topic")
    slug = slugify(headline, max_length=80, word_boundary=True)
    if not slug:
        raise click.BadParameter("the headline has no letters or digits to make a file name")
    path = site_dir / "content" / f"{slug}.md"
    if path.exists():
        raise click.UsageError(f"{path} already exists")
    now = build_clock(None, config.tz).astimezone(config.tz).replace(microsecond=0)
    lines = ["---", f"title: {_yaml_text(headline)}", f'date: "{now.isoformat()}"',
             'standfirst: ""', "author: []"]
    if topic:
        lines.append(f"topic: {config.topic(topic).slug}")  # type: ignore[union-attr]
    lines += ["tags: []", f"draft: {'true' if draft else 'false'}", "---", "", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    click.echo(str(path))


def _read_input(path: Path) -> tuple[str, str | None, Problem | None]:
    """(name, text, problem) for one import input; `-` is standard input."""
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        raw = sys.stdin.buffer.read() if name == "<stdin>" else path.read_bytes()
    except OSError as exc:
        return name, None, Problem(name, None, f"cannot read file: {exc.strerror}")
    try:
        return name, raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return name, None, Problem(name, line, "not valid UTF-8 text: save the file as UTF-8")


def _import_report(name: str, target: str, result: ImportResult) -> list[str]:
    """The lines that say what an import took and what it dropped."""
    lines = [f"imported {name} -> {target}"]
    lines += [f"  {f.name:<14} {f.value}  ({f.origin})" for f in result.fields]
    crossheads = len(result.crossheads)
    lines.append(f"  {'body':<14} {len(result.paragraphs)} paragraphs, {crossheads} "
                 f"crosshead{'s' if crossheads != 1 else ''}")
    lines += [f"  dropped line {d.line}: {d.text!r} ({d.reason})" for d in result.dropped]
    return lines


@cli.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@SITE_OPTION
@click.option("--topic", help="The topic's slug or name.")
@click.option("--author", help="The byline, when the text has none.")
@click.option("--date", "date", callback=_parse_now, metavar="ISO8601",
              help="The publication date, when the text has none (naive = site time zone).")
@click.option("--stdout", "to_stdout", is_flag=True,
              help="Print the Markdown instead of writing content/<slug>.md.")
@click.option("--force", is_flag=True, help="Overwrite an existing content/<slug>.md.")
def import_command(files: tuple[Path, ...], site_dir: Path, topic: str | None,
                   author: str | None, date: datetime | None, to_stdout: bool,
                   force: bool) -> None:
    """Turn raw article text (copied from a news site or wire) into content/<slug>.md.

    Recognises the headline, standfirst, byline, lead photo caption and credit,
    machine-translation notices and dates, and drops page boilerplate; prints
    what it took and what it dropped. FILE may be - for standard input.
    Nothing is written unless every file imports cleanly.

    \b
    Examples:
      briefing import story.txt --topic business
      cat story.txt | briefing import - --stdout
      briefing import a.txt b.txt --date 2026-11-24T07:30 --author "Jane Doe"
    """
    # Imported when the command runs (see the note at the top): startup time of `build`.
    from generator.config import load_config
    from generator.importer import ImportRules, import_text, validate_article

    config = load_config(site_dir)
    if topic is not None and config.topic(topic) is None:
        names = ", ".join(t.slug for t in config.topics) or "none configured"
        raise click.BadParameter(f"unknown topic {topic!r}; topics: {names}",
                                 param_hint="--topic")
    topic_slug = config.topic(topic).slug if topic else None  # type: ignore[union-attr]
    rules = ImportRules.from_settings(config.import_settings)
    now = build_clock(None, config.tz).replace(microsecond=0)
    problems: list[Problem] = []
    imported: dict[str, tuple[str, ImportResult]] = {}
    for path in files:
        name, text, problem = _read_input(path)
        if text is None:
            problems.append(problem)  # type: ignore[arg-type]
            continue
        try:
            result = import_text(text, name=name, rules=rules, tz=config.tz, topic=topic_slug,
                                 author=author, date=date, now=now)
        except BuildError as exc:
            problems.extend(exc.problems)
            continue
        target = f"content/{result.slug}.md"
        problems += list(result.warnings) + validate_article(result, config, target)
        if target in imported:
            problems.append(Problem(name, None, f"makes the same file {target} as "
                                    f"{imported[target][0]}"))
        elif not to_stdout and (site_dir / target).exists() and not force:
            problems.append(Problem(name, None, f"{target} already exists: use --force to "
                                    "overwrite it"))
        imported[target] = (name, result)
    if any(p.is_error for p in problems):
        _fail(problems, "import")
    _print_problems(problems)
    for target, (name, result) in imported.items():
        if to_stdout:
            click.echo(result.markdown, nl=False)
        else:
            path = site_dir / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(result.markdown, encoding="utf-8")
        for line in _import_report(name, target if not to_stdout else "stdout", result):
            click.echo(line, err=to_stdout)


def main() -> None:
    """The `briefing` command, ending with SystemExit as click's commands do (for callers that
    run it in their own process; the console script and `python -m generator` use `run`)."""
    cli(prog_name="briefing")


# The exit status `run` leaves with, once the command has finished; None while it runs.
_status: int | None = None


def _end_now() -> None:
    """At exit, after the exit handlers registered later (multiprocessing's, logging's) have
    run: flush the standard streams and end the process without tearing the interpreter down.
    Freeing a big build's objects one by one costs 0.1-0.2 s (10,000 articles) and does
    nothing the operating system does not do at once; every file the build writes is closed
    before the command returns. A stream that cannot be flushed (a closed pipe) leaves the
    ordinary exit to report it."""
    if _status is None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(_status)


def run() -> None:
    """Entry point of the `briefing` console script and of `python -m generator`: `main`, then
    a prompt exit (`_end_now`)."""
    global _status
    atexit.register(_end_now)  # first registered, so the last to run
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            _status = code or 0
        raise
    _status = 0
