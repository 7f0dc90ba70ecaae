"""cli.py: commands, their help, and exit codes 0 (success), 1 (problems), 2 (usage)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import article, make_site, parse_html

NOW = "2026-11-24T12:00:00+00:00"


def run(*args: str) -> tuple[int, str, str]:
    """Run `briefing ARGS`; return exit code, stdout and stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", [[], ["build"], ["init"], ["new"]])
def test_help_on_every_command_has_examples(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0
    assert "Example" in out


def test_every_registered_command_has_help() -> None:
    for name in cli.commands:
        code, out, _ = run(name, "--help")
        assert code == 0 and "Usage:" in out, name


def test_build_success(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("Hello"), "x")})
    code, out, err = run("build", "--site", str(site), "--now", NOW)
    assert code == 0, err
    assert "built 1 articles" in out
    assert (site / "output/2026/11/24/hello/index.html").is_file()


def test_build_output_option_and_quiet(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("Hello"), "x")})
    code, out, _ = run("build", "--site", str(site), "--output", str(tmp_path / "www"),
                       "--now", NOW, "-q")
    assert code == 0 and out == ""
    assert (tmp_path / "www/index.html").is_file()


def test_build_drafts_and_future_flags(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "d": (article("Draft", draft=True), "x"),
        "f": (article("Future", "2026-12-01T08:00:00+00:00"), "y")})
    assert run("build", "--site", str(site), "--now", NOW)[0] == 0
    assert not (site / "output/2026/11/24/draft").exists()
    assert run("build", "--site", str(site), "--now", NOW, "--drafts", "--future")[0] == 0
    assert (site / "output/2026/11/24/draft/index.html").is_file()
    assert (site / "output/2026/12/01/future/index.html").is_file()


