"""What each Python-Markdown extension costs per article, on the benchmark corpus.

    python bench/markdown_cost.py [--articles 200] [--rounds 5]

Prints a Markdown table: milliseconds per article for plain Markdown, each extension added
alone, the default set, and the rest of render_markdown (sanitiser, text extraction).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import markdown

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

from generator.config import DEFAULT_EXTENSIONS  # noqa: E402
from generator.markup import MarkdownSettings, render_markdown, sanitise  # noqa: E402

CANDIDATES = ("tables", "footnotes", "attr_list", "toc", "fenced_code", "sane_lists",
              "def_list", "abbr", "admonition", "smarty", "extra", "codehilite")


def per_article_ms(texts: list[str], extensions: list[str]) -> float:
    """One pass over `texts` with a reused converter, in milliseconds per article."""
    converter = markdown.Markdown(extensions=extensions, output_format="html")
    start = time.perf_counter()
    for text in texts:
        converter.reset()
        converter.convert(text)
    return (time.perf_counter() - start) * 1000 / len(texts)


def best_of(texts: list[str], configurations: dict[str, list[str]], rounds: int
            ) -> dict[str, float]:
    """The fastest of `rounds` passes for each configuration, the configurations interleaved
    so a busy moment on the machine does not land on one of them only."""
    best = {name: float("inf") for name in configurations}
    per_article_ms(texts, [])  # warm up imports and caches
    for _ in range(rounds):
        for name, extensions in configurations.items():
            best[name] = min(best[name], per_article_ms(texts, extensions))
    return best


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    texts = [story.body for story in corpus.stories(args.articles, seed=7)]
    configurations = {"plain": [], **{name: [name] for name in CANDIDATES},
                      "default": list(DEFAULT_EXTENSIONS)}
    best = best_of(texts, configurations, args.rounds)
    base = best["plain"]
    rows = [("plain Markdown (no extensions)", base, 0.0)]
    rows += [(f"+ {name}", best[name], best[name] - base) for name in CANDIDATES]
    rows.append((f"default set ({', '.join(DEFAULT_EXTENSIONS)})", best["default"],
                 best["default"] - base))
    html = [markdown.markdown(t, extensions=list(DEFAULT_EXTENSIONS)) for t in texts]
    start = time.perf_counter()
    for fragment in html:
        sanitise(fragment)
    rows.append(("sanitiser (nh3) on the output", (time.perf_counter() - start) * 1000 /
                 len(texts), 0.0))
    settings = MarkdownSettings(tuple(DEFAULT_EXTENSIONS))
    start = time.perf_counter()
    for text in texts:
        render_markdown(text, settings)
    rows.append(("render_markdown total (default set + sanitiser + summary/word count)",
                 (time.perf_counter() - start) * 1000 / len(texts), 0.0))
    print(f"{len(texts)} articles of the benchmark corpus, Python-Markdown "
          f"{markdown.__version__}\n")
    print("| configuration | ms per article | added by the extension |")
    print("|---|---|---|")
    for name, cost, added in rows:
        print(f"| {name} | {cost:.2f} | {f'{added:+.2f}' if added else ''} |")


if __name__ == "__main__":
    main()
