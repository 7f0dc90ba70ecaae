"""models.py: every front matter field of an article and of an edition note."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from slugify import slugify

from generator.config import Config, load_config
from generator.markup import RenderedBody
from generator.models import Article, EditionNote, parse_datetime, permalink_for, title_slug
from generator.sources import Source, load_yaml

CONFIG = {
    "title": "T", "base_url": "https://example.org/", "timezone": "Asia/Dubai",
    "topics": [{"slug": "world", "name": "World"}, {"slug": "business", "name": "Money Matters"}],
    "authors": {"amira-haddad": {"name": "Amira Haddad", "bio": "Reporter.",
                                 "url": "https://example.org/amira/"}},
}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    (tmp_path / "content" / "images").mkdir(parents=True)
    (tmp_path / "content" / "images" / "a.jpg").write_bytes(b"jpeg")
    return load_config(tmp_path)


def source(front: str, body: str = "Body.", rel: str = "content/story.md") -> Source:
    """A Source as sources.py makes it: front matter starting at line 2."""
    doc, problems = load_yaml(front, rel, first_line=2)
    assert doc is not None and not problems
    return Source(Path(rel), rel, doc, body, front.count("\n") + 3)


def parse(config: Config, front: str) -> tuple[Article | None, list]:
    return Article.from_source(source(front), config)


def ok(config: Config, front: str) -> Article:
    article, problems = parse(config, front)
    assert article is not None, problems
    assert not [p for p in problems if p.is_error]
    return article


def errors(config: Config, front: str) -> list:
    article, problems = parse(config, front)
    found = [p for p in problems if p.is_error]
    assert article is None and found
    return found


BASE = "title: Ship runs aground\ndate: 2026-11-24T06:00:00Z\n"


def test_minimal_article(config: Config) -> None:
    article = ok(config, BASE)
    assert article.title == "Ship runs aground"
    assert article.date == datetime(2026, 11, 24, 6, tzinfo=UTC)
    assert article.slug == "ship-runs-aground"
    assert article.url == "/2026/11/24/ship-runs-aground/"
    assert article.path == "content/story.md"
    assert (article.authors, article.tags, article.topic, article.image) == ((), (), None, None)
    assert (article.draft, article.lead, article.priority) == (False, False, 0)


@pytest.mark.parametrize("front", ["date: 2026-11-24\n", "title: A\n",
                                   "title: ''\ndate: 2026-11-24\n"])
def test_required_fields(config: Config, front: str) -> None:
    found = errors(config, front)
    assert any("title" in p.message or "date" in p.message for p in found)


def test_title_is_text_and_whitespace_collapsed(config: Config) -> None:
    assert ok(config, 'title: "  Two\\n  lines  "\ndate: 2026-11-24\n').title == "Two lines"
    assert errors(config, "title: [a]\ndate: 2026-11-24\n")[0].line == 2


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "24/11/2026", "[2026]"])
def test_bad_dates_name_the_line(config: Config, value: str) -> None:
    found = errors(config, f"title: A\ndate: {value}\n")
    assert found[0].line == 3 and "ISO 8601" in found[0].message


def test_naive_dates_are_read_in_the_site_zone(config: Config) -> None:
    article = ok(config, "title: A\ndate: 2026-11-24T08:00:00\n")
    assert article.date.utcoffset().total_seconds() == 4 * 3600
    assert article.date.astimezone(UTC).hour == 4
    day_only = ok(config, "title: A\ndate: 2026-11-24\n")
    assert day_only.date.isoformat() == "2026-11-24T00:00:00+04:00"


def test_offset_date_kept_and_url_uses_local_day(config: Config) -> None:
    # 23:30 UTC is 03:30 the next day in Dubai: the permalink uses the local day.
    article = ok(config, "title: Late\ndate: 2026-11-24T23:30:00Z\n")
    assert article.date == datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert article.url == "/2026/11/25/late/"


def test_updated_before_date_is_an_error(config: Config) -> None:
    found = errors(config, BASE + "updated: 2026-11-23T06:00:00Z\n")
    assert found[0].line == 4 and "before" in found[0].message
    article = ok(config, BASE + "updated: 2026-11-24T09:00:00Z\n")
    assert article.updated == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert article.modified == article.updated


def test_modified_is_the_date_unless_something_came_later(config: Config) -> None:
    plain = ok(config, BASE)
    assert plain.modified is plain.date
    same_moment = ok(config, BASE + "updated: 2026-11-24T10:00:00+04:00\n")
    assert same_moment.updated == same_moment.date and same_moment.modified is same_moment.date
    later = ok(config, BASE + "updated: 2026-11-24T09:00:00Z\n"
               "corrections:\n  - {date: 2026-11-24T08:00:00Z, text: Fixed.}\n")
    assert later.modified is later.updated


@pytest.mark.parametrize("title", [
    "Ship runs aground", "Fish &amp; chips", "Fish &#38; chips &#x26; peas", "Q&A: rates",
    "Café crème", "Ｆｕｌｌ＆ｗｉｄｔｈ", "It's 1,000 ships", "&", "--", "a" * 200,
])
def test_title_slug_is_slugify(title: str) -> None:
    assert title_slug(title) == slugify(title, max_length=80, word_boundary=True)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ09 &#;x-'_,.éＡ＆\u00a0"), max_size=120))
def test_title_slug_is_slugify_for_any_title(title: str) -> None:
    assert title_slug(title) == slugify(title, max_length=80, word_boundary=True)


def test_with_body_lets_the_markdown_go(config: Config) -> None:
    rendered = ok(config, BASE).with_body(RenderedBody("<p>Body.</p>", "Body.", 1))
    assert rendered.body == "" and rendered.html == "<p>Body.</p>"


def test_a_cached_title_slug_is_used_only_for_its_own_title(config: Config) -> None:
    cached = dataclasses.replace(source(BASE), title_slug=("Ship runs aground", "from-cache"))
    article, _ = Article.from_source(cached, config)
    assert article is not None and article.slug == "from-cache"
    other = dataclasses.replace(source(BASE), title_slug=("Another title", "another-title"))
    article, _ = Article.from_source(other, config)
    assert article is not None and article.slug == "ship-runs-aground"
    empty = dataclasses.replace(source(BASE), title_slug=("Ship runs aground", ""))
    assert Article.from_source(empty, config)[0] is None  # as when slugify makes nothing


@pytest.mark.parametrize("front", [
    BASE, BASE + "tags: [a, b]\nauthor: [Amira Haddad, Sam Lee]\ntopic: world\nlead: true\n"
    "priority: 2\nupdated: 2026-11-24T09:00:00Z\nimage: {src: /images/a.jpg, alt: A}\n"
    "source: {name: Wire, url: 'https://wire.example/'}\ntranslation: human\n"
    "corrections: [{date: 2026-11-24T10:00:00Z, text: Fixed.}]\nstandfirst: S\nsummary: Sum\n"
    "location: Here\ndraft: true\nslug: my-slug\n",
])
def test_a_checked_article_is_the_one_init_would_make(config: Config, front: str) -> None:
    article = ok(config, front)
    made = Article(**{f.name: getattr(article, f.name) for f in dataclasses.fields(Article)})
    assert article == made and hash(article) == hash(made)
    assert list(vars(article).items()) == list(vars(made).items())
    assert pickle.dumps(article) == pickle.dumps(made)


def test_with_body_is_the_article_init_would_make(config: Config) -> None:
    article = ok(config, BASE + "tags: [a, b]\nauthor: Amira Haddad\ntopic: world\n")
    rendered = article.with_body(RenderedBody("<p>Body.</p>", "Body.", 3))
    made = dataclasses.replace(article, html="<p>Body.</p>", words=3, summary="Body.", body="")
    assert rendered == made and hash(rendered) == hash(made)
    # The same attributes in the same order: the page records digest pickles of articles.
    assert list(vars(rendered).items()) == list(vars(made).items())
    assert pickle.dumps(rendered) == pickle.dumps(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rendered.html = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("value", "good"), [
    ("my-story", True), ("story-2", True), ("My-Story", False), ("my--story", False),
    ("-story", False), ("story-", False), ("my story", False), ("a/b", False), ("'12'", True),
])
def test_slug_rules(config: Config, value: str, good: bool) -> None:
    front = BASE + f"slug: {value}\n"
    if good:
        assert ok(config, front).slug == value.strip("'")
    else:
        assert "slug" in errors(config, front)[0].message


def test_slug_from_title(config: Config) -> None:
    title = "title: Café prices rise 5%!\ndate: 2026-11-24\n"
    assert ok(config, title).slug == "cafe-prices-rise-5"
    assert "slug" in errors(config, "title: '!!!'\ndate: 2026-11-24\n")[0].message


@pytest.mark.parametrize("value", ["world", "World", "business", "Money Matters", "money matters"])
def test_topic_by_slug_or_name(config: Config, value: str) -> None:
    topic = ok(config, BASE + f"topic: {value}\n").topic
    assert topic is not None and topic.slug in ("world", "business")


def test_unknown_topic_suggests(config: Config) -> None:
    found = errors(config, BASE + "topic: wrold\n")
    assert found[0].line == 4 and "did you mean 'world'" in found[0].message


def test_author_string_list_and_configured(config: Config) -> None:
    one = ok(config, BASE + "author: Amira Haddad\n").authors
    assert [(a.slug, a.name, a.bio, a.url) for a in one] == [
        ("amira-haddad", "Amira Haddad", "Reporter.", "https://example.org/amira/")]
    by_slug = ok(config, BASE + "author: amira-haddad\n").authors
    assert by_slug[0].name == "Amira Haddad"
    two = ok(config, BASE + "author: [Amira Haddad, José Núñez]\n").authors
    assert [(a.slug, a.name, a.bio) for a in two] == [
        ("amira-haddad", "Amira Haddad", "Reporter."), ("jose-nunez", "José Núñez", "")]
    assert errors(config, BASE + "author: {name: x}\n")[0].line == 4
    assert errors(config, BASE + "author:\n  - Amira\n  - 3\n")[0].line == 6


def test_tags(config: Config) -> None:
    tags = ok(config, BASE + "tags: [Marrak Strait, shipping, marrak strait, 2026]\n").tags
    assert [(t.slug, t.name) for t in tags] == [
        ("marrak-strait", "Marrak Strait"), ("shipping", "shipping"), ("2026", "2026")]
    assert [t.slug for t in ok(config, BASE + "tags: solo\n").tags] == ["solo"]
    assert "tag" in errors(config, BASE + "tags: ['!!']\n")[0].message
    assert errors(config, BASE + "tags: {a: b}\n")[0].line == 4


def test_image_fields(config: Config) -> None:
    article = ok(config, BASE + "image:\n  src: images/a.jpg\n  alt: A ship\n"
                                "  caption: The ship.\n  credit: Agency\n")
    image = article.image
    assert (image.src, image.alt, image.caption, image.credit) == (
        "/images/a.jpg", "A ship", "The ship.", "Agency")
    remote = ok(config, BASE + "image: {src: 'https://cdn.example.org/x.jpg', alt: X}\n")
    assert remote.image.src == "https://cdn.example.org/x.jpg"
    caption_only = ok(config, BASE + "image: {caption: No picture}\n").image
    assert (caption_only.src, caption_only.caption) == ("", "No picture")


def test_missing_image_alt_is_a_warning(config: Config) -> None:
    article, problems = parse(config, BASE + "image:\n  src: images/a.jpg\n")
    assert article is not None
    alt = [p for p in problems if "alt" in p.message]
    assert alt[0].line == 5 and alt[0].level == "warning"


@pytest.mark.parametrize("front", [
    "image: {src: '../secret.jpg', alt: x}\n", "image: {src: 'javascript:alert(1)', alt: x}\n",
    "image: [a]\n", "image: {alt: x}\n", "image: {src: a.jpg, alt: [x]}\n",
])
def test_bad_images(config: Config, front: str) -> None:
    assert "image" in errors(config, BASE + front)[0].message


def test_missing_image_file_is_a_warning(config: Config) -> None:
    article, problems = parse(config, BASE + "image: {src: images/none.jpg, alt: x}\n")
    assert article is not None
    assert [p.level for p in problems] == ["warning"] and "does not exist" in problems[0].message


def test_corrections(config: Config) -> None:
    article = ok(config, BASE + "corrections:\n"
                 "  - {date: 2026-11-26, text: Second.}\n"
                 "  - {date: 2026-11-25T10:00:00Z, text: First.}\n")
    assert [c.text for c in article.corrections] == ["First.", "Second."]
    assert article.modified == article.corrections[-1].date
    found = errors(config, BASE + "corrections:\n  - {date: 2026-11-01, text: Early.}\n")
    assert found[0].line == 5 and "before" in found[0].message
    assert errors(config, BASE + "corrections:\n  - {text: No date}\n")[0].line == 5
    assert errors(config, BASE + "corrections: fixed\n")[0].line == 4


def test_source_attribution(config: Config) -> None:
    assert ok(config, BASE + "source: Wire Agency\n").source.name == "Wire Agency"
    full = ok(config, BASE + "source: {name: Wire, url: 'https://wire.example/x'}\n").source
    assert (full.name, full.url) == ("Wire", "https://wire.example/x")
    assert "url" in errors(config, BASE + "source: {name: W, url: 'ftp://x'}\n")[0].message


@pytest.mark.parametrize(("front", "field"), [
    ("draft: maybe\n", "draft"), ("lead: 1\n", "lead"), ("priority: high\n", "priority"),
    ("priority: true\n", "priority"), ("translation: robot\n", "translation"),
    ("standfirst: [x]\n", "standfirst"), ("summary: {a: b}\n", "summary"),
    ("location: [x]\n", "location"),
])
def test_field_types(config: Config, front: str, field: str) -> None:
    found = errors(config, BASE + front)
    assert found[0].line == 4 and field in found[0].message


def test_optional_fields(config: Config) -> None:
    article = ok(config, BASE + "standfirst: Short.\nsummary: Sum.\nlocation: PORT AZEL\n"
                 "translation: machine\nlead: true\npriority: 5\ndraft: true\n")
    assert (article.standfirst, article.summary, article.location) == ("Short.", "Sum.",
                                                                        "PORT AZEL")
    assert (article.translation, article.lead, article.priority, article.draft) == (
        "machine", True, 5, True)


def test_unknown_field_is_a_warning_with_suggestion(config: Config) -> None:
    article, problems = parse(config, BASE + "tittle: x\n")
    assert article is not None
    assert problems[0].level == "warning" and problems[0].line == 4
    assert "did you mean 'title'" in problems[0].message


def test_all_problems_reported_together(config: Config) -> None:
    found = errors(config, "title: A\ndate: nope\ntopic: none\ndraft: 3\n")
    assert [p.line for p in found] == [3, 4, 5]


def test_with_body_derives_summary_and_reading_time(config: Config) -> None:
    article = ok(config, BASE)
    rendered = article.with_body(RenderedBody("<p>First para.</p>", "First para.", 460))
    assert rendered.summary == "First para."
    assert rendered.reading_minutes == 2
    with_standfirst = ok(config, BASE + "standfirst: Stand.\n").with_body(
        RenderedBody("<p>x</p>", "x", 1))
    assert with_standfirst.summary == "Stand." and with_standfirst.reading_minutes == 1


def test_parse_datetime_and_permalink(config: Config) -> None:
    tz = config.tz
    assert parse_datetime("2026-11-24T10:00:00z", tz).tzinfo is not None
    assert parse_datetime(20261124, tz) is None
    assert parse_datetime("not a date", tz) is None
    when = datetime(2026, 1, 2, 3, tzinfo=UTC)
    assert permalink_for("/{topic}/{year}/{month}/{day}/{slug}/", when, "s", None) == (
        "/news/2026/01/02/s/")


def test_edition_note(config: Config) -> None:
    src = source("title: A quiet day\nauthor: The editor\nclosing: A *comet*.\n",
                 "Good morning.", rel="content/editions/2026-11-24.md")
    note, problems = EditionNote.from_source(src, config)
    assert not problems
    assert (note.day.isoformat(), note.title, note.byline, note.intro, note.closing) == (
        "2026-11-24", "A quiet day", "The editor", "Good morning.", "A *comet*.")


def test_edition_note_problems(config: Config) -> None:
    bad_name = source("title: x\n", rel="content/editions/monday.md")
    assert EditionNote.from_source(bad_name, config)[0] is None
    note, problems = EditionNote.from_source(
        source("titel: x\n", rel="content/editions/2026-11-24.md"), config)
    assert note is not None and "did you mean 'title'" in problems[0].message
    note, problems = EditionNote.from_source(
        source("closing: [x]\n", rel="content/editions/2026-11-24.md"), config)
    assert note is None and problems[0].line == 2


# --- The article cache's entries and keys ---------------------------------------------------

FULL_FRONT = """title: A full story
date: 2026-11-24T08:00:00
updated: 2026-11-24T10:00:00+04:00
standfirst: The standfirst.
summary: A summary.
author: [Amira Haddad, Sam Lee, Sam Lee]
topic: Money Matters
tags: [Oil, oil, Gas prices]
image: {src: /images/a.jpg, alt: A, caption: C, credit: D}
location: Dubai
source: {name: Wire, url: "https://wire.example/"}
translation: human
lead: true
priority: 2
corrections: [{date: 2026-11-25T09:00:00Z, text: Fixed.}, {date: 2026-11-26, text: Later.}]
draft: false
wrong: field
"""


def _entry(config: Config, front: str, body: str = "Body."):
    from generator.models import check_article
    return check_article(source(front, body), config)


def _strict(article: Article) -> list:
    """Every field, with each date's zone object as well (equality ignores zones)."""
    values = []
    for value in [*vars(article).values(), *(c.date for c in article.corrections)]:
        values.append((value, value.tzinfo) if isinstance(value, datetime) else value)
    return values


