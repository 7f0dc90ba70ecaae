"""A synthetic newsroom corpus, the same stories written for Briefing, Hugo and Pelican."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = (
    "the council port minister strike freight channel survey harbour reporter budget vote "
    "energy price market share rally grid battery ferry crew ship weather storm flood river "
    "coast inquiry report finding court ruling appeal contract union talks deal offer wage "
    "tariff export import growth inflation rate bank loan bond yield deficit surplus tax "
    "school hospital nurse doctor patient clinic vaccine trial study scientist species ocean "
    "satellite launch orbit telescope comet planet museum gallery festival film novel prize "
    "election candidate poll campaign turnout ballot mayor governor senator policy reform "
    "housing rent planning road rail bus airport runway tunnel bridge water drought harvest "
    "farmer wheat rice coffee cocoa oil gas coal wind solar nuclear plant factory worker job"
).split()
TOPICS = ("world", "business", "technology", "science", "climate", "culture")
AUTHORS = tuple(f"{first} {last}" for first, last in zip(
    ("Amira", "Tomas", "Priya", "Joe", "Lena", "Kofi", "Mei", "Rafael", "Ines", "Oskar",
     "Nadia", "Hugo", "Sana", "Bram", "Elif", "Ravi"),
    ("Haddad", "Lindqvist", "Raman", "Okafor", "Varga", "Mensah", "Tan", "Ortiz", "Sousa",
     "Berg", "Aziz", "Moreau", "Qureshi", "de Vries", "Kaya", "Iyer"), strict=True))
TAGS = tuple(f"{a} {b}" for a in WORDS[:20] for b in WORDS[40:50])  # 200 tags
DAYS = 60
START = datetime(2026, 9, 25, 5, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    """One synthetic article, in a form every generator can be given."""

    slug: str
    title: str
    date: datetime
    standfirst: str
    author: str
    topic: str
    tags: tuple[str, ...]
    body: str


def _sentence(rng: random.Random, low: int = 8, high: int = 22) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    sentences = [_sentence(rng) for _ in range(rng.randint(3, 5))]
    if rng.random() < 0.5:
        word = rng.choice(WORDS)
        link = f" [{word}](https://example.com/{word}/) "
        sentences[1] = sentences[1].replace(f" {word} ", link, 1)
    if rng.random() < 0.3:
        word = rng.choice(WORDS)
        sentences[0] = sentences[0].replace(f" {word} ", f" *{word}* ", 1)
    return " ".join(sentences)


def _body(rng: random.Random) -> str:
    blocks: list[str] = []
    words = 0
    while words < 700:
        roll = rng.random()
        if roll < 0.12:
            block = f'> "{_sentence(rng)}" said {rng.choice(AUTHORS)}.'
        elif roll < 0.22:
            block = "\n".join(f"- {_sentence(rng, 4, 10)}" for _ in range(rng.randint(3, 5)))
        elif roll < 0.27:
            block = "## " + _sentence(rng, 3, 6).rstrip(".")
        else:
            block = _paragraph(rng)
        blocks.append(block)
        words += len(block.split())
    return "\n\n".join(blocks) + "\n"


def stories(count: int, seed: int = 2026) -> list[Story]:
    """`count` stories spread over 60 days, the same for the same seed."""
    rng = random.Random(seed)
    result = []
    for index in range(count):
        date = START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        title = _sentence(rng, 5, 10).rstrip(".")
        result.append(Story(
            slug=f"story-{index:05d}", title=title, date=date,
            standfirst=_sentence(rng, 12, 20), author=rng.choice(AUTHORS),
            topic=rng.choice(TOPICS), tags=tuple(sorted(set(rng.sample(TAGS, rng.randint(2, 4))))),
            body=_body(rng)))
    return result


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


BRIEFING_CONFIG = """\
title: Bench Briefing
description: A synthetic briefing for benchmarks.
base_url: https://bench.example.org/
language: en
timezone: UTC
per_page: 10
topics:
""" + "".join(f"  - slug: {t}\n    name: {t.title()}\n" for t in TOPICS)


def write_briefing(site: Path, items: list[Story]) -> None:
    """A Briefing site: config.yaml and content/<slug>.md."""
    _fresh(site)
    (site / "content").mkdir(parents=True)
    (site / "config.yaml").write_text(BRIEFING_CONFIG, encoding="utf-8")
    for story in items:
        tags = ", ".join(_quoted(t) for t in story.tags)
        (site / "content" / f"{story.slug}.md").write_text(
            f"---\ntitle: {_quoted(story.title)}\ndate: \"{story.date.isoformat()}\"\n"
            f"standfirst: {_quoted(story.standfirst)}\nauthor: [{_quoted(story.author)}]\n"
            f"topic: {story.topic}\ntags: [{tags}]\n---\n\n{story.body}", encoding="utf-8")


HUGO_CONFIG = """\
baseURL = "https://bench.example.org/"
title = "Bench Briefing"
languageCode = "en"
disableKinds = ["RSS", "sitemap", "robotsTXT"]
[pagination]
  pagerSize = 10
