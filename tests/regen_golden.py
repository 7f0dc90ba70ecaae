"""Build the golden sites in tests/sites/ and (re)write their expected output.

Run after an intended change to the output, then review the diff in git:

    make golden                       # every site
    .venv/bin/python -m tests.regen_golden basic   # one site
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from generator.build import BuildOptions, build

SITES_DIR = Path(__file__).parent / "sites"
# Every golden build runs at this instant, so "future" and edition dates never drift.
GOLDEN_NOW = datetime.fromisoformat("2026-11-24T12:00:00+04:00")
# Inputs copied to a temporary folder before building, so no build writes into tests/sites/.
INPUTS = ("config.yaml", "content", "layouts")


def golden_sites() -> list[Path]:
    """Every folder of tests/sites/ with a config.yaml, in sorted order."""
    return sorted(p.parent for p in SITES_DIR.glob("*/config.yaml"))


def build_golden(site: Path, output: Path) -> None:
    """Build a golden site's inputs (copied to a temporary folder) into `output`."""
    with tempfile.TemporaryDirectory(prefix="briefing-golden-") as scratch:
        copy = Path(scratch) / site.name
        copy.mkdir()
        for name in INPUTS:
            source = site / name
            if source.is_dir():
                shutil.copytree(source, copy / name)
            elif source.is_file():
                shutil.copy2(source, copy / name)
        build(BuildOptions(site_dir=copy, output_dir=output, now=GOLDEN_NOW, jobs=1))


def output_tree(output: Path) -> dict[str, bytes]:
    """Every file a build wrote, by relative path; the build's own hidden bookkeeping is left
    out."""
    return {p.relative_to(output).as_posix(): p.read_bytes()
            for p in sorted(output.rglob("*"))
            if p.is_file() and not p.relative_to(output).as_posix().startswith(".")}


def regenerate(site: Path) -> int:
    """Rewrite `site/expected/` from a fresh build; return how many files it holds."""
    expected = site / "expected"
    with tempfile.TemporaryDirectory(prefix="briefing-golden-out-") as scratch:
        output = Path(scratch) / "output"
        build_golden(site, output)
        tree = output_tree(output)
    shutil.rmtree(expected, ignore_errors=True)
    for rel, data in tree.items():
        path = expected / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(tree)


def main(names: list[str]) -> int:
    """Regenerate the named golden sites, or all of them."""
    sites = [SITES_DIR / n for n in names] if names else golden_sites()
    for site in sites:
        if not (site / "config.yaml").is_file():
            print(f"no golden site at {site}", file=sys.stderr)
            return 2
        count = regenerate(site)
        print(f"{site.relative_to(Path.cwd()) if site.is_relative_to(Path.cwd()) else site}/"
              f"expected: {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