def test_a_cached_check_gives_back_the_same_article_and_problems(config: Config) -> None:
    from generator.models import decode_checked
    article, problems, entry = _entry(config, FULL_FRONT, "Body *here*.")
    assert article is not None and entry is not None and problems  # 'wrong' and 'image' warn
    again = decode_checked(entry, source(FULL_FRONT, "Body *here*."), config)
    assert again is not None
    assert again[1] == problems
    assert _strict(again[0]) == _strict(article)
    assert pickle.dumps(again[0]) == pickle.dumps(article)
    assert again[0].topic is config.topics[1]


def test_a_check_with_errors_is_cached_as_its_problems(config: Config) -> None:
    from generator.models import decode_checked
    front = "title: T\ndate: soon\n"
    article, problems, entry = _entry(config, front)
    assert article is None and entry is not None
    assert decode_checked(entry, source(front), config) == (None, problems)


PLAIN_FRONT = ("title: T\ndate: 2026-11-24T08:00:00\nauthor: [A B, C D]\ntopic: world\n"
               "tags: [x, y]\npriority: -2\nlead: true\n")
# Entry fields after the JSON part: title, date, slug, url, body line, updated, standfirst,
# summary, authors, topic, tags, location, translation, lead, priority, draft.
FIELD = {name: index for index, name in enumerate(
    ["head", "title", "date", "slug", "url", "body_line", "updated", "standfirst", "summary",
     "authors", "topic", "tags", "location", "translation", "lead", "priority", "draft"])}


