"""importer.py: raw article text → Markdown with front matter, one rule at a time.

Fixtures in tests/fixtures/import/ are invented texts in several outlets' shapes; each has a
`<name>.expected.yaml` with the fields and the body paragraphs (verbatim source text) the
import must produce. After an intended change, regenerate them and review the diff:

    REGEN_IMPORT_FIXTURES=1 .venv/bin/python -m pytest tests/test_importer.py -k fixture
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.cli import cli
from generator.config import DEFAULT_EXTENSIONS, load_config
from generator.errors import BuildError
from generator.importer import (
    ImportResult,
    ImportRules,
    clean_lines,
    escape_markdown,
    import_text,
    parse_date_line,
    parse_when,
    validate_article,
)
from generator.markup import MarkdownSettings, render_markdown
from tests.conftest import build_site, make_site

FIXTURES = Path(__file__).parent / "fixtures" / "import"
LONDON = ZoneInfo("Europe/London")
DUBAI = ZoneInfo("Asia/Dubai")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("UTC"))
RULES = ImportRules()
BODY = ("Port workers returned to work on Thursday after accepting a two-year pay offer, "
        "ending the longest stoppage at the terminal in three decades.")
MORE = "The company said 40 ships had been diverted to other ports during the strike."
THIRD = "Ships queued off the coast for a week."


def run_import(text: str, tz: ZoneInfo = LONDON, rules: ImportRules = RULES,
               **options: Any) -> ImportResult:
    """Import `text` with a pinned fallback clock."""
    options.setdefault("now", NOW)
    return import_text(text, name="story.txt", rules=rules, tz=tz, **options)


def story(*lines: str) -> str:
    """A text with one blank line between the given lines."""
    return "\n\n".join(lines) + "\n"


def front(result: ImportResult) -> dict[str, Any]:
    """The front matter the import wrote, parsed."""
    return yaml.safe_load(result.markdown.split("---\n")[1])


def reasons(result: ImportResult) -> dict[str, str]:
    """Dropped line text → reason."""
    return {d.text: d.reason for d in result.dropped}


# --- text hygiene -----------------------------------------------------------------------------


def test_clean_lines_removes_bom_crlf_nbsp_tabs_and_trailing_spaces() -> None:
    text = "\ufeffHead\u00a0line  \r\nSecond\tline\t\r\rThird\u202fline \u200b"
    assert clean_lines(text) == ["Head line", "Second line", "", "Third line"]


def test_clean_lines_normalises_to_nfc_and_keeps_quotes_dashes_and_accents() -> None:
    decomposed = "Zoe\u0308 \u201cquoted\u201d \u2014 it\u2019s Łukasiewicz"
    assert clean_lines(decomposed) == ["Zoë “quoted” — it’s Łukasiewicz"]


def test_crlf_bom_fixture_imports_clean_text() -> None:
    result = run_import((FIXTURES / "crlf-bom-nbsp.txt").read_bytes().decode("utf-8"))
    assert "\r" not in result.markdown and "\u00a0" not in result.markdown
    assert result.field("title") == "Hospital opens night clinic for shift workers"
    assert result.paragraphs[0].startswith("Dr Zoë Łukasiewicz")


# --- Markdown escaping --------------------------------------------------------------------------

LOOKALIKES = [
    "# not a heading", "## nor this", "> not a quote", "- not a list", "+ not a list",
    "* not a list", "1. not a list", "2023. A year to remember", "_under_ and *stars*",
    "`code` spans", "<b>not bold</b>", "<https://example.org>", "[a link](http://x)",
    "[TOC]", "[^1]: not a footnote", "| a | b |", "---", "***", "___", "~~~ not a fence",
    "```", ": not a definition", "ends with a hash #", "a backslash \\ here", "R&amp;D",
    "&copy; 2024", "{: .class}", "text {#id}", "*[HTML]: abbr", "1) also not a list",
    "= not setext", "!", "![alt](x.png)", "&#1 and &copy without a semicolon", "AT&T",
]


def paragraphs_of(html: str) -> list[str]:
    """The text of every top-level <p> in an HTML fragment."""
    tree = lxml.html.fragment_fromstring(f"<div>{html}</div>")
    return [p.text_content() for p in tree.findall("p")]


@pytest.mark.parametrize("extensions", [DEFAULT_EXTENSIONS, ("extra", "toc", "sane_lists")])
@pytest.mark.parametrize("text", LOOKALIKES)
def test_escaped_text_renders_as_itself(text: str, extensions: tuple[str, ...]) -> None:
    html = render_markdown(escape_markdown(text), MarkdownSettings.of(extensions, {}, False)).html
    assert paragraphs_of(html) == [text]


def test_escaped_crosshead_keeps_its_hashes() -> None:
    settings = MarkdownSettings.of(DEFAULT_EXTENSIONS, {}, False)
    html = render_markdown("## " + escape_markdown("Plan #2 #", heading=True), settings).html
    assert lxml.html.fragment_fromstring(html).text_content() == "Plan #2 #"


_PARAGRAPH_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Co", "Cn", "Cf")),
    min_size=1, max_size=40,
).map(lambda s: " ".join(clean_lines(s))).filter(bool)
_SYNTAX = st.sampled_from(list("#>-+*_`<[]|\\&:~{}!().=1 ") + ["&amp;", "1. ", "[^", "](",
                                                               "<!--", "```", "    "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SYNTAX, _PARAGRAPH_TEXT), min_size=1, max_size=8))
def test_any_paragraph_renders_verbatim(pieces: list[str]) -> None:
    text = " ".join(clean_lines("".join(pieces)))
    if not text:
        return
    for extensions in (DEFAULT_EXTENSIONS, ("extra", "toc", "sane_lists")):
        html = render_markdown(escape_markdown(text),
                               MarkdownSettings.of(extensions, {}, False)).html
        assert paragraphs_of(html) == [text]


# --- headline ---------------------------------------------------------------------------------


def test_headline_is_the_first_line_usually() -> None:
    result = run_import(story("Port workers end strike after pay deal", BODY))
    assert result.field("title") == "Port workers end strike after pay deal"
    assert result.slug == "port-workers-end-strike-after-pay-deal"


@pytest.mark.parametrize("preamble", [
    ["Business"], ["UK news", "Live"], ["English", "العربية"], ["EN | AR"],
    ["Pocket", "View Original", "example-news.com", "5 min read"],
    ["Home > Business > Shipping"],
    ["Dockers gather outside the port gates on Monday. Reuters"],
    ["Dockers gather outside the port gates on Monday.", "Reuters"],
])
def test_headline_after_section_labels_chrome_and_captions(preamble: list[str]) -> None:
    result = run_import("\n".join([*preamble, "Port workers end strike after pay deal", BODY]))
    assert result.field("title") == "Port workers end strike after pay deal"
    assert result.paragraphs == (BODY,)


def test_alt_text_before_the_caption_is_not_the_headline() -> None:
    result = run_import("\n".join([
        "Dockers outside the port gates in Felixstowe",
        "Dockers gather outside the port gates in Felixstowe on Monday. Reuters",
        "Port workers end strike after pay deal", BODY]))
    assert result.field("title") == "Port workers end strike after pay deal"
    assert reasons(result)["Dockers outside the port gates in Felixstowe"] == "photo alt text"


def test_agency_suffix_of_a_page_title_is_removed() -> None:
    result = run_import(story("Port workers end strike after pay deal - Reuters", BODY))
    assert result.field("title") == "Port workers end strike after pay deal"


def test_repeated_headline_is_dropped() -> None:
    result = run_import(story("Port workers end strike", "Port workers end strike", BODY))
    assert result.paragraphs == (BODY,)
    assert reasons(result) == {"Port workers end strike": "repeated line"}


# --- author -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("byline", "author"), [
    ("By Jane Doe", "Jane Doe"),
    ("BY JANE DOE", "Jane Doe"),
    ("By Jane Doe, Reuters", "Jane Doe"),
    ("By Jane Doe in Felixstowe", "Jane Doe"),
    ("By Jane Doe, Business Correspondent", "Jane Doe"),
    ("By Jane Doe and Ali Al-Hashimi", ["Jane Doe", "Ali Al-Hashimi"]),
    ("By Jane Doe, John Roe and Ali Khan", ["Jane Doe", "John Roe", "Ali Khan"]),
    ("By JANE DOE and JOHN ROE Associated Press", ["Jane Doe", "John Roe"]),
    ("Jane Doe", "Jane Doe"),
    ("Jane Doe in Felixstowe", "Jane Doe"),
    ("Jane Doe, Transport Correspondent", "Jane Doe"),
    ("By Jane Doe | June 8, 2023", "Jane Doe"),
    ("Jane Doe · 5 min read", "Jane Doe"),
    ("Jane Doe Transport correspondent", "Jane Doe"),
    ("Par Hélène Quéré", "Hélène Quéré"),
    ("Por José Núñez", "José Núñez"),
])
def test_byline_after_the_headline(byline: str, author: str | list[str]) -> None:
    result = run_import("\n".join(["Port workers end strike after pay deal", byline, BODY]))
    assert front(result).get("author") == author


def test_byline_outlet_after_a_comma_is_not_an_author() -> None:
    for line in ("By Jane Doe, CNN", "By Jane Doe, The Daily Ledger"):
        result = run_import("\n".join([HEADLINE, line, BODY]))
        assert front(result)["author"] == "Jane Doe"


def test_name_line_with_a_role_after_a_bar_and_reporting_from_line() -> None:
    result = run_import("\n".join([HEADLINE, "Jane Doe | Staff Writer", BODY]))
    assert front(result)["author"] == "Jane Doe"
    result = run_import("\n".join([HEADLINE, "By Jane Doe", "Reporting from Hallstein, Germany",
                                   BODY]))
    assert reasons(result) == {"Reporting from Hallstein, Germany": "the author's role"}


def test_consecutive_name_lines_are_all_authors() -> None:
    result = run_import("\n".join([HEADLINE, "Jane Doe", "John Roe", BODY]))
    assert front(result)["author"] == ["Jane Doe", "John Roe"]


def test_title_case_headline_beats_section_label_and_name_line() -> None:
    result = run_import("\n".join(["World News", "Biden Signs Major Bill", "Jane Doe", BODY]))
    assert result.field("title") == "Biden Signs Major Bill"
    assert front(result)["author"] == "Jane Doe"


def test_name_line_just_before_the_headline() -> None:
    result = run_import("\n".join(["Jane Doe", "Port workers end strike after pay deal", BODY]))
    assert front(result)["author"] == "Jane Doe"


@pytest.mark.parametrize("line", ["By Thursday, the strike had ended.", "Middle East",
                                  "World News", "Key Points", "Middle East · 5 min read"])
def test_sentences_and_section_labels_are_not_bylines(line: str) -> None:
    result = run_import("\n".join(["Port workers end strike after pay deal", line, BODY, MORE]))
    assert "author" not in front(result)


def test_role_line_after_the_byline_is_dropped() -> None:
    result = run_import("\n".join(["Port workers end strike", "By Jane Doe",
                                   "Transport correspondent", BODY]))
    assert reasons(result) == {"Transport correspondent": "the author's role"}


def test_author_option_fills_a_missing_byline_only() -> None:
    assert front(run_import(story("Port workers end strike", BODY), author="Ann Lee"))[
        "author"] == "Ann Lee"
    result = run_import(story("Port workers end strike", "By Jane Doe", BODY), author="Ann Lee")
    assert front(result)["author"] == "Jane Doe"
    assert any("--author ignored" in w.message for w in result.warnings)


# --- standfirst -------------------------------------------------------------------------------

HEADLINE = "Port workers end nine-day strike after pay deal, union says"
STANDFIRST = "The agreement ends a stoppage that left container ships queuing off the coast"


def test_standfirst_without_closing_punctuation() -> None:
    result = run_import(story(HEADLINE, STANDFIRST, BODY, MORE))
    assert front(result)["standfirst"] == STANDFIRST
    assert result.paragraphs == (BODY, MORE)


def test_standfirst_ending_in_a_full_stop_before_the_byline() -> None:
    result = run_import(story(HEADLINE, STANDFIRST + ".", "By Jane Doe", BODY, MORE))
    assert front(result)["standfirst"] == STANDFIRST + "."


@pytest.mark.parametrize("second", [
    BODY,  # a one-sentence lede straight after the headline is body
    "LONDON, June 8 (Reuters) - Port workers returned to work on Thursday",
    "FELIXSTOWE — Port workers returned to work on Thursday",
    "Port workers returned to work. The union said the offer was fair",
    "“We have secured a deal that recognises the work our members do.",
    "Powered by automated translation",
])
def test_no_standfirst(second: str) -> None:
    result = run_import(story(HEADLINE, second, MORE))
    assert "standfirst" not in front(result)


def test_a_lone_paragraph_is_body_not_standfirst() -> None:
    result = run_import(story(HEADLINE, STANDFIRST))
    assert result.paragraphs == (STANDFIRST,)
    assert "standfirst" not in front(result)


# --- photo caption and credit -------------------------------------------------------------------

CAPTION = "Dockers gather outside the port gates in Felixstowe on Monday."


@pytest.mark.parametrize(("line", "credit"), [
    (f"{CAPTION} Reuters", "Reuters"),
    (f"{CAPTION} Photographer: Jane Doe/Bloomberg", "Jane Doe/Bloomberg"),
    (f"{CAPTION} Foto: dpa", "dpa"),
    (f"{CAPTION} AP", "AP"),
    (f"{CAPTION} AP Photo", "AP Photo"),
    (f"{CAPTION} AFP", "AFP"),
    (f"{CAPTION} EPA", "EPA"),
    (f"{CAPTION} Getty Images", "Getty Images"),
    (f"{CAPTION} PA", "PA"),
    (f"{CAPTION} Bloomberg", "Bloomberg"),
    (f"{CAPTION} Anadolu Agency", "Anadolu Agency"),
    (f"{CAPTION} WAM", "WAM"),
    (f"{CAPTION} AFP via Getty Images", "AFP via Getty Images"),
    (f"{CAPTION} Jane Doe / The Daily", "Jane Doe / The Daily"),
    (f"{CAPTION} Photograph: Jane Doe/Reuters", "Jane Doe/Reuters"),
    (f"{CAPTION} Photo: Jane Doe", "Jane Doe"),
    (f"{CAPTION} Courtesy Jane Doe", "Courtesy Jane Doe"),
    (f"{CAPTION} [Reuters]", "Reuters"),
    (f"{CAPTION} [Photo: Jane Doe]", "Jane Doe"),
    (f"{CAPTION} (AP Photo/Jane Doe)", "AP Photo/Jane Doe"),
    (f"{CAPTION}\nReuters", "Reuters"),
    (f"{CAPTION}\nAP Photo/Jane Doe", "AP Photo/Jane Doe"),
    (f"{CAPTION}\nPhotograph: Jane Doe/AFP", "Jane Doe/AFP"),
    (f"Image source, Getty Images\nImage caption, {CAPTION}", "Getty Images"),
])
def test_caption_and_credit_forms(line: str, credit: str) -> None:
    result = run_import("\n".join([HEADLINE, line, BODY, MORE]))
    assert front(result)["image"] == {"caption": CAPTION, "credit": credit}
    assert result.paragraphs == (BODY, MORE)


def test_credit_glued_to_the_caption_with_dots() -> None:
    result = run_import("\n".join([HEADLINE, f"{CAPTION}Credit...Jane Doe for The Daily Ledger",
                                   BODY]))
    assert front(result)["image"] == {"caption": CAPTION,
                                      "credit": "Jane Doe for The Daily Ledger"}


def test_acronym_agencies_match_in_title_case_but_not_lower_case() -> None:
    assert front(run_import("\n".join([HEADLINE, f"{CAPTION} Wam", BODY])))["image"][
        "credit"] == "Wam"
    result = run_import("\n".join([HEADLINE, BODY, "Guests relax at the new resort. spa", MORE]))
    assert "image" not in front(result)


def test_gallery_counter_and_licensing_link_are_not_part_of_the_caption() -> None:
    line = f"[1/3] {CAPTION} REUTERS/Jane Roe Acquire Licensing Rights"
    result = run_import("\n".join([HEADLINE, line, BODY]))
    assert front(result)["image"] == {"caption": CAPTION, "credit": "REUTERS/Jane Roe"}


def test_extra_credit_words_from_config() -> None:
    text = "\n".join([HEADLINE, f"{CAPTION} Ledger Pictures", BODY])
    assert "image" not in front(run_import(text))
    rules = ImportRules.from_settings({"credit_words": ["Ledger Pictures"]})
    assert front(run_import(text, rules=rules))["image"]["credit"] == "Ledger Pictures"


def test_repeated_caption_and_alt_text_keep_one_caption() -> None:
    result = run_import("\n".join([
        HEADLINE, "Dockers outside the port gates", f"{CAPTION} Reuters", CAPTION,
        f"{CAPTION} Reuters", BODY, MORE]))
    assert front(result)["image"] == {"caption": CAPTION, "credit": "Reuters"}
    assert result.paragraphs == (BODY, MORE)
    assert len(result.dropped) == 3
    assert {"photo alt text", "repeated line"} <= set(reasons(result).values())


def test_a_later_photo_caption_is_dropped_not_kept_in_the_body() -> None:
    result = run_import("\n".join([HEADLINE, f"{CAPTION} Reuters", BODY,
                                   "A crane at the terminal. Photo: Jane Doe", MORE]))
    assert result.paragraphs == (BODY, MORE)
    assert reasons(result) == {"A crane at the terminal. Photo: Jane Doe":
                               "caption of another photo"}


def test_agency_sign_off_after_the_last_paragraph_keeps_the_paragraph() -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, "— AFP"]))
    assert result.paragraphs == (BODY, MORE) and "image" not in front(result)


def test_caption_and_credit_lines_in_the_middle_of_the_body() -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, "A crane at the terminal on Monday.",
                                   "Reuters", THIRD]))
    assert result.paragraphs == (BODY, MORE, THIRD)
    assert front(result)["image"] == {"caption": "A crane at the terminal on Monday.",
                                      "credit": "Reuters"}


@pytest.mark.parametrize("line", [
    "The decision was announced on Monday, the union told Reuters.",
    "Shares in the operator rose 4% in London.",
    "The strike ended on Monday. Dockers say the deal is fair.",
])
def test_sentences_that_mention_agencies_are_not_captions(line: str) -> None:
    result = run_import("\n".join([HEADLINE, BODY, line, MORE]))
    assert "image" not in front(result)
    assert line in result.paragraphs


# --- notices ----------------------------------------------------------------------------------


@pytest.mark.parametrize("notice", [
    "Powered by automated translation", "This article was machine translated",
    "Automatically translated", "This story has been translated by AI",
    "Translated automatically from Arabic", "Machine translation",
])
def test_machine_translation_notices(notice: str) -> None:
    result = run_import("\n".join([HEADLINE, notice, BODY]))
    assert front(result)["translation"] == "machine"
    assert result.paragraphs == (BODY,)


def test_extra_notice_patterns_from_config() -> None:
    text = "\n".join([HEADLINE, "Traduit par notre robot", BODY])
    assert "translation" not in front(run_import(text))
    rules = ImportRules.from_settings({"notice_patterns": [r"^traduit par"]})
    assert front(run_import(text, rules=rules))["translation"] == "machine"


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("March 22, 2023, 9:29 AM", "2023-03-22T09:29:00+00:00"),
    ("November 9th 2021, 1:24 PM", "2021-11-09T13:24:00+00:00"),
    ("April 9, 2021 04:12 PM", "2021-04-09T16:12:00+01:00"),
    ("22 March 2023 09:29", "2023-03-22T09:29:00+00:00"),
    ("22 March 2023, 09:29", "2023-03-22T09:29:00+00:00"),
    ("Mar 22, 2023", "2023-03-22T00:00:00+00:00"),
    ("Wed 22 Mar 2023 09.29 GMT", "2023-03-22T09:29:00+00:00"),
    ("Thursday 8 June 2023 16:15 BST", "2023-06-08T16:15:00+01:00"),
    ("4:15 PM EDT, Thu June 8, 2023", "2023-06-08T21:15:00+01:00"),
    ("June 8, 2023 at 4:15 p.m. ET", "2023-06-08T21:15:00+01:00"),
    ("June 8, 2023 4:15 PM GMT+4", "2023-06-08T13:15:00+01:00"),
    ("2023-03-22", "2023-03-22T00:00:00+00:00"),
    ("2023-03-22T09:29:00", "2023-03-22T09:29:00+00:00"),
    ("2023-03-22T09:29:00+04:00", "2023-03-22T05:29:00+00:00"),
    ("2023-03-22T09:29:00Z", "2023-03-22T09:29:00+00:00"),
    ("2023-03-22 09:29 +0400", "2023-03-22T05:29:00+00:00"),
    ("22/03/2023", "2023-03-22T00:00:00+00:00"),
])
def test_date_forms(text: str, expected: str) -> None:
    when, _ = parse_when(text, LONDON)
    assert when is not None and when.isoformat() == expected


def test_dates_are_read_in_the_site_time_zone() -> None:
    when, _ = parse_when("March 22, 2023, 9:29 AM", DUBAI)
    assert when is not None and when.isoformat() == "2023-03-22T09:29:00+04:00"


@pytest.mark.parametrize("text", [
    "June 2023", "Port workers end strike", "2 hours ago", "March 40, 2023",
    "LONDON, June 8 (Reuters)", "22 March", "Updated: soon",
])
def test_not_dates(text: str) -> None:
    assert parse_date_line(text, LONDON) == ()


def test_ambiguous_numeric_date_is_noted() -> None:
    when, note = parse_when("03/04/2023", LONDON)
    assert when is not None and (when.month, when.day) == (4, 3) and "two ways" in note


@pytest.mark.parametrize(("line", "kinds"), [
    ("Updated: June 8, 2023, 4:15 PM", ["updated"]),
    ("Published: June 8, 2023", ["published"]),
    ("Last updated 8 June 2023 16:15", ["updated"]),
    ("Last modified on Thu 8 Jun 2023 17.02 BST", ["updated"]),
    ("Published June 8, 2023 Updated June 9, 2023", ["published", "updated"]),
    ("Published: 8 June 2023 | Updated: 9 June 2023", ["published", "updated"]),
    ("June 8, 2023", ["date"]),
    ("June 8, 2023 4:15 PM GMT+1 Updated 2 hours ago", ["date"]),
    ("June 8, 20234:15 PM GMTUpdated 2 hours ago", ["date"]),
    ("Publié le 8 juin 2023 à 16h15, mis à jour à 17h40", ["published", "updated"]),
    ("Published: 8 June 2023 16:15, updated 17:40", ["published", "updated"]),
    ("TNN / Updated: Jun 8, 2023, 08:14 IST", ["updated"]),
    ("Madrid - 08 jun 2023 - 10:42 CET", ["date"]),
    ("Published: Thursday, June 8, 2023 · 4:15 PM", ["published"]),
])
def test_date_line_labels(line: str, kinds: list[str]) -> None:
    assert [m.kind for m in parse_date_line(line, LONDON)] == kinds


def test_only_an_updated_line_is_both_date_and_updated() -> None:
    meta = front(run_import(story(HEADLINE, BODY, "Updated: June 8, 2023, 4:15 PM")))
    assert meta["date"] == meta["updated"] == "2023-06-08T16:15:00+01:00"


def test_updated_line_with_date_option() -> None:
    result = run_import(story(HEADLINE, BODY, "Updated: June 8, 2023, 4:15 PM"),
                        date=datetime(2023, 6, 7, 9, 0))
    assert front(result)["date"] == "2023-06-07T09:00:00+01:00"
    assert front(result)["updated"] == "2023-06-08T16:15:00+01:00"


def test_published_line_sets_only_the_date() -> None:
    meta = front(run_import(story(HEADLINE, "Published: 22 March 2023 09:29", BODY)))
    assert meta["date"] == "2023-03-22T09:29:00+00:00" and "updated" not in meta


def test_published_and_updated_lines() -> None:
    meta = front(run_import(story(HEADLINE, "Published: 22 March 2023 09:29", BODY,
                                  "Updated: 23 March 2023 10:00")))
    assert meta["date"] == "2023-03-22T09:29:00+00:00"
    assert meta["updated"] == "2023-03-23T10:00:00+00:00"


def test_date_option_fills_a_missing_date_and_now_is_the_last_resort() -> None:
    given_date = front(run_import(story(HEADLINE, BODY), date=datetime(2023, 1, 2, 3, 4)))
    assert given_date["date"] == "2023-01-02T03:04:00+00:00"
    result = run_import(story(HEADLINE, BODY))
    assert front(result)["date"] == "2026-11-24T12:00:00+00:00"
    assert any("no date in the text" in w.message for w in result.warnings)
    with pytest.raises(BuildError, match="no date"):
        run_import(story(HEADLINE, BODY), now=None)


def test_date_option_does_not_override_the_text() -> None:
    result = run_import(story(HEADLINE, "Published: 22 March 2023 09:29", BODY),
                        date=datetime(2023, 1, 2))
    assert front(result)["date"] == "2023-03-22T09:29:00+00:00"
    assert any("--date ignored" in w.message for w in result.warnings)


# --- boilerplate ------------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "Ports and shipping around the world — in pictures",
    "Ports and shipping around the world - in pictures",
    "More galleries", "Read more: Dockers vote on new deal", "READ MORE",
    "Live updates: strike day three", "Watch: the moment the ships left", "Sign up",
    "Sign up to our newsletter", "Follow us on Instagram", "Related: The last dockers",
    "Recommended", "Most Read", "Advertisement", "Share this article",
    "Listen to this article", "6 min read", "English | العربية", "© 2023 The Daily Ledger",
    "Story continues below advertisement", "This article is more than 2 years old",
    "Share full article", "Video Ad Feedback", "Listen to this article · 5:12 min Learn more",
    "Please use Chrome browser for a more accessible video player", "Representative image",
    "Thanks for reading The Port Letter! Subscribe for free to receive new posts.",
    "Save time by listening to our audio articles as you multitask", "5m ago", "2h ago",
])
def test_boilerplate_lines_are_dropped(line: str) -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, line, THIRD]))
    assert result.paragraphs == (BODY, MORE, THIRD)
    assert line in reasons(result)


@pytest.mark.parametrize("line", ["Facebook", "X", "Share Facebook Twitter Email",
                                  "Finance & economics | Shipping", "Link Copied!",
                                  "SKIP ADVERTISEMENT", "Continue reading the main story",
                                  "Your browser does not support the <audio> element."])
def test_more_page_furniture_is_dropped(line: str) -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, line, THIRD]))
    assert result.paragraphs == (BODY, MORE, THIRD)


def test_chrome_between_a_one_sentence_rubric_and_the_body_makes_it_the_standfirst() -> None:
    result = run_import("\n".join([HEADLINE, "The pandemic bonanza is over.",
                                   "Listen to this story.", BODY, MORE]))
    assert front(result)["standfirst"] == "The pandemic bonanza is over."


def test_link_list_right_under_the_byline_is_dropped() -> None:
    result = run_import("\n".join([HEADLINE, "By Jane Doe", "Most Read from Bloomberg",
                                   "Twitter Is Losing Advertisers", "Stocks Fall", BODY]))
    assert result.paragraphs == (BODY,) and "standfirst" not in front(result)


def test_everything_after_the_closing_date_line_is_dropped() -> None:
    result = run_import(story(HEADLINE, BODY, MORE, "Updated: June 8, 2023, 4:15 PM",
                              "The Morning Brief", "Your essential update before breakfast.",
                              "A long promotional paragraph that ends in a full stop here."))
    assert result.paragraphs == (BODY, MORE)
    assert set(reasons(result).values()) == {"after the closing date line"}


def test_a_date_line_near_the_top_does_not_cut_the_body() -> None:
    result = run_import(story(HEADLINE, BODY, MORE, "June 8, 2023", BODY + " Again.",
                              MORE + "!", "Ships queued for a week.", "Then they left."))
    assert len(result.paragraphs) == 6


def test_a_bare_date_in_a_timeline_does_not_cut_the_story() -> None:
    later = ("Talks between the union and the company resumed on Friday morning.",
             "They ended at noon with an agreement on overtime rates.")
    result = run_import(story(HEADLINE, BODY, MORE, THIRD, "June 9, 2023", *later))
    assert result.paragraphs[-2:] == later


def test_a_body_line_like_the_caption_far_from_it_is_kept() -> None:
    line = "Dockers gathered outside the port gates in Felixstowe."
    result = run_import("\n".join([HEADLINE, f"{CAPTION} Reuters", BODY, MORE, THIRD, line,
                                   "The strike was over."]))
    assert line in result.paragraphs


def test_link_list_under_a_related_heading_is_dropped() -> None:
    result = run_import("\n".join([HEADLINE, BODY, "Most read", "Minister resigns over claims",
                                   "Heatwave warning for weekend", MORE]))
    assert result.paragraphs == (BODY, MORE)


def test_short_lines_after_the_last_paragraph_are_dropped() -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, "The Morning Brief",
                                   "Your essential update before breakfast"]))
    assert result.paragraphs == (BODY, MORE)
    assert set(reasons(result).values()) == {"after the body (promotion or link)"}


def test_drop_patterns_from_config() -> None:
    text = "\n".join([HEADLINE, BODY, "Ledger Plus: unlock every story", MORE])
    assert "Ledger Plus: unlock every story" in run_import(text).crossheads
    rules = ImportRules.from_settings({"drop_patterns": [r"^ledger plus\b"]})
    result = run_import(text, rules=rules)
    assert result.paragraphs == (BODY, MORE)
    assert "import.drop_patterns" in reasons(result)["Ledger Plus: unlock every story"]


def test_repeated_body_lines_are_dropped() -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, BODY]))
    assert result.paragraphs == (BODY, MORE)


# --- body -------------------------------------------------------------------------------------

QUOTE = ["“We have secured a deal that recognises the work our members do.",
         "“They kept the country supplied",
         "“And they deserve this,” said the union’s regional secretary."]


def test_glued_date_and_same_day_update_times() -> None:
    result = run_import(story(HEADLINE, "Publié le 8 juin 2023 à 16h15, mis à jour à 17h40",
                              BODY, MORE))
    assert front(result)["date"] == "2023-06-08T16:15:00+01:00"
    assert front(result)["updated"] == "2023-06-08T17:40:00+01:00"
    glued = run_import(story(HEADLINE, "June 8, 20234:15 PM GMTUpdated 2 hours ago", BODY))
    assert front(glued)["date"] == "2023-06-08T17:15:00+01:00" and "updated" not in front(glued)


def test_press_release_label_end_marker_and_contacts_are_dropped() -> None:
    result = run_import(story("FOR IMMEDIATE RELEASE", HEADLINE,
                              "FELIXSTOWE, June 8, 2023 — " + BODY, MORE, "###",
                              "Media contact:", "Jane Doe, press office", "01234 567890"))
    assert "author" not in front(result)
    assert front(result)["date"] == "2023-06-08T00:00:00+01:00"
    assert result.paragraphs == ("FELIXSTOWE, June 8, 2023 — " + BODY, MORE)
    assert reasons(result)["FOR IMMEDIATE RELEASE"] == "press release label"
    assert reasons(result)["01234 567890"] == "after the end of the release"


def test_dateline_date_does_not_override_a_date_line() -> None:
    result = run_import(story(HEADLINE, "Published: 9 June 2023", "FELIXSTOWE, June 8, 2023 — "
                              + BODY, MORE))
    assert front(result)["date"] == "2023-06-09T00:00:00+01:00"


def test_author_bio_after_the_last_paragraph_is_dropped() -> None:
    bio = "Jane Doe covers ports and shipping for the business desk."
    result = run_import(story(HEADLINE, "By Jane Doe", BODY, MORE, bio))
    assert result.paragraphs == (BODY, MORE) and reasons(result)[bio] == "about the author"
    other = "John Roe covers ports and shipping for the business desk."
    assert other in run_import(story(HEADLINE, "By Jane Doe", BODY, other)).paragraphs
    subject = "Jane Doe is expected to appeal against the ruling next week."
    assert subject in run_import(story(HEADLINE, "By Jane Doe", BODY, subject)).paragraphs


def test_print_edition_note_with_links_is_dropped_not_a_byline() -> None:
    note = ("A version of this article appears in print on June 9, 2023, Section B, Page 2 of "
            "the New York edition with the headline: Dockers End Strike. Order Reprints | "
            "Today’s Paper | Subscribe")
    result = run_import(story(HEADLINE, "By Jane Doe", BODY, MORE, note))
    assert front(result)["author"] == "Jane Doe" and reasons(result)[note] == "print edition note"


@pytest.mark.parametrize("line", [
    "Lire aussi : Le prix du lait au plus bas depuis cinq ans, selon la coopérative laitière",
    "Read more: Dockers at the port vote on a new deal after nine days on strike at the gates",
])
def test_long_related_headline_links_are_dropped(line: str) -> None:
    result = run_import(story(HEADLINE, BODY, line, MORE))
    assert result.paragraphs == (BODY, MORE) and line in reasons(result)


def test_arabic_caption_with_agency_credit() -> None:
    result = run_import(story("ارتفاع صادرات الموانئ الإماراتية خلال العام الماضي",
                              "سفن حاويات في ميناء جبل علي يوم الخميس. وام", BODY, MORE))
    assert front(result)["image"] == {"caption": "سفن حاويات في ميناء جبل علي يوم الخميس.",
                                      "credit": "وام"}


def test_live_blog_time_stamps_are_dropped_and_entry_headlines_are_crossheads() -> None:
    result = run_import(story(HEADLINE, "By Jane Doe", "Key events", "09:45",
                              "Talks begin at the port", BODY, "10:20",
                              "Union says members are ‘ready to compromise’", MORE))
    assert result.crossheads == ("Talks begin at the port",
                                 "Union says members are ‘ready to compromise’")
    assert result.paragraphs == (BODY, MORE)
    assert reasons(result)["09:45"] == "time stamp or video length"


@pytest.mark.parametrize("line", ["# of empty units: 37", "1. A numbered line"])
def test_lines_starting_with_markdown_characters_are_not_crossheads(line: str) -> None:
    result = run_import("\n".join([HEADLINE, BODY, line, MORE]))
    assert result.crossheads == () and line in result.paragraphs


@pytest.mark.parametrize("tag", ["UPDATE 2-", "REFILE-", "REFILE-UPDATE 1-", "EXCLUSIVE-"])
def test_wire_slug_before_the_headline_is_removed(tag: str) -> None:
    assert run_import(story(tag + HEADLINE, BODY, MORE)).field("title") == HEADLINE


def test_author_note_under_the_byline_is_not_the_standfirst() -> None:
    note = "Ms Doe is a former port engineer and a member of the harbour board."
    result = run_import(story(HEADLINE, "By Jane Doe", note, BODY, MORE))
    assert "standfirst" not in front(result) and reasons(result)[note] == "about the author"


def test_site_name_under_the_headline_before_the_author() -> None:
    result = run_import(story(HEADLINE, "The Harbour Times", "Jane Doe", "4 min read", BODY))
    assert front(result)["author"] == "Jane Doe"
    assert reasons(result)["The Harbour Times"] == "site name"
    assert result.paragraphs == (BODY,)


def test_contents_entries_repeated_later_are_dropped_and_the_later_copies_kept() -> None:
    result = run_import(story("Key events", "5m ago", "Talks begin at the port", HEADLINE,
                              "Unions and employers meet for the first time in a month",
                              "By Jane Doe", "5m ago", "Talks begin at the port", BODY, MORE))
    assert result.field("title") == HEADLINE
    assert result.crossheads == ("Talks begin at the port",)
    assert reasons(result)["Talks begin at the port"] == "table of contents entry"


def test_site_name_after_a_bar_is_removed_from_the_title() -> None:
    result = run_import(story(HEADLINE + " | The Daily Ledger", BODY, MORE))
    assert result.field("title") == HEADLINE


def test_labelled_credit_line_above_its_caption() -> None:
    caption = "Dockers gather outside the port gates on Monday."
    result = run_import(story(HEADLINE, "Image: Getty Images", caption, "By Jane Doe", BODY, MORE))
    assert front(result)["image"] == {"caption": caption, "credit": "Getty Images"}
    assert result.paragraphs == (BODY, MORE)
    plain = run_import(story(HEADLINE, "Image: Getty Images", BODY, MORE))
    assert plain.paragraphs == (BODY, MORE) and "image" not in front(plain)


def test_a_name_before_a_date_is_not_read_as_a_place() -> None:
    assert parse_date_line("Jane Doe - June 8, 2023", LONDON) == ()


@pytest.mark.parametrize("heading", ["Read more from The Daily Ledger:", "Más información",
                                     "Sur le même sujet"])
def test_more_link_list_headings(heading: str) -> None:
    result = run_import(story(HEADLINE, BODY, MORE, heading, "Dockers vote on new deal"))
    assert result.paragraphs == (BODY, MORE)
    assert reasons(result)["Dockers vote on new deal"] == "link under a related-links heading"


def test_question_lines_under_a_related_heading_are_links() -> None:
    question = "What is council tax and how is it worked out?"
    result = run_import(story(HEADLINE, BODY, MORE, "More on this story", question))
    assert reasons(result)[question] == "link under a related-links heading"


def test_crossheads_become_subheadings() -> None:
    result = run_import("\n".join([HEADLINE, BODY, "What happens next", MORE]))
    assert result.crossheads == ("What happens next",)
    assert "\n## What happens next\n" in result.markdown


@pytest.mark.parametrize("line", ["What happens next?", "He said:", "- a list item",
                                  "Reporting by Jane Doe; Editing by John Roe"])
def test_punctuated_short_lines_are_paragraphs(line: str) -> None:
    result = run_import("\n".join([HEADLINE, BODY, line, MORE]))
    assert result.crossheads == () and line in result.paragraphs


def test_multi_paragraph_quotes_stay_paragraphs() -> None:
    result = run_import("\n".join([HEADLINE, BODY, *QUOTE, MORE]))
    assert result.paragraphs == (BODY, *QUOTE, MORE)
    assert result.crossheads == ()


def test_hard_wrapped_paragraphs_are_joined() -> None:
    wrapped = ("Port workers returned to work on Thursday after accepting a two-\n"
               "year pay offer, ending the longest stoppage at the terminal in\n"
               "three decades, the union said in a statement.")
    result = run_import(story(HEADLINE, wrapped, MORE))
    assert result.paragraphs[0] == (
        "Port workers returned to work on Thursday after accepting a two-year pay offer, "
        "ending the longest stoppage at the terminal in three decades, the union said in a "
        "statement.")


def test_lines_without_blank_lines_between_are_paragraphs() -> None:
    result = run_import("\n".join([HEADLINE, BODY, MORE, "Ships queued for a week."]))
    assert result.paragraphs == (BODY, MORE, "Ships queued for a week.")


def test_wire_dateline_names_the_source() -> None:
    result = run_import(story(HEADLINE, "LONDON, June 8 (Reuters) - " + BODY, MORE))
    assert front(result)["source"] == {"name": "Reuters"}


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("", "no headline or body"),
    ("\n\n  \n", "no headline or body"),
    ("Share\nAdvertisement\nMost read\n", "no headline or body"),
    ("Port workers end nine-day strike\n", "no article body"),
    (BODY + " " + BODY + " " + MORE, "no recognisable headline"),
])
def test_unrecognisable_text_is_an_error_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(BuildError) as raised:
        run_import(text)
    problem = raised.value.problems[0]
    assert problem.path == "story.txt" and message in problem.message


# --- front matter -----------------------------------------------------------------------------


def test_front_matter_field_order_and_values(tmp_path: Path) -> None:
    text = (FIXTURES / "gulf-machine-translation.txt").read_text(encoding="utf-8")
    result = run_import(text, tz=DUBAI, topic="world", author="Staff")
    meta = front(result)
    assert list(meta) == ["title", "date", "updated", "author", "standfirst", "topic", "image",
                          "translation"]
    assert meta["date"] == "2023-03-22T09:29:00+04:00"
    assert result.markdown.startswith("---\ntitle: ") and "\n---\n\n" in result.markdown


def test_imported_front_matter_passes_article_validation(tmp_path: Path) -> None:
    site = make_site(tmp_path, config={"timezone": "Europe/London"})
    config = load_config(site)
    for path in sorted(FIXTURES.glob("*.txt")):
        result = run_import(path.read_text(encoding="utf-8-sig"), topic="world")
        assert validate_article(result, config, f"content/{result.slug}.md") == [], path.name


def test_rules_from_settings() -> None:
    rules = ImportRules.from_settings({"credit_words": ("A",), "notice_patterns": ("b",),
                                       "drop_patterns": ("c",)})
    assert rules == ImportRules(("A",), ("b",), ("c",))
    assert ImportRules.from_settings({}) == ImportRules()


# --- fixtures: several outlets' shapes ------------------------------------------------------------

FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.txt"))
FIXTURE_DATE = datetime(2023, 3, 1, 8, 0)


def import_fixture(name: str) -> ImportResult:
    """Import one fixture as the CLI would for a London site."""
    text = (FIXTURES / f"{name}.txt").read_bytes().decode("utf-8-sig")
    return run_import(text, now=FIXTURE_DATE.replace(tzinfo=LONDON))


def summary(result: ImportResult) -> dict[str, Any]:
    """What a fixture's expected file records."""
    return {
        "front_matter": front(result),
        "paragraphs": list(result.paragraphs),
        "crossheads": list(result.crossheads),
        "dropped": [f"{d.line}: {d.text} ({d.reason})" for d in result.dropped],
    }


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture(name: str) -> None:
    expected_path = FIXTURES / f"{name}.expected.yaml"
    actual = summary(import_fixture(name))
    if os.environ.get("REGEN_IMPORT_FIXTURES"):
        expected_path.write_text(yaml.safe_dump(actual, allow_unicode=True, sort_keys=False,
                                                width=1000), encoding="utf-8")
    expected = yaml.safe_load(expected_path.read_text(encoding="utf-8"))
    assert actual == expected


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_paragraphs_are_source_lines(name: str) -> None:
    """Every body paragraph is text of the source, in the source's order."""
    source = " ".join(clean_lines((FIXTURES / f"{name}.txt").read_bytes().decode("utf-8")))
    position = 0
    for paragraph in import_fixture(name).paragraphs:
        found = source.find(paragraph, position)
        if found < 0:  # a hard-wrapped paragraph: compare without line breaks
            found = source.replace("- ", "-").find(paragraph.replace("- ", "-"))
        assert found >= 0, paragraph
        position = max(position, found)


