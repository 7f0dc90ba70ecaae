"""Errors people can act on: `path:line: level: message`, all at once, warnings, --strict, check."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import BuildError, Problem, error, raise_if_errors, warning
from tests.conftest import article, build_site, make_site

NOW = ["--now", "2026-11-24T12:00:00+00:00"]


def run(*args: str) -> tuple[int, str]:
    """Run the CLI; return its exit code and everything it printed."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_problem_format() -> None:
    assert error("content/a.md", 4, "bad").format() == "content/a.md:4: error: bad"
    assert warning("config.yaml", None, "hm").format() == "config.yaml: warning: hm"


def test_warnings_alone_do_not_raise_and_errors_come_sorted() -> None:
    raise_if_errors([warning("a.md", 1, "w")])
    with pytest.raises(BuildError) as caught:
        raise_if_errors([error("b.md", 9, "x"), error("a.md", 3, "y"), error("a.md", 1, "z")])
    assert [(p.path, p.line) for p in caught.value.problems] == [("a.md", 1), ("a.md", 3),
                                                                 ("b.md", 9)]


def test_every_problem_of_a_build_is_printed_at_once(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "one": ("title: One\ndate: not a date\n", "Body."),
        "two": ("title: Two\ndate: 2026-11-24\ntopic: sport\n", "Body."),
        "three": ("title: [broken\n", "Body."),
    })
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1
    lines = output.strip().splitlines()
    assert lines[0] == ("content/one.md:3: error: 'date' must be an ISO 8601 date or date-time "
                        "such as 2026-11-24 or 2026-11-24T07:30:00+04:00 (years 1000-9000), "
                        "not 'not a date'")
    assert lines[1].startswith("content/three.md:")
    assert lines[2].startswith("content/two.md:4: error: unknown topic 'sport'")
    assert lines[-1] == "build failed: 3 errors"
    assert "Traceback" not in output
    assert not (site / "output").exists()


def test_yaml_error_line_is_the_line_in_the_file(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": ("title: A\ndate: 2026-11-24\nstandfirst: 'open\n", "Body.")})
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1
    assert output.startswith("content/a.md:5: error: invalid YAML: ")
    assert "starts on line 4" in output


def test_python_tag_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    site = make_site(tmp_path / "site", articles={
        "a": (f"title: !!python/object/apply:os.system ['touch {marker}']\ndate: 2026-11-24\n",
              "Body.")})
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1 and "content/a.md:2: error:" in output and "is not allowed" in output
    assert not marker.exists()


def test_warnings_are_printed_and_do_not_fail(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article(
        "A", titel="typo", summary="word " * 80,
        image={"src": "/images/none.jpg"}), "Body.")})
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 0, output
    warnings = [line for line in output.splitlines() if ": warning: " in line]
    text = "\n".join(warnings)
    assert "unknown field 'titel' (did you mean 'title'?)" in text
    assert "'summary' is 399 characters" in text
    assert "'image.alt' is missing" in text
    assert "image file content/images/none.jpg does not exist" in text
    assert all(line.startswith("content/a.md:") for line in warnings)


def test_strict_turns_warnings_into_errors_and_writes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A", titel="x"), "Body.")})
    code, output = run("build", "--site", str(site), "--strict", *NOW)
    assert code == 1
    assert "content/a.md:4: error: unknown field 'titel'" in output
    assert "(an error with --strict)" in output
    assert not (site / "output").exists()


def test_strict_also_applies_when_the_output_is_up_to_date(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A", titel="x"), "Body.")})
    assert run("build", "--site", str(site), *NOW)[0] == 0
    assert run("build", "--site", str(site), "--strict", *NOW)[0] == 1


def test_template_syntax_error_names_the_layout_line(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")},
                     layouts={"404.html": "<p>\n{% if %}\n</p>\n"})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("layouts/404.html", 2)


def test_template_undefined_value_names_the_layout_line(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")},
                     layouts={"404.html": "<p>\nfine\n{{ page.no_such_thing }}\n</p>\n"})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("layouts/404.html", 3)
    assert "no_such_thing" in problem.message


def test_template_runtime_error_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")},
                     layouts={"404.html": "<p>\n{{ 1 // 0 }}\n</p>\n"})
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1 and output.startswith("layouts/404.html:2: error: ZeroDivisionError")