@pytest.mark.parametrize("field, value", [
    ("date", "x2026-11-24T08:00:00"), ("date", ""), ("updated", "soon"), ("topic", "nope"),
    ("body_line", "3 "), ("body_line", "03"), ("body_line", "x"), ("priority", "1.5"),
    ("priority", "+2"), ("lead", "2"), ("draft", ""), ("tags", "x\x1e"), ("tags", "!!!"),
    ("head", '[[[1,"m","error"]],[],null,null,[]]'), ("head", "[[],[],null,null,[]] x"),
    ("head", '[[],[],["/a.jpg","alt","caption"],null,[]]'), ("head", '[[],[],"abcd",null,[]]'),
    ("head", '[[],[],null,"wire",[]]'), ("head", '[[],[],null,null,[["z2026",1]]]'),
    ("head", '[[[1,"m","fatal"]],[],null,null,[]]'), ("head", "{}"),
])
def test_a_malformed_article_entry_is_a_miss(config: Config, field: str, value: str) -> None:
    """Each field of a good entry, spoilt on its own, makes the entry a miss."""
    from generator.models import FIELD_SEP, decode_checked
    article, _, entry = _entry(config, PLAIN_FRONT)
    assert entry is not None and article is not None
    assert decode_checked(entry, source(PLAIN_FRONT), config) == (article, [])
    parts = entry.split(FIELD_SEP)
    parts[FIELD[field]] = value
    assert decode_checked(FIELD_SEP.join(parts), source(PLAIN_FRONT), config) is None