def test_content_error_exits_1_with_file_and_line(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": ("title: A\ndate: soon", "x")})
    code, _, err = run("build", "--site", str(site), "--now", NOW)
    assert code == 1
    assert "content/a.md:3: error:" in err
    assert "failed: 1 error" in err


def test_config_error_exits_1_with_did_you_mean(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", config="title: T\nbase_url: https://e.org/\ntitel: x\n")
    code, _, err = run("build", "--site", str(site))
    assert code == 1
    assert "config.yaml:3: error: unknown key 'titel' (did you mean 'title'?)" in err


def test_missing_site_exits_1(tmp_path: Path) -> None:
    code, _, err = run("build", "--site", str(tmp_path / "nowhere"))
    assert code == 1 and "config.yaml" in err


@pytest.mark.parametrize("args", [
    ["build", "--no-such-option"], ["build", "--now", "yesterday"], ["build", "--jobs", "0"],
    ["frobnicate"], ["init"], ["new"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert "Usage:" in err or "Error:" in err


def test_warnings_are_printed_but_exit_0(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A", tittle="x"), "x")})
    code, _, err = run("build", "--site", str(site), "--now", NOW)
    assert code == 0
    assert "content/a.md:" in err and "warning" in err and "did you mean 'title'" in err


def test_init_makes_a_site_that_builds(tmp_path: Path) -> None:
    site = tmp_path / "new-site"
    code, out, _ = run("init", str(site), "--title", "Gulf Morning: \"Daily\"")
    assert code == 0 and str(site) in out
    assert not (site / "layouts").exists()  # the default theme is enough
    code, _, err = run("build", "--site", str(site))
    assert code == 0, err
    home = parse_html(site / "output/index.html")
    assert home.findtext(".//title") == 'Gulf Morning: "Daily"'
    assert home.findtext(".//main//h2/a") == "Welcome to your briefing"


def test_init_refuses_an_existing_site(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "s"))[0] == 0
    code, _, err = run("init", str(tmp_path / "s"))
    assert code == 2 and "already holds a site" in err


def test_new_writes_valid_front_matter(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    code, out, _ = run("new", "Port workers: end \"strike\"", "--site", str(site),
                       "--topic", "Business")
    assert code == 0
    path = Path(out.strip())
    assert path == site / "content/port-workers-end-strike.md"
    front = path.read_text(encoding="utf-8").split("---\n")[1]
    meta = yaml.safe_load(front)
    assert meta["title"] == 'Port workers: end "strike"'
    assert meta["topic"] == "business"
    assert meta["draft"] is True
    # The new draft builds (with --drafts) and appears.
    code, _, err = run("build", "--site", str(site), "--drafts")
    assert code == 0, err


def test_new_no_draft_is_published(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    code, out, _ = run("new", "Hello world", "--site", str(site), "--no-draft")
    assert code == 0
    assert yaml.safe_load(Path(out.strip()).read_text(encoding="utf-8").split("---\n")[1])[
        "draft"] is False


@pytest.mark.parametrize("args", [["--topic", "sport"], []])
def test_new_usage_errors(tmp_path: Path, args: list[str]) -> None:
    site = make_site(tmp_path / "site")
    headline = "!!!" if not args else "Fine headline"
    code, _, err = run("new", headline, "--site", str(site), *args)
    assert code == 2


def test_new_refuses_to_overwrite(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    assert run("new", "Same", "--site", str(site))[0] == 0
    code, _, err = run("new", "Same", "--site", str(site))
    assert code == 2 and "already exists" in err


def test_new_without_a_site_exits_1(tmp_path: Path) -> None:
    assert run("new", "Headline", "--site", str(tmp_path / "none"))[0] == 1


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "briefing" in out


def test_build_summary_counts_rendered_and_cached_articles(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("Hello"), "x")})
    code, out, err = run("build", "--site", str(site), "--now", NOW)
    assert code == 0, err
    assert "(1 rendered, 0 from cache)" in out
    make_site(site, articles={"b": (article("Second", "2026-11-24T09:00:00+00:00"), "y")})
    code, out, err = run("build", "--site", str(site), "--now", NOW)
    assert code == 0, err
    assert "built 2 articles (1 rendered, 1 from cache)" in out
    code, out, err = run("build", "--site", str(site), "--now", NOW)
    assert "output already up to date" in out
    code, out, err = run("build", "--site", str(site), "--now", NOW, "--no-cache", "-q")
    assert code == 0 and out == "" and err == ""


# A process that runs the entry point the way the console script does, with an object whose
# finaliser says whether the interpreter was torn down and an exit handler the command
# registers, which must still run.
ENTRY_POINT = """
import atexit, sys
import generator.cli as cli

class Finalised:
    def __del__(self):
        print("torn down", flush=True)

kept = Finalised()
command = cli.main

def main():
    atexit.register(print, "exit handler ran")
    command()

cli.main = main
sys.argv = ["briefing", *sys.argv[1:]]
cli.run()
"""


def _entry_point(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", ENTRY_POINT, *args], capture_output=True,
                          text=True, timeout=120)


def test_entry_point_ends_without_teardown_after_the_exit_handlers(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("Hello"), "x")})
    done = _entry_point("build", "--site", str(site), "--now", NOW)
    assert done.returncode == 0, done.stderr
    assert "built 1 articles" in done.stdout
    assert "exit handler ran" in done.stdout
    assert "torn down" not in done.stdout
    assert (site / "output" / "index.html").is_file()


def test_entry_point_keeps_the_exit_status_of_a_failed_build(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": ("title: [unclosed\n", "x")})
    done = _entry_point("build", "--site", str(site), "--now", NOW)
    assert done.returncode == 1
    assert "error:" in done.stderr and "build failed: 1 error" in done.stderr
    assert "exit handler ran" in done.stdout and "torn down" not in done.stdout


def test_entry_point_keeps_the_usage_exit_status() -> None:
    done = _entry_point("build", "--jobs", "0")
    assert done.returncode == 2
    assert "torn down" not in done.stdout


def test_python_m_generator_runs_the_entry_point(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("Hello"), "x")})
    done = subprocess.run([sys.executable, "-m", "generator", "build", "--site", str(site),
                           "--now", NOW], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "built 1 articles" in done.stdout
