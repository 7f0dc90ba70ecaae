"""Golden sites: build each tests/sites/<name>/ and compare with its expected/ file by file.

After an intended change to the output, regenerate with `make golden` and review the git diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.regen_golden import build_golden, golden_sites, output_tree

MAX_DIFF_LINES = 60


def describe(rel: str, expected: bytes, actual: bytes) -> str:
    """A readable unified diff for text files, a size note for binary ones."""
    try:
        old, new = expected.decode("utf-8"), actual.decode("utf-8")
    except UnicodeDecodeError:
        return f"{rel}: binary files differ ({len(expected)} → {len(actual)} bytes)"
    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"expected/{rel}",
                                     f"built/{rel}", lineterm="", n=2))
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
    return "\n".join(diff)


@pytest.mark.parametrize("site", golden_sites(), ids=lambda p: p.name)
def test_golden_site(site: Path, tmp_path: Path) -> None:
    expected_dir = site / "expected"
    assert expected_dir.is_dir(), f"{expected_dir} is missing: run `make golden`"
    build_golden(site, tmp_path / "output")
    built = output_tree(tmp_path / "output")
    expected = output_tree(expected_dir)
    report = []
    missing = sorted(set(expected) - set(built))
    extra = sorted(set(built) - set(expected))
    if missing:
        report.append("not built any more:\n  " + "\n  ".join(missing))
    if extra:
        report.append("built but not expected:\n  " + "\n  ".join(extra))
    for rel in sorted(set(built) & set(expected)):
        if built[rel] != expected[rel]:
            report.append(describe(rel, expected[rel], built[rel]))
    if report:
        pytest.fail(f"golden site {site.name!r} differs from {expected_dir}:\n\n"
                    + "\n\n".join(report)
                    + "\n\nIf the change is intended, run `make golden` and commit expected/.",
                    pytrace=False)