@pytest.mark.parametrize("value", [
    "", "not json", "[]", "[[],[],null,null,[]]", '[[[1,"m","warning"]],[],null,null,[]]',
    '[[[1,"m","error"]],[],["/a.jpg","","",""],null,[]]',
])
def test_a_malformed_entry_without_an_article_is_a_miss(config: Config, value: str) -> None:
    """An entry of its JSON part alone stands for a file whose check had an error."""
    from generator.models import FIELD_SEP, decode_checked
    article, _, entry = _entry(config, PLAIN_FRONT)
    assert decode_checked(value, source("title: T\n"), config) is None
    parts = entry.split(FIELD_SEP)
    assert decode_checked(FIELD_SEP.join(parts[:-1]), source(PLAIN_FRONT), config) is None
    assert decode_checked(FIELD_SEP.join([*parts, "0"]), source(PLAIN_FRONT), config) is None


@pytest.mark.parametrize("front", [
    'title: "A\\x1fB"\n', 'title: T\ntags: ["a\\x1eb"]\n', 'title: T\ntags: ["c\\x1fd"]\n',
    'title: T\nauthor: "A\\x1eB"\n', 'title: T\nlocation: "X\\x1fY"\n'])
def test_text_holding_a_separator_is_given_back_or_not_kept(config: Config, front: str) -> None:
    """Text can hold the entry's separators only through a YAML escape. Most fields read them
    as spaces; a tag's name is kept as written, so such an article is checked every build
    rather than kept in a form that would not give it back."""
    from generator.models import decode_checked
    article, problems, entry = _entry(config, front + "date: 2026-11-24\n")
    assert article is not None
    if "tags" in front:
        assert entry is None
    else:
        assert entry is not None
        again = decode_checked(entry, source(front + "date: 2026-11-24\n"), config)
        assert again == (article, problems)