def test_config_error_has_its_line(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", config="title: T\nbase_url: https://e.org/\n"
                                                "timezone: Mars/Olympus\n")
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1 and output.startswith("config.yaml:3: error: 'timezone'")


def test_internal_error_is_one_line_unless_debug(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")})

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("generator.pipeline.read_content", broken)
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1 and "Traceback" not in output
    assert output.startswith("error: internal error: RuntimeError: boom")
    with pytest.raises(RuntimeError):
        CliRunner().invoke(cli, ["--debug", "build", "--site", str(site), *NOW],
                           catch_exceptions=False)


def test_slug_that_leaves_the_output_is_an_error(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A", slug="../../x"), "Body.")})
    code, output = run("build", "--site", str(site), *NOW)
    assert code == 1 and output.startswith("content/a.md:4: error: 'slug' may use only")
    assert not (tmp_path / "x").exists()


def test_check_reports_broken_internal_links_with_their_line(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": (article("A"), "Fine [b](/2026/11/24/b/).\n\nGone [x](/2026/11/20/gone/).\n\n"
                            "![pic](/images/missing.jpg)"),
        "b": (article("B"), "See [part](/2026/11/24/a/#nowhere)."),
    })
    code, output = run("check", "--site", str(site), *NOW)
    assert code == 1
    lines = output.strip().splitlines()
    assert lines[0].startswith("content/a.md:8: error: broken link to '/2026/11/20/gone/'")
    assert lines[1].startswith("content/a.md:10: error: broken link to '/images/missing.jpg'")
    assert lines[2].startswith("content/b.md:6: error: broken link to '/2026/11/24/a/#nowhere'")
    assert "no element with id 'nowhere'" in lines[2]
    assert lines[-1] == "check failed: 3 errors"


def test_check_passes_a_good_site_and_writes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": (article("A", image={"src": "/images/p.jpg", "alt": "P"}),
              "Link to [b](b.md) and ![p](/images/p.jpg)"),
        "b": (article("B"), "Body.")}, files={"content/images/p.jpg": b"jpeg"})
    before = sorted(p.relative_to(site) for p in site.rglob("*"))
    code, output = run("check", "--site", str(site), *NOW)
    assert code == 0, output
    assert output.startswith("checked 2 articles, ")
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == before


def test_check_strict_fails_on_warnings(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A", titel="x"), "Body.")})
    assert run("check", "--site", str(site), *NOW)[0] == 0
    code, output = run("check", "--site", str(site), "--strict", *NOW)
    assert code == 1 and "unknown field 'titel'" in output


def test_check_reports_content_errors_like_build(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": ("title: A\n", "Body.")})
    code, output = run("check", "--site", str(site), *NOW)
    assert code == 1 and output.startswith("content/a.md:1: error: missing required field 'date'")


def test_markdown_too_deep_is_reported_against_the_article(tmp_path: Path) -> None:
    body = "".join("  " * depth + "- x\n" for depth in range(700))  # past the recursion limit
    site = make_site(tmp_path / "site", articles={"deep": (article("Deep"), body)},
                     config={"markdown": {"extensions": ["sane_lists"]}})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    assert [(p.path, p.line) for p in caught.value.problems] == [("content/deep.md", 5)]


def test_problems_without_a_line_still_name_the_file() -> None:
    assert Problem("output", None, "x").format() == "output: error: x"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_dates_at_the_ends_of_time_are_errors_not_crashes(tmp_path: Path, when: str) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A", when), "Body.")},
                     config={"timezone": "Pacific/Kiritimati"})
    code, output = run("build", "--site", str(site), "--future", *NOW)
    assert code == 1 and output.startswith("content/a.md:3: error: 'date' must be")


def test_very_long_tag_and_author_still_build(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": (article("A", tags=["t" * 400], author=["Name " * 100]), "Body.")})
    report = build_site(site)
    assert report.articles == 1
    assert all(len(part) <= 255 for p in (site / "output").rglob("*") for part in p.parts)
