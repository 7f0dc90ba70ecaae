"""Reading content files: front matter splitting, safe YAML with lines, hostile and broken files."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
import slugify
from hypothesis import given
from hypothesis import strategies as st

import generator
from generator import shortcut, sources
from generator.build import BuildOptions
from generator.cache import CACHE_DIR, FILE_STAMPS_FILE, SOURCE_CACHE_FILE
from generator.errors import BuildError
from generator.pipeline import check
from generator.sources import load_yaml, parse_source, read_content
from tests.conftest import NOW, article, build_site, front_matter_text, make_site

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


# --- The parsed-source cache ---------------------------------------------------------------

CACHED = {
    "a": (article("A", tags=["x", "y"], image={"src": "/p.jpg", "alt": "P"}), "Body *a*."),
    "folder/b": (article("B"), "Body b."),
}


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files whose YAML is parsed from now on (a cache hit parses none)."""
    parsed: list[str] = []
    real = sources.load_yaml

    def counted(text: str, rel: str, *args, **kwargs):
        parsed.append(rel)
        return real(text, rel, *args, **kwargs)

    monkeypatch.setattr(sources, "load_yaml", counted)
    return parsed


def _cache_rows(site: Path) -> int:
    db = sqlite3.connect(site / CACHE_DIR / SOURCE_CACHE_FILE)
    try:
        return db.execute("SELECT count(*) FROM sources").fetchone()[0]
    finally:
        db.close()


def test_unchanged_files_come_from_the_source_cache(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", articles=CACHED, editions={"2026-11-24": ({}, "Hi.")})
    first = read_content(site, use_cache=True)
    parsed = _count_parses(monkeypatch)
    again = read_content(site, use_cache=True)
    assert parsed == []
    assert again == first
    source = {s.rel: s for s in again[0].articles}["content/a.md"]
    assert source.meta.line_of("tags", 1) == 6 and source.meta.line_of("image", "alt") == 9
    assert source.body == "\nBody *a*.\n" and source.body_line == 11
    assert [s.rel for s in again[0].editions] == ["content/editions/2026-11-24.md"]
    assert read_content(site) == first  # and reading without the cache agrees


def test_changed_bytes_miss_and_unused_entries_are_dropped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    read_content(site, use_cache=True)
    (site / "content" / "a.md").write_text(GOOD.replace("A story", "Edited"), encoding="utf-8")
    parsed = _count_parses(monkeypatch)
    content, _ = read_content(site, use_cache=True)
    assert parsed == ["content/a.md"]
    assert {s.rel: s.meta.data["title"] for s in content.articles}["content/a.md"] == "Edited"
    assert _cache_rows(site) == 2
    (site / "content" / "folder" / "b.md").unlink()
    read_content(site, use_cache=True)
    assert _cache_rows(site) == 1


@pytest.mark.parametrize("use_cache", [False, True, True])
def test_sources_carry_their_path_and_the_digest_of_their_bytes(tmp_path: Path,
                                                                use_cache: bool) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)  # twice with the cache: cold, warm
    for _ in range(2 if use_cache else 1):
        content, _ = read_content(site, use_cache=use_cache)
    for source in content.articles:
        raw = (site / source.rel).read_bytes()
        assert source.raw == raw and source.digest == hashlib.sha256(raw).digest()
        assert Path(source.path) == site / source.rel


@pytest.mark.parametrize("use_cache", [False, True])
def test_markdown_files_are_told_by_their_extension_in_any_case(tmp_path: Path,
                                                                 use_cache: bool) -> None:
    text = front_matter_text(article("A"), "Body.")
    names = ["a.md", "b.MD", "c.markdown", "d.MarkDown", "e.md.txt", "f.mdx", "g.md~", ".h.md",
             "i", "j.m", "k.tar.md", "md"]
    site = make_site(tmp_path / "site", files={f"content/{name}": text for name in names})
    content, _ = read_content(site, use_cache=use_cache)
    assert [s.rel for s in content.articles] == [
        f"content/{name}" for name in ("a.md", "b.MD", "c.markdown", "d.MarkDown", "k.tar.md")]
    assert [rel for _, rel in content.assets] == ["e.md.txt", "f.mdx", "i", "j.m", "md"]