def test_an_entry_is_a_miss_once_an_image_it_looked_for_comes_or_goes(config: Config) -> None:
    from generator.models import decode_checked
    _, _, entry = _entry(config, FULL_FRONT)
    assert entry is not None
    (config.root / "content" / "images" / "a.jpg").unlink()
    assert decode_checked(entry, source(FULL_FRONT), config) is None


def test_the_check_key_holds_the_path_the_bytes_and_the_context(
        config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator import models, shortcut, sources
    from generator.models import check_context, check_key
    context = check_context(config)
    key = check_key(context, "content/a.md", b"1" * 32)
    assert key != check_key(context, "content/b.md", b"1" * 32)
    assert key != check_key(context, "content/a.md", b"2" * 32)
    assert check_context(config) == context
    assert check_context(dataclasses.replace(config, timezone="UTC")) != context
    assert check_context(dataclasses.replace(config, permalink="/{slug}/")) != context
    assert check_context(dataclasses.replace(config, topics=config.topics[:1])) != context
    with monkeypatch.context() as patch:  # the check's own code
        other = tmp_path / "models.py"
        other.write_text("# another version\n", encoding="utf-8")
        patch.setattr(models, "__file__", str(other))
        assert check_context(config) != context
    with monkeypatch.context() as patch:  # the parse (its code and packages)
        patch.setattr(sources, "parse_digest", lambda: b"another parse")
        assert check_context(config) != context
    with monkeypatch.context() as patch:  # the time zone's rules
        patch.setattr(shortcut, "zone_source", lambda name: "another tzdata")
        assert check_context(config) != context
    with monkeypatch.context() as patch:  # the slug packages
        patch.setattr(shortcut, "installed_package", lambda name: f"{name} updated")
        assert check_context(config) != context


def test_a_plain_article_entry_has_the_head_its_json_would_be(config: Config) -> None:
    """An article without problems, images, source or corrections gets the plain head
    without JSON being made: the same text, decoded to the same article."""
    from generator.models import _PLAIN_HEAD, FIELD_SEP, decode_checked
    from generator.sources import compact_json
    assert compact_json([[], [], None, None, []]) == _PLAIN_HEAD
    article, problems, entry = _entry(config, PLAIN_FRONT)
    assert article is not None and not problems and entry is not None
    assert entry.split(FIELD_SEP)[0] == _PLAIN_HEAD
    again = decode_checked(entry, source(PLAIN_FRONT), config)
    assert again is not None and _strict(again[0]) == _strict(article)
