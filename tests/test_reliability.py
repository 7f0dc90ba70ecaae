"""Whatever the content, a build succeeds or reports `path:line` problems; output reproduces."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import cli
from generator.errors import BuildError
from generator.models import ARTICLE_FIELDS
from tests.conftest import article, build_site, make_site

REPO = Path(__file__).resolve().parent.parent
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["2026-11-24", "2026-11-24T07:00:00+04:00", "world", "../../x",
                     "javascript:alert(1)", "/images/a.jpg", "", "<script>x</script>"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
front_matter = st.dictionaries(
    st.one_of(st.sampled_from(ARTICLE_FIELDS), st.text(max_size=12)), values, max_size=8)
MARKDOWN_TOKENS = list("#*_[]()!<>`|-=:{}\\&;\"' \n") + [
    "<script>", "](javascript:", "\n- ", "\n> ", "\n    ", "```\n", "[^1]", "\n[^1]: ",
    "{: #x }", "<img src=x onerror=alert(1)>", "&#x", "\x00", "\r\n", "\ufeff"]
markdown_text = st.lists(st.one_of(st.characters(codec="utf-8"),
                                   st.sampled_from(MARKDOWN_TOKENS)),
                         max_size=120).map("".join)
YAML_TOKENS = list("-:#[]{}&*!|>'\"%@`?, \n\tab1") + ["---", "!!python/", "<<: ", "&a ", "*a"]
yaml_text = st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join)

def build_or_problems(site: Path, output: Path) -> None:
    """Build; a BuildError is fine as long as every error names a file and a line."""
    try:
        build_site(site, output=output, use_cache=False)
    except BuildError as exc:
        assert exc.problems
        for problem in exc.problems:
            if problem.is_error:
                assert problem.path and problem.line, problem


@FAST
@given(meta=front_matter, body=markdown_text, valid_base=st.booleans())
def test_arbitrary_front_matter_builds_or_reports_lines(meta: dict[str, Any], body: str,
                                                        valid_base: bool) -> None:
    if valid_base:  # half the time start from a valid article, so later stages run too
        meta = {**article("Base"), **{k: v for k, v in meta.items() if k not in ("date",)}}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        site = make_site(root / "site", articles={
            "fixed": (article("A fixed story", topic="world"), "Body."),
            "fuzzed": (yaml.safe_dump(meta, allow_unicode=True) if meta else "{}", body)})
        build_or_problems(site, root / "out")


@FAST
@given(body=markdown_text, title=st.text(min_size=1, max_size=60))
def test_arbitrary_markdown_always_builds(body: str, title: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        site = make_site(root / "site", articles={"a": (article(title or "x"), body)})
        build_or_problems(site, root / "out")


@FAST
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_as_a_content_file(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        site = make_site(root / "site", files={"content/x.md": raw})
        build_or_problems(site, root / "out")


@settings(max_examples=60, deadline=None)
@given(text=yaml_text)
def test_arbitrary_yaml_text_never_raises(text: str) -> None:
    from generator.sources import load_yaml

    document, problems = load_yaml(text, "content/x.md", 2, allow_aliases=False)
    assert (document is None) == bool(problems)
    assert all(p.line and p.line >= 2 for p in problems)


def test_cli_never_prints_a_traceback_for_broken_content(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", files={
        "content/a.md": b"---\ntitle: !!python/object:os.system x\n---\n",
        "content/b.md": b"\xff\xfe\x00",
        "content/c.md": b"---\n" + b"[" * 3000 + b"\n---\n",
        "content/d.md": b"---\ntitle: x\ndate: 2026-11-24\nslug: ../../etc\n---\n",
    })
    result = subprocess.run([sys.executable, "-m", "generator", "build", "--site", str(site)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [line.split(":")[0] for line in errors] == ["content/a.md", "content/b.md",
                                                       "content/c.md", "content/d.md"]


def tree_bytes(folder: Path) -> dict[str, str]:
    """Every file below `folder` with the digest of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_builds_with_the_same_clock_are_byte_identical(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        f"s{n}": (article(f"Story {n}", f"2026-11-2{n % 4}T0{n % 9}:00:00+00:00",
                          tags=["a", f"t{n % 3}"], author=["Ann Lee", f"Writer {n % 2}"],
                          topic="world" if n % 2 else "business"), f"Body {n}.\n\n## Part\n")
        for n in range(12)}, editions={"2026-11-23": ({"title": "Note"}, "Intro.")})
    runner = CliRunner()
    for name in ("one", "two"):
        result = runner.invoke(cli, ["build", "--site", str(site), "--output",
                                     str(tmp_path / name), "--no-cache", "--jobs", "2",
                                     "--now", "2026-11-24T12:00:00+00:00"])
        assert result.exit_code == 0, result.output
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_source_date_epoch_pins_the_clock(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": (article("Old"), "Body."),
        "b": (article("Tomorrow", "2026-11-25T08:00:00+00:00"), "Body.")})
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1795521600"}  # 2026-11-24T12:00:00Z
    for name in ("one", "two"):
        result = subprocess.run([sys.executable, "-m", "generator", "build", "--site", str(site),
                                 "--output", str(tmp_path / name), "--no-cache", "-q"],
                                env=env, capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, result.stderr
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
    assert not (tmp_path / "one/2026/11/25").exists()  # the future story waits
    bad = subprocess.run([sys.executable, "-m", "generator", "build", "--site", str(site)],
                         env={**env, "SOURCE_DATE_EPOCH": "soon"}, capture_output=True,
                         text=True, cwd=REPO)
    assert bad.returncode == 1 and "SOURCE_DATE_EPOCH: error:" in bad.stderr
