"""config.py: the schema, defaults, and every problem reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.config import DEFAULT_EXTENSIONS, DEFAULT_PERMALINK, SCHEMA, Config, load_config
from generator.errors import BuildError, Problem
from tests.conftest import build_site, make_site

MINIMAL = "title: Holdout\nbase_url: https://example.org/\nlanguage: en\ntimezone: Asia/Dubai\n"


def load(tmp_path: Path, text: str) -> Config:
    """Write config.yaml and load it."""
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


def problems(tmp_path: Path, text: str) -> tuple[Problem, ...]:
    """The problems loading this config raises."""
    with pytest.raises(BuildError) as caught:
        load(tmp_path, text)
    return caught.value.problems


def test_minimal_config_is_valid_with_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.title == "Holdout"
    assert config.base_url == "https://example.org/"
    assert config.timezone == "Asia/Dubai"
    assert config.tz.key == "Asia/Dubai"
    assert config.text_direction == "ltr"
    assert config.description == ""
    assert config.topics == ()
    assert config.per_page == 10
    assert dict(config.authors) == {}
    assert config.markdown_extensions == DEFAULT_EXTENSIONS
    assert config.unsafe_html is False
    assert config.permalink == DEFAULT_PERMALINK
    assert config.home_editions == 7
    assert config.feed_count == 50
    assert config.feed_full_content is True


def test_minimal_config_builds(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", config=MINIMAL, articles={
        "a": ({"title": "First story", "date": "2026-11-24T08:00:00"}, "Body text.")})
    report = build_site(site)
    assert report.articles == 1
    assert (site / "output" / "index.html").is_file()
    assert (site / "output" / "2026" / "11" / "24" / "first-story" / "index.html").is_file()


def test_every_schema_key_is_documented() -> None:
    for key, (checker, doc) in SCHEMA.items():
        assert callable(checker) and doc.strip(), key


def test_readme_lists_every_config_key() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for key in SCHEMA:
        assert f"`{key}`" in readme, f"README does not document config key {key!r}"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        load_config(tmp_path)
    assert "briefing init" in caught.value.problems[0].message


def test_required_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, "language: en\n")
    messages = " ".join(p.message for p in found)
    assert "'title'" in messages and "'base_url'" in messages


def test_unknown_key_did_you_mean_with_line(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "per_pgae: 5\n")
    assert len(found) == 1
    assert found[0].line == 5
    assert found[0].path == "config.yaml"
    assert "per_pgae" in found[0].message and "did you mean 'per_page'" in found[0].message


def test_all_problems_reported_together(tmp_path: Path) -> None:
    found = problems(tmp_path, "title: ''\nbase_url: example.org\ntimezone: Mars/Olympus\n"
                               "tittle: x\n")
    assert [p.line for p in found] == [1, 2, 3, 4]


@pytest.mark.parametrize("value", ["example.org", "ftp://example.org/", "https://", "/site/",
                                   "https://example.org/?a=1", "https://example.org/#top", "42"])
def test_bad_base_url(tmp_path: Path, value: str) -> None:
    found = problems(tmp_path, f"title: T\nbase_url: {value!r}\n")
    assert found[0].line == 2 and "base_url" in found[0].message


def test_base_url_gets_trailing_slash(tmp_path: Path) -> None:
    config = load(tmp_path, "title: T\nbase_url: https://example.org/news\n")
    assert config.base_url == "https://example.org/news/"
    assert config.absolute_url("/a/b/") == "https://example.org/news/a/b/"


@pytest.mark.parametrize("value", ["Mars/Olympus", "Europe/Londn", "12", "''"])
def test_bad_timezone(tmp_path: Path, value: str) -> None:
    found = problems(tmp_path, f"title: T\nbase_url: https://e.org/\ntimezone: {value}\n")
    assert found[0].line == 3 and "timezone" in found[0].message


@pytest.mark.parametrize("value", ["english", "e", "zz-ZZ-xx", "12", "en_GB!"])
def test_bad_language(tmp_path: Path, value: str) -> None:
    found = problems(tmp_path, f"title: T\nbase_url: https://e.org/\nlanguage: {value}\n")
    assert found[0].line == 3 and "language" in found[0].message


def test_right_to_left_language(tmp_path: Path) -> None:
    config = load(tmp_path, "title: T\nbase_url: https://e.org/\nlanguage: ar-AE\n")
    assert config.text_direction == "rtl"


@pytest.mark.parametrize(("text", "needle"), [
    ("title: [a]\n", "title"),
    ("description: [a]\n", "description"),
    ("per_page: 0\n", "per_page"),
    ("per_page: true\n", "per_page"),
    ("per_page: ten\n", "per_page"),
    ("home_editions: -1\n", "home_editions"),
    ("unsafe_html: yes please\n", "unsafe_html"),
    ("permalink: '{year}/{slug}'\n", "permalink"),
    ("permalink: '/{year}/{title}/'\n", "permalink"),
    ("permalink: '/{year}/{month}/'\n", "permalink"),
    ("topics: world\n", "topics"),
    ("topics:\n  - slug: World Wide\n    name: World\n", "slug"),
    ("topics:\n  - slug: a\n    name: A\n  - slug: a\n    name: B\n", "twice"),
    ("topics:\n  - slug: a\n", "name"),
    ("topics:\n  - slug: a\n    nmae: A\n", "did you mean 'name'"),
    ("authors: [a]\n", "authors"),
    ("authors:\n  Bad Slug: {name: X}\n", "slug"),
    ("authors:\n  a: {bio: X}\n", "name"),
    ("authors:\n  a: {name: X, url: 'not a url'}\n", "url"),
    ("authors:\n  a: {name: X, boi: Y}\n", "did you mean 'bio'"),
    ("markdown: [extra]\n", "markdown"),
    ("markdown:\n  extensions: extra\n", "extensions"),
    ("markdown:\n  extensions: [no_such_extension_here]\n", "no_such_extension_here"),
    ("markdown:\n  extenions: [extra]\n", "did you mean 'extensions'"),
    ("markdown:\n  extension_configs: [1]\n", "extension_configs"),
    ("feeds: 10\n", "feeds"),
    ("feeds:\n  count: 0\n", "feeds.count"),
    ("feeds:\n  full_content: 1\n", "full_content"),
    ("feeds:\n  cuont: 3\n", "did you mean 'count'"),
    ("import: x\n", "import"),
    ("import:\n  credit_words: Photo\n", "credit_words"),
    ("import:\n  drop_patterns: ['(']\n", "regular expression"),
    ("import:\n  credit_word: [Photo]\n", "did you mean 'credit_words'"),
])
def test_key_validation(tmp_path: Path, text: str, needle: str) -> None:
    found = problems(tmp_path, "title: T\nbase_url: https://e.org/\n" + text)
    assert any(needle in p.message for p in found), found
    assert all(p.line is not None and p.line >= 3 for p in found), found


def test_valid_values_for_every_key(tmp_path: Path) -> None:
    config = load(tmp_path, """\
