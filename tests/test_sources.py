"""Reading content files: front matter splitting, safe YAML with lines, hostile and broken files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.errors import BuildError
from generator.sources import load_yaml, parse_source, read_content
from tests.conftest import article, build_site, make_site

GOOD = "---\ntitle: A story\ndate: 2026-11-24\n---\n\nBody text.\n"


def parse_bytes(tmp_path: Path, data: bytes):
    """Parse one content file holding `data`."""
    path = tmp_path / "story.md"
    path.write_bytes(data)
    return parse_source(path, "content/story.md")


def only_error(tmp_path: Path, data: bytes):
    """The one error a file with `data` gives."""
    source, problems = parse_bytes(tmp_path, data)
    errors = [p for p in problems if p.is_error]
    assert source is None and len(errors) == 1, problems
    return errors[0]


def test_good_file_keeps_key_lines_and_body_line(tmp_path: Path) -> None:
    source, problems = parse_bytes(tmp_path, GOOD.encode())
    assert problems == [] and source is not None
    assert source.meta.data == {"title": "A story", "date": "2026-11-24"}
    assert source.meta.line_of("date") == 3
    assert source.body_line == 5 and source.body.strip() == "Body text."


def test_bom_and_crlf_are_read_like_plain_utf8(tmp_path: Path) -> None:
    source, problems = parse_bytes(tmp_path, b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert problems == [] and source is not None
    assert source.meta.data["title"] == "A story" and source.meta.line_of("date") == 3
    assert "\r" not in source.body


def test_old_mac_line_ends(tmp_path: Path) -> None:
    source, _ = parse_bytes(tmp_path, GOOD.replace("\n", "\r").encode())
    assert source is not None and source.meta.line_of("date") == 3


def test_decomposed_unicode_is_normalised(tmp_path: Path) -> None:
    source, _ = parse_bytes(tmp_path, GOOD.replace("A story", "Cafe\u0301").encode())
    assert source is not None and source.meta.data["title"] == "Caf\u00e9"


@pytest.mark.parametrize("data, line, words", [
    (b"", 1, "empty"),
    (b"   \n\n", 1, "empty"),
    (b"title: x\n", 1, "no front matter"),
    (b"---\ntitle: x\n\nbody without end\n", 1, "no closing"),
    (b"---\ntitle: caf\xe9\n---\n", 2, "not valid UTF-8"),
    (b"---\ntitle: ok\n---\nbody\n\xff\xfe\n", 5, "not valid UTF-8"),
    ("---\ntitle: x\n---\n".encode("utf-16"), 1, "UTF-16"),
    (b"---\n- a\n- b\n---\n", 2, "must be a mapping"),
    (b"---\njust text\n---\n", 2, "must be a mapping"),
])
def test_broken_files_give_one_clear_error(tmp_path: Path, data: bytes, line: int,
                                           words: str) -> None:
    problem = only_error(tmp_path, data)
    assert problem.line == line and words in problem.message


@pytest.mark.parametrize("front, line, words", [
    ("title: !!python/object/apply:os.system ['echo hi']\n", 2, "!!python/object/apply"),
    ("title: !!python/name:os.system\n", 2, "is not allowed"),
    ("date: 2026-11-24\ntitle: !custom x\n", 3, "'!custom' is not allowed"),
    ("title: a\ndate: b\ntitle: c\n", 4, "duplicate key 'title' (first on line 2)"),
    ("title: 'unclosed\ndate: x\n", 4, "starts on line 2"),
    ("title: a\n  date: b\n", 3, "mapping values are not allowed"),
    ("title:\ta\n\tdate: b\n", 3, "tab"),
    ("priority: " + "9" * 5000 + "\n", 2, "is not a valid int"),
    ("date: !!timestamp yesterday\n", 2, "is not a valid timestamp"),
    ("a: &x [1]\nb: *x\n", 3, "anchors and aliases"),
    ("a: *nothing\n", 2, "undefined alias"),
    ("? [a, b]\n: x\n", 2, "unhashable"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", 2, "invalid YAML"),
])
def test_hostile_and_broken_yaml_is_refused_with_its_line(tmp_path: Path, front: str, line: int,
                                                         words: str) -> None:
    problem = only_error(tmp_path, f"---\n{front}---\n\nBody.\n".encode())
    assert problem.line == line and words in problem.message, problem


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for depth in range(1, 9):
        prev, name = chr(ord("a") + depth - 1), chr(ord("a") + depth)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    source, problems = parse_bytes(tmp_path, ("---\n" + "\n".join(levels) + "\n---\n").encode())
    assert source is None and "anchors and aliases" in problems[0].message


def test_config_may_use_aliases() -> None:
    document, problems = load_yaml("base: &b {name: x}\nother: *b\n", "config.yaml")
    assert problems == [] and document is not None
    assert document.data["other"] == {"name": "x"}


def test_merge_keys_are_not_duplicates() -> None:
    document, problems = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n", "config.yaml")
    assert problems == [] and document is not None and document.data["other"] == {"x": 2}


def test_control_characters_are_removed_with_a_warning(tmp_path: Path) -> None:
    source, problems = parse_bytes(tmp_path, GOOD.replace("Body text.", "Body\x0b te\x00xt.")
                                   .encode())
    assert source is not None and source.body.strip() == "Body text."
    assert [(p.level, p.line) for p in problems] == [("warning", 6)]
    assert "U+000B" in problems[0].message


def test_very_large_article_is_refused_with_a_message(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("generator.sources.MAX_TEXT_BYTES", 1000)
    problem = only_error(tmp_path, (GOOD + "word " * 1000).encode())
    assert "bytes are refused" in problem.message


def test_large_article_within_the_limit_builds(tmp_path: Path) -> None:
    body = "\n\n".join(f"Paragraph {n} with *some* text and a [link](https://example.org/)."
                       for n in range(20000))
    site = make_site(tmp_path / "site", articles={"big": (article("Big one"), body)})
    report = build_site(site)
    assert report.articles == 1


def test_symlinks_leading_outside_content_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd.md").write_text(GOOD, encoding="utf-8")
    (secret / "key.txt").write_text("secret", encoding="utf-8")
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")})
    os.symlink(secret / "passwd.md", site / "content" / "leak.md")
    os.symlink(secret / "key.txt", site / "content" / "key.txt")
    os.symlink(secret, site / "content" / "folder")
    (site / "content" / "pic.jpg").write_bytes(b"jpeg")
    os.symlink(site / "content" / "pic.jpg", site / "content" / "same-pic.jpg")
    content, problems = read_content(site)
    assert [s.rel for s in content.articles] == ["content/a.md"]
    assert [rel for _, rel in content.assets] == ["pic.jpg", "same-pic.jpg"]
    skipped = sorted(p.path for p in problems)
    assert skipped == ["content/folder", "content/key.txt", "content/leak.md"]
    assert all(p.level == "warning" and "outside content/" in p.message for p in problems)
    build_site(site, output=tmp_path / "out")
    assert not list((tmp_path / "out").rglob("key.txt"))


def test_a_fifo_in_content_is_skipped_not_read(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")})
    os.mkfifo(site / "content" / "pipe.md")
    content, problems = read_content(site)
    assert [p.message for p in problems] == ["skipped: not a regular file"]


def test_every_broken_file_is_reported_in_one_build(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"good": (article("Good"), "Body.")},
                     files={"content/empty.md": b"", "content/latin.md": b"---\nt: \xe9\n---\n",
                            "content/open.md": b"---\ntitle: x\n",
                            "content/dup.md": b"---\ntitle: a\ntitle: b\n---\n"})
    with pytest.raises(BuildError) as caught:
        build_site(site)
    paths = sorted({p.path for p in caught.value.problems if p.is_error})
    assert paths == ["content/dup.md", "content/empty.md", "content/latin.md", "content/open.md"]
    assert all(p.line for p in caught.value.problems)