[taxonomies]
  tag = "tags"
  topic = "topics"
  author = "authors"
[markup.goldmark.renderer]
  unsafe = false
"""
HUGO_BASEOF = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} · {{ site.Title }}</title>
<link rel="canonical" href="{{ .Permalink }}"></head>
<body><header><p><a href="{{ "/" | relURL }}">{{ site.Title }}</a></p><nav><ul>
{{ range site.Taxonomies.topics }}<li><a href="{{ .Page.RelPermalink }}">
{{ .Page.Title }}</a></li>{{ end }}
</ul></nav></header><main>{{ block "main" . }}{{ end }}</main></body></html>
"""
HUGO_SINGLE = """{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p class="standfirst">{{ .Params.standfirst }}</p>
<p><time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">
{{ .Date.Format "2 January 2006" }}</time>
· {{ .ReadingTime }} min read</p>
{{ .Content }}
<ul>{{ range .GetTerms "tags" }}<li><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></li>
{{ end }}</ul>
</article>
<nav>{{ with .PrevInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}
{{ with .NextInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav>{{ end }}
"""
HUGO_LIST = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>
{{ range .Paginator.Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>
<p>{{ .Summary }}</p></li>{{ end }}</ul>
{{ with .Paginator.Next }}<a href="{{ .URL }}">Older</a>{{ end }}{{ end }}
"""
HUGO_TERMS = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>
{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">
{{ .Page.Title }}</a> ({{ .Count }})</li>{{ end }}
</ul>{{ end }}
"""


def write_hugo(site: Path, items: list[Story]) -> None:
    """A Hugo site with small layouts: article pages, paginated lists, taxonomies."""
    _fresh(site)
    posts = site / "content" / "posts"
    posts.mkdir(parents=True)
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (site / "hugo.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    (layouts / "baseof.html").write_text(HUGO_BASEOF, encoding="utf-8")
    (layouts / "single.html").write_text(HUGO_SINGLE, encoding="utf-8")
    (layouts / "list.html").write_text(HUGO_LIST, encoding="utf-8")
    (layouts / "terms.html").write_text(HUGO_TERMS, encoding="utf-8")
    for story in items:
        tags = ", ".join(_quoted(t) for t in story.tags)
        (posts / f"{story.slug}.md").write_text(
            f"---\ntitle: {_quoted(story.title)}\ndate: \"{story.date.isoformat()}\"\n"
            f"standfirst: {_quoted(story.standfirst)}\nauthors: [{_quoted(story.author)}]\n"
            f"topics: [{story.topic}]\ntags: [{tags}]\n---\n\n{story.body}", encoding="utf-8")


PELICAN_CONFIG = """\
AUTHOR = "Bench"
SITENAME = "Bench Briefing"
SITEURL = ""
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = 10
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
RELATIVE_URLS = True
LOAD_CONTENT_CACHE = False
"""


def write_pelican(site: Path, items: list[Story]) -> None:
    """A Pelican site with its default theme; topics become categories."""
    _fresh(site)
    content = site / "content"
    content.mkdir(parents=True)
    (site / "pelicanconf.py").write_text(PELICAN_CONFIG, encoding="utf-8")
    for story in items:
        (content / f"{story.slug}.md").write_text(
            f"Title: {story.title}\nDate: {story.date.strftime('%Y-%m-%d %H:%M')}\n"
            f"Category: {story.topic}\nTags: {', '.join(story.tags)}\n"
            f"Authors: {story.author}\nSummary: {story.standfirst}\nSlug: {story.slug}\n\n"
            f"{story.body}", encoding="utf-8")


def _fresh(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