title: The Ledger
description: Daily.
base_url: https://e.org/
language: en-GB
timezone: Europe/London
topics:
  - slug: world
    name: World
  - Business Desk
per_page: 3
authors:
  amira: {name: Amira Haddad, bio: Reporter., url: 'https://e.org/amira/'}
  joe: Joe Okafor
markdown:
  extensions: [extra, toc]
  extension_configs: {toc: {permalink: true}}
unsafe_html: true
permalink: /{topic}/{slug}/
home_editions: 3
feeds:
  count: 5
  full_content: false
import:
  credit_words: [Photo]
  notice_patterns: ['^Copyright']
  drop_patterns: []
""")
    assert [(t.slug, t.name) for t in config.topics] == [("world", "World"),
                                                         ("business-desk", "Business Desk")]
    assert config.topic("business desk").slug == "business-desk"
    assert config.topic("WORLD").name == "World"
    assert config.topic("nope") is None
    assert config.per_page == 3
    assert config.authors["amira"].url == "https://e.org/amira/"
    assert config.authors["joe"].name == "Joe Okafor"
    assert config.markdown_extensions == ("extra", "toc")
    assert config.markdown_extension_configs["toc"] == {"permalink": True}
    assert config.unsafe_html is True
    assert config.permalink == "/{topic}/{slug}/"
    assert config.home_editions == 3
    assert (config.feed_count, config.feed_full_content) == (5, False)
    assert config.import_settings["credit_words"] == ("Photo",)


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "title: T\nbase_url: [\n")
    assert found[0].path == "config.yaml" and found[0].line is not None
    assert "YAML" in found[0].message


def test_config_not_a_mapping(tmp_path: Path) -> None:
    found = problems(tmp_path, "- a\n- b\n")
    assert "mapping" in found[0].message