# --- round trip: import → build → HTML ----------------------------------------------------------


def test_round_trip_build_shows_every_paragraph_verbatim(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", config={"timezone": "Europe/London"})
    results = {}
    for name in FIXTURE_NAMES:
        result = import_fixture(name)
        path = site / "content" / f"{result.slug}.md"
        assert not path.exists(), f"{name}: give each fixture its own headline"
        path.write_text(result.markdown, encoding="utf-8")
        results[name] = result
    build_site(site)
    for name, result in results.items():
        expected = yaml.safe_load((FIXTURES / f"{name}.expected.yaml").read_text("utf-8"))
        pages = list((site / "output").glob(f"*/*/*/{result.slug}/index.html"))
        assert len(pages) == 1, name
        tree = lxml.html.fromstring(pages[0].read_bytes())
        body = tree.find_class("story-body")[0]
        assert [p.text_content() for p in body.findall("p")] == expected["paragraphs"], name
        assert [h.text_content() for h in body.findall("h2")] == expected["crossheads"], name
        assert tree.get_element_by_id("story-title").text_content() == result.field("title")


# --- the command ------------------------------------------------------------------------------

EXAMPLE = FIXTURES / "gulf-machine-translation.txt"


def cli_run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `briefing ARGS`; exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(name="site")
def _site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site", config={"timezone": "Asia/Dubai"})


def test_cli_import_writes_the_article_and_reports(site: Path) -> None:
    code, out, err = cli_run("import", str(EXAMPLE), "--site", str(site), "--topic", "World")
    assert code == 0, err
    path = site / "content" / "dubai-opens-first-driverless-water-taxi-route-across-the-creek.md"
    assert "topic: world" in path.read_text(encoding="utf-8")
    assert "imported" in out and "translation" in out and "machine" in out
    assert "dropped line 1: 'English' (language switcher)" in out
    assert "4 paragraphs, 0 crossheads" in out
    assert build_site(site).articles == 1


def test_cli_import_stdout_and_stdin(site: Path) -> None:
    code, out, err = cli_run("import", "-", "--stdout", "--site", str(site),
                             stdin=EXAMPLE.read_text(encoding="utf-8"))
    assert code == 0
    assert out.startswith("---\ntitle: Dubai opens") and "imported <stdin>" in err
    assert list((site / "content").iterdir()) == []


def test_cli_import_never_overwrites_without_force(site: Path) -> None:
    assert cli_run("import", str(EXAMPLE), "--site", str(site))[0] == 0
    code, _, err = cli_run("import", str(EXAMPLE), "--site", str(site))
    assert code == 1 and "already exists: use --force" in err
    assert cli_run("import", str(EXAMPLE), "--site", str(site), "--force")[0] == 0


def test_cli_import_error_names_the_file_and_writes_nothing(site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("Share\nAdvertisement\n", encoding="utf-8")
    code, _, err = cli_run("import", str(EXAMPLE), str(bad), "--site", str(site))
    assert code == 1
    assert f"{bad}: error: no headline or body text found" in err
    assert list((site / "content").iterdir()) == []


def test_cli_import_options(site: Path) -> None:
    text = story("Port workers end strike after pay deal", BODY)
    code, out, _ = cli_run("import", "-", "--stdout", "--site", str(site), "--author",
                           "Jane Doe", "--date", "2023-06-08T07:30", stdin=text)
    assert code == 0
    meta = yaml.safe_load(out.split("---\n")[1])
    assert meta["author"] == "Jane Doe" and meta["date"] == "2023-06-08T07:30:00+04:00"


@pytest.mark.parametrize("args", [["import"], ["import", "x.txt", "--topic", "nope"],
                                  ["import", "x.txt", "--date", "soon"]])
def test_cli_import_usage_errors_exit_2(site: Path, args: list[str]) -> None:
    assert cli_run(*args, "--site", str(site))[0] == 2


def test_cli_import_rejects_non_utf8(site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 owners win fight over terrace\n\nThey said so.\n".encode("latin-1"))
    code, _, err = cli_run("import", str(bad), "--site", str(site))
    assert code == 1 and "not valid UTF-8" in err


def test_cli_import_uses_config_import_rules(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", config={"import": {"drop_patterns": ["^Ledger Plus"]}})
    text = story(HEADLINE, BODY, "Ledger Plus: unlock every story", MORE)
    code, out, err = cli_run("import", "-", "--site", str(site), stdin=text)
    assert code == 0, err
    assert "Ledger Plus" in out and "import.drop_patterns" in out
    written = next((site / "content").glob("*.md")).read_text(encoding="utf-8")
    assert "Ledger Plus" not in written