def test_the_cache_keeps_ascii_titles_slugs(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": (article("  Ship  runs\n aground "), "Body."), "b": (article("Café"), "Body."),
        "c": (article(2026), "Body."), "d": ({"date": "2026-11-24"}, "Body.")})
    fresh = {s.rel: s.title_slug for s in read_content(site, use_cache=True)[0].articles}
    warm = {s.rel: s.title_slug for s in read_content(site, use_cache=True)[0].articles}
    assert fresh == warm == {"content/a.md": ("Ship runs aground", "ship-runs-aground"),
                             "content/b.md": None, "content/c.md": ("2026", "2026"),
                             "content/d.md": None}
    assert all(s.title_slug is None for s in read_content(site)[0].articles)  # no cache


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_every_ascii_titles_cached_slug_is_accepted_back(title: str) -> None:
    memo = sources.title_memo({"title": title})
    if memo is not None:
        assert sources._memo(list(memo)) == memo


@pytest.mark.parametrize("change", ["version", "code", "slugify"])
def test_changed_parsing_code_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     change: str) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    read_content(site, use_cache=True)
    if change == "version":
        monkeypatch.setattr(generator, "__version__", "999.0")
    elif change == "slugify":  # the entries keep titles' slugs
        monkeypatch.setattr(slugify, "__version__", "999.0")
    else:  # an edited sources.py
        code = tmp_path / "sources.py"
        code.write_bytes(Path(sources.__file__).read_bytes() + b"\n# edited\n")
        monkeypatch.setattr(sources, "__file__", str(code))
    parsed = _count_parses(monkeypatch)
    read_content(site, use_cache=True)
    assert sorted(parsed) == ["content/a.md", "content/folder/b.md"]


# Files whose parse gives warnings or errors, or that JSON cannot hold exactly.
ODD_FILES = {
    "content/control.md": GOOD.replace("Body text.", "Bo\x0bdy.").encode(),
    "content/crlf.md": b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode(),
    "content/nfd.md": GOOD.replace("Body text.", "Cafe\u0301.").encode(),
    "content/dup.md": b"---\ntitle: a\ntitle: b\n---\n",
    "content/dup-again.md": b"---\ntitle: a\ntitle: b\n---\n",
    "content/syntax.md": b"---\ntitle: [unclosed\n---\nBody.\n",
    "content/empty.md": b"",
    "content/list.md": b"---\n- a\n---\n",
    "content/latin.md": b"---\ntitle: \xe9\n---\n",
    "content/utf16.md": "---\ntitle: x\n---\n".encode("utf-16"),
    "content/binary.md": b"---\ntitle: A\ndata: !!binary aGk=\nn: {1: one}\n---\nBody.\n",
    "content/unknown.md": b"---\ntitle: A\ntitel: B\n---\nBody.\n",
}


def test_problems_and_odd_files_are_the_same_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", files=ODD_FILES)
    fresh = read_content(site)
    assert read_content(site, use_cache=True) == fresh
    parsed = _count_parses(monkeypatch)
    cached = read_content(site, use_cache=True)
    assert cached == fresh
    assert parsed == ["content/binary.md"]  # bytes and number keys: never cached
    assert [(p.path, p.line, p.level) for p in cached[1] if p.path.endswith("dup-again.md")] \
        == [("content/dup-again.md", 3, "error")]
    control = {s.rel: s for s in cached[0].articles}["content/control.md"]
    assert control.body.strip() == "Body."
    assert {s.rel: s for s in cached[0].articles}["content/nfd.md"].body.strip() == "Caf\u00e9."


@pytest.mark.parametrize("value", [
    "not json", "[]", "[[], null]", "[[[1, \"m\", \"fatal\"]], null]", "[[], [[], 0, 1]]",
    "[[], [{}, \"9\", \"x\"]]", "[[], [{}, 99999, 1]]", "{\"a\": 1, \"b\": 2}",
    "[[], [[], 0, 1], null]", "[[], [{}, \"9\", \"x\"], null]", "[[], [{}, 99999, 1], null]",
    # a title's slug that is not one slugify makes of an ASCII title
    "[[], [{}, 0, 1], [\"A\", \"Not a slug\"]]", "[[], [{}, 0, 1], [\"A\"]]",
    "[[], [{}, 0, 1], [\"\\u00c9t\\u00e9\", \"ete\"]]", "[[], [{}, 0, 1], [\"A\", 1]]",
    "[[], [{}, 0, 1], [\"A\", \"a--b\"]]", "[[], [{}, 0, 1], {\"A\": \"a\"}]",
])
def test_malformed_entries_are_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            value: str) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")})
    fresh = read_content(site, use_cache=True)
    db = sqlite3.connect(site / CACHE_DIR / SOURCE_CACHE_FILE)
    db.execute("UPDATE sources SET value = ?", (value + "\n[]",))
    db.commit()
    db.close()
    parsed = _count_parses(monkeypatch)
    assert read_content(site, use_cache=True) == fresh
    assert parsed == ["content/a.md"]


def test_malformed_key_lines_only_lose_the_lines(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={"a": (article("A"), "Body.")})
    read_content(site, use_cache=True)
    db = sqlite3.connect(site / CACHE_DIR / SOURCE_CACHE_FILE)
    value = db.execute("SELECT value FROM sources").fetchone()[0]
    db.execute("UPDATE sources SET value = ?", (value.split("\n")[0] + "\n[[\"title\", \"x\"]]",))
    db.commit()
    db.close()
    source = read_content(site, use_cache=True)[0].articles[0]
    assert source.meta.data["title"] == "A" and source.meta.line_of("title") is None


def test_no_cache_and_check_neither_read_nor_write_the_source_cache(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles=CACHED, files={"content/p.jpg": b"jpeg"})
    read_content(site)
    build_site(site, use_cache=False)
    check(BuildOptions(site, now=NOW, jobs=1))
    assert not (site / CACHE_DIR).exists()
    # A cache that disagrees with the files is not read either.
    read_content(site, use_cache=True)
    db = sqlite3.connect(site / CACHE_DIR / SOURCE_CACHE_FILE)
    db.execute("UPDATE sources SET value = replace(value, '\"A\"', '\"Tampered\"')")
    db.commit()
    db.close()
    before = (site / CACHE_DIR / SOURCE_CACHE_FILE).read_bytes()
    content, _ = read_content(site)
    assert "Tampered" not in {s.meta.data["title"] for s in content.articles}
    report = check(BuildOptions(site, now=NOW, jobs=1))
    assert report.articles == 2
    assert (site / CACHE_DIR / SOURCE_CACHE_FILE).read_bytes() == before


def test_a_rebuild_parses_only_the_edited_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", articles=CACHED, files={"content/p.jpg": b"jpeg"})
    build_site(site)
    assert (site / CACHE_DIR / SOURCE_CACHE_FILE).is_file()
    (site / "content" / "folder" / "b.md").write_text(
        "---\ntitle: B again\ndate: 2026-11-24\n---\nEdited.\n", encoding="utf-8")
    parsed = _count_parses(monkeypatch)
    report = build_site(site)
    assert parsed == ["content/folder/b.md"] and report.articles == 2


def test_quick_control_character_test_never_misses_one() -> None:
    """`_may_hold_forbidden` may only say "none" for bytes whose text has none: every code
    point the regex removes makes it say "maybe"; ordinary text (curly quotes, Arabic) does
    not."""
    for point in range(0x110000):
        if 0xD800 <= point < 0xE000:
            continue
        char = chr(point)
        if sources._FORBIDDEN.match(char):
            assert sources._may_hold_forbidden(f"ok {char} ok".encode()), hex(point)
    assert not sources._may_hold_forbidden("It’s “news”: مرحبا\tend\r\n".encode())


# --- Stat identities: files not read again -------------------------------------------------

def _later(monkeypatch: pytest.MonkeyPatch, seconds: float = 10) -> None:
    """Read as if the build ran `seconds` after the files were last changed (not racily)."""
    now = sources._clock()
    monkeypatch.setattr(sources, "_clock", lambda: now + int(seconds * 1e9))
    monkeypatch.setattr(shortcut, "_clock", lambda: now + int(seconds * 1e9))


def _kinds(site: Path, known=lambda rel, digest: True, shared: bool = False
           ) -> dict[str, object]:
    """The articles read_content gives, with the no-change fingerprint's stats of content/
    when `shared` (as a build passes them), else with a stat of its own."""
    seen = None
    if shared:
        fingerprint = shortcut.input_fingerprint(site, [], site / "output", ())
        assert fingerprint is not None and fingerprint.content is not None
        seen = fingerprint.content
    content, problems = read_content(site, use_cache=True, known=known, seen=seen)
    assert problems == []
    return {s.rel: s for s in content.articles}


# Each stat identity test runs with read_content's own stat and with the fingerprint's.
SHARED = pytest.mark.parametrize("shared", [False, True], ids=["own-stat", "shared-stat"])


def _stamp(stat: os.stat_result) -> str:
    """A stat identity as the stamp rows hold it."""
    return (f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns} {stat.st_ino} "
            f"{stat.st_dev}")


def _same_size_edit(path: Path) -> None:
    """Change one character of the title, keeping the size, the mtime and the atime."""
    before = os.stat(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: A", "title: Z"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


@SHARED
def test_a_file_with_its_recorded_stat_identity_is_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    _later(monkeypatch)
    first = _kinds(site, shared=shared)
    assert all(isinstance(s, sources.Source) for s in first.values())
    again = _kinds(site, shared=shared)
    unread = again["content/a.md"]
    assert isinstance(unread, sources.UnreadSource)
    assert unread.digest == first["content/a.md"].digest
    assert unread == sources.UnreadSource(unread.path, unread.rel, unread.digest)
    loaded, problems = unread.load()
    assert problems == [] and loaded == first["content/a.md"]
    # Only where the caller needs no Source, and never without the cache.
    assert isinstance(_kinds(site, known=lambda rel, digest: False, shared=shared)[
        "content/a.md"], sources.Source)
    assert all(isinstance(s, sources.Source) for s in read_content(site)[0].articles)


@SHARED
def test_a_same_size_edit_keeping_the_mtime_is_seen(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    shared: bool) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    _later(monkeypatch)
    _kinds(site, shared=shared)
    _same_size_edit(site / "content" / "a.md")  # the ctime moves on
    source = _kinds(site, shared=shared)["content/a.md"]
    assert isinstance(source, sources.Source) and source.meta.data["title"] == "Z"


@SHARED
def test_a_file_replaced_by_another_of_the_same_size_and_mtime_is_seen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    path = site / "content" / "a.md"
    _later(monkeypatch)
    _kinds(site, shared=shared)
    before = os.stat(path)
    other = site / "other.tmp"
    other.write_text(path.read_text(encoding="utf-8").replace("title: A", "title: Z"),
                     encoding="utf-8")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, path)
    source = _kinds(site, shared=shared)["content/a.md"]
    assert isinstance(source, sources.Source) and source.meta.data["title"] == "Z"


@SHARED
def test_a_racily_clean_file_is_read_again(tmp_path: Path, shared: bool) -> None:
    """A file changed within RACY_NS of when its identity was recorded is read and hashed even
    when its identity looks the same (a write in the same timestamp granule): the recorded row
    is made to match the edited file's identity, as a coarse filesystem would leave it."""
    site = make_site(tmp_path / "site", articles=CACHED)
    path = site / "content" / "a.md"
    _kinds(site, shared=shared)  # recorded now: the file changed within the last 2 s
    _same_size_edit(path)
    stat = os.stat(path)
    db = sqlite3.connect(site / CACHE_DIR / FILE_STAMPS_FILE)
    db.execute("UPDATE files SET stamp = ? WHERE key = 'content/a.md'", (_stamp(stat),))
    db.commit()
    db.close()
    source = _kinds(site, shared=shared)["content/a.md"]
    assert isinstance(source, sources.Source) and source.meta.data["title"] == "Z"


@SHARED
def test_a_stale_row_that_is_not_racy_is_trusted(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 shared: bool) -> None:
    """The counterpart of the test above, so that it cannot pass for another reason: the same
    doctored row recorded long after the file's times is trusted (and the edit missed)."""
    site = make_site(tmp_path / "site", articles=CACHED)
    path = site / "content" / "a.md"
    _kinds(site)
    _same_size_edit(path)
    stat = os.stat(path)
    db = sqlite3.connect(site / CACHE_DIR / FILE_STAMPS_FILE)
    db.execute("UPDATE files SET stamp = ?, recorded_ns = ? WHERE key = 'content/a.md'",
               (_stamp(stat), stat.st_ctime_ns + 10 ** 10))
    db.commit()
    db.close()
    assert isinstance(_kinds(site, shared=shared)["content/a.md"], sources.UnreadSource)


@SHARED
def test_touching_the_mtime_back_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         shared: bool) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    path = site / "content" / "a.md"
    _later(monkeypatch)
    _kinds(site, shared=shared)
    before = os.stat(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns - 10 ** 9))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # back: only ctime differs
    assert isinstance(_kinds(site, shared=shared)["content/a.md"], sources.Source)


def test_the_fingerprints_stats_spare_a_stat_per_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the no-change fingerprint's pass, a file with a row is not stat'ed again; a file
    that pass did not see (added since) is."""
    site = make_site(tmp_path / "site", articles=CACHED)
    _later(monkeypatch)
    _kinds(site)
    seen = shortcut.input_fingerprint(site, [], site / "output", ()).content
    stats: list[str] = []
    real = os.stat
    monkeypatch.setattr(sources.os, "stat", lambda path, *a, **k: (
        stats.append(os.fspath(path)), real(path, *a, **k))[1])
    content, _ = read_content(site, use_cache=True, known=lambda rel, digest: True, seen=seen)
    assert all(isinstance(s, sources.UnreadSource) for s in content.articles)
    assert not [path for path in stats if path.endswith(".md")]
    partial = dataclasses.replace(seen, files={
        rel: stat for rel, stat in seen.files.items() if rel != "content/a.md"})
    read_content(site, use_cache=True, known=lambda rel, digest: True, seen=partial)
    assert [path for path in stats if path.endswith(".md")] == [
        str(site / "content" / "a.md")]


def test_a_malformed_stamp_row_is_not_trusted(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    _later(monkeypatch)
    _kinds(site)
    db = sqlite3.connect(site / CACHE_DIR / FILE_STAMPS_FILE)
    db.execute("UPDATE files SET digest = x'00'")
    db.commit()
    db.close()
    assert all(isinstance(s, sources.Source) for s in _kinds(site).values())


def test_an_unread_source_that_changed_since_is_an_error(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles=CACHED)
    path = site / "content" / "a.md"
    unread = sources.UnreadSource(str(path), "content/a.md", b"\0" * 32)
    loaded, problems = unread.load()
    assert loaded is None and [p.message for p in problems] == [
        "the file changed while the site was being built: build again"]


# --- Front matter read in one walk, and the content reader's hook ----------------------------

PLAIN_AND_NOT = [
    'title: "A"\ndate: 2026-11-24\ntags: [a, "b"]\nauthor:\n  - X\n',
    "a: 1\nb: 0x1f\nc: 1_000\nd: 1:30\ne: 1.5\nf: .nan\ng: yes\nh: ~\ni: ''\nj: 9e9\n",
    "nested: {a: [1, {b: c}], d: {}}\nlist: [[], [x]]\n",
    "a: 1\na: 2\n",  # a key twice
    "a: &x [1]\nb: *x\n",  # an alias
    "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",  # a merge key
    "1: a\ntrue: b\nnull: c\n",  # keys that are not text
    "a: !!binary aGk=\nb: !!str 5\nc: !!int '7'\n",  # explicit tags
    "? [a]\n: b\n",  # a sequence as a key
    "=: x\n",  # the 'value' key
    "a: " + "9" * 5000 + "\n",  # a number no constructor takes
    "x: " + "[" * 40 + "]" * 40 + "\n",  # deeper than the one walk goes
    "just text\n",
    "- a\n- b\n",
]


@pytest.mark.parametrize("text", PLAIN_AND_NOT)
@pytest.mark.parametrize("aliases", [False, True])
def test_front_matter_read_in_one_walk_is_what_the_full_check_makes(
        monkeypatch: pytest.MonkeyPatch, text: str, aliases: bool) -> None:
    """The one walk over the nodes gives the same data, key lines and problems as the node
    check and the constructor (or leaves the document to them)."""
    fast = load_yaml(text, "content/a.md", 2, aliases)
    monkeypatch.setattr(sources, "_plain_document", lambda *args: sources._UNUSUAL)
    full = load_yaml(text, "content/a.md", 2, aliases)
    assert repr(fast[1]) == repr(full[1])
    if full[0] is None:
        assert fast[0] is None
    else:
        assert fast[0] is not None
        assert repr(fast[0].data) == repr(full[0].data)
        assert dict(fast[0].lines) == dict(full[0].lines)


def test_reading_front_matter_leaves_no_garbage_for_the_collector() -> None:
    """No reference cycle per file (a recursive closure made one, keeping every loader and
    its nodes alive until a full collection: 45 MB more at the peak of a 10,000-article
    build)."""
    import gc
    gc.collect()
    gc.disable()
    try:
        for text in PLAIN_AND_NOT:
            load_yaml(text, "content/a.md", 2, False)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_the_reader_tells_its_hook_of_each_article_as_it_is_read(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", articles={
        "a": (article("A"), "Body."), "b": ("title: [unclosed\n", "Body."),
        "c": (article("C", colour="red"), "Body.")},
        editions={"2026-11-24": ({"title": "Ed"}, "Intro.")})
    told: list[tuple[str | None, list[str]]] = []
    content, problems = read_content(site, hook=lambda source, found: told.append(
        (source.rel if source is not None else None, [p.path for p in found])))
    assert told == [("content/a.md", []), (None, ["content/b.md"]), ("content/c.md", [])]
    assert [s.rel for s in content.articles] == ["content/a.md", "content/c.md"]
    assert [p.path for p in problems] == ["content/b.md"]


@pytest.mark.parametrize("value", ["", "a", "1", "0x1f", "1_000", "1:30", "-1.5e3", ".inf",
                                   "-.INF", ".NaN", "yes", "No", "ON", "off", "null", "~",
                                   "Null", "2026-11-24", "=", "<<", "+1", "0o17", "0b101",
                                   "é", "true", "False", "1.2.3", "- a"])
def test_the_loaders_resolver_finds_what_pyyaml_finds(value: str) -> None:
    """The loader's own resolve (each first character's resolvers joined once) gives PyYAML's
    tag for every kind of node, plain or quoted."""
    import yaml.resolver
    loader = sources._Loader("")
    try:
        for kind in (yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode):
            for implicit in ((True, False), (False, True), (False, False)):
                assert loader.resolve(kind, value, implicit) == yaml.resolver.BaseResolver.resolve(
                    loader, kind, value, implicit)
    finally:
        loader.dispose()
