"""Raw article text copied from a news site or a wire feed → Markdown with YAML front matter.

Pure: no printing, no files. `import_text` cleans the text, sorts every line into a kind
(notice, boilerplate, date, byline, credit, caption or plain text), then reads the plain lines
in order: what comes before the headline, the header (standfirst, byline, lead photo), the
body, and the tail after the closing date line. Every line it does not keep is reported with
its line number and the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from enum import Enum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import yaml
from slugify import slugify

from generator.config import Config
from generator.errors import BuildError, Problem, error, warning
from generator.models import Article
from generator.sources import Source, load_yaml, split_front_matter

# ---------------------------------------------------------------------------------------------
# Built-in knowledge. config.yaml's `import:` section adds to these; it never replaces them.

AGENCIES = (
    "AP", "AP Photo", "Associated Press", "The Associated Press", "AFP", "Agence France-Presse",
    "Reuters", "EPA", "EPA-EFE", "EFE", "Getty", "Getty Images", "PA", "PA Wire", "PA Media",
    "PA Images", "Bloomberg", "Bloomberg News", "Anadolu", "Anadolu Agency", "WAM", "SPA", "QNA",
    "KUNA", "BNA", "ONA", "MENA", "Xinhua", "Kyodo", "Yonhap", "AAP", "ANI", "PTI", "IANS", "UPI",
    "dpa", "DPA", "ANSA", "Sipa", "Sipa USA", "Sputnik", "TASS", "NurPhoto", "SOPA Images",
    "ZUMA", "Zuma Press", "Shutterstock", "Alamy", "iStock", "Corbis", "Redux", "Polaris",
    "LightRocket", "Imago", "Handout", "Supplied", "Pool", "File photo", "UN Photo", "NASA",
    "Wikimedia Commons", "Unsplash", "Xinhua News Agency", "Kyodo News",
    # the same agencies as Arabic-language pages credit them
    "وام", "رويترز", "أ ف ب", "فرانس برس", "أسوشيتد برس", "الأناضول", "إ ب أ", "غيتي", "شينخوا",
)

MACHINE_TRANSLATION_NOTICES = (
    r"\b(?:automated|automatic|machine|ai|auto)[- ]?(?:generated\s+)?translat",
    r"\btranslat\w*\s+(?:automatically|by (?:a )?machine|by ai|using ai|with ai|with the help "
    r"of ai|by google|by deepl|using (?:google|deepl|machine))",
    r"\b(?:automatically|machine|ai)[- ]translated\b",
)

# (pattern, reason): lines that are a page's furniture, not the story. Matched ignoring case.
BOILERPLATE = (
    (r"[-–—]\s*in (?:pictures|photos|photographs|images|videos?)\s*$", "gallery link"),
    (r"^in (?:pictures|photos|images)\s*[:,-]", "gallery link"),
    (r"^(?:more|see more|view more|browse) (?:galleries|pictures|photos|videos|stories)\b",
     "gallery link"),
    (r"^(?:read|see) (?:more|also|next|the full story|full story)\b", "related link"),
    (r"^(?:also read|further reading|what to read next)\b|^related\s*:", "related link"),
    (r"^(?:(?:à )?lire aussi|voir aussi|lea también|leer más|lesen sie auch|mehr zum thema|"
     r"leggi anche|ler também|leia também)\b", "related link"),
    # a link label with a colon, then the linked headline: specific enough for long lines
    (r"^(?:read more|read also|also read|see also|related|more on this|(?:à )?lire aussi|voir "
     r"aussi|lea también|leer más|lesen sie auch|leggi anche|leia também)\s*:\s*\S",
     "related headline link"),
    (r"^[^<>›»]{1,40}(?:\s[>›»]\s[^<>›»]{1,40}){1,6}$", "breadcrumb"),
    (r"^(?:live(?: updates| blog| coverage)?|watch|video|listen|podcast|audio|gallery)\s*:",
     "video or live link"),
    (r"^(?:watch|play) (?:the )?(?:video|now|live)\b|^video duration\b", "video link"),
    (r"^\d{1,2}[:.h]\d{2}(?:\s*(?:[ap]\.?m\.?|[A-Z]{2,4}))?$", "time stamp or video length"),
    (r"^media caption\b", "video caption"),
    (r"^(?:sign up|subscribe)\b|^(?:get|receive) (?:our|the) .{0,40}newsletter",
     "newsletter promotion"),
    (r"^follow (?:us|me|our|the)\b|^follow .{0,60}\bon (?:twitter|x|facebook|instagram|"
     r"whatsapp|telegram|linkedin|tiktok|youtube|threads|bluesky|google news)\b",
     "social link"),
    (r"^(?:skip )?(?:advertisement|advert|ad|sponsored(?: content)?|supported by|(?:video )?ad "
     r"feedback|story "
     r"continues(?: below(?: advertisement)?)?|article continues (?:below|after(?: this)? "
     r"advertisement)|continue reading\b.*|scroll to continue(?: with content)?)$",
     "advertising"),
    (r"^(?:share|share this(?: article| story| page)?|share on \w+|copy link|link copied|email|"
     r"print|save|saved|save article|save for later|bookmark|gift(?: this)? article|tweet|"
     r"share full article|key events|show key events only|pinned post|"
     r"comments?|\d+ comments?|show comments|view comments|listen|listen to (?:this )?"
     r"(?:article|story)|reuse this content|report an error|text size|aa|a a|font size|"
     r"skip to (?:main )?content|skip to navigation|menu|search|home|close|back|open in app|"
     r"open in browser|view original|view in browser|reader view|reader mode|read later|"
     r"add tags?|highlight|archive|pocket|instapaper|apple news|google news|flipboard|"
     r"feedly|readwise|omnivore|saved to pocket|save to pocket|translate|show original|"
     r"see original|original article|view full article|listen to (?:this|the) (?:story|"
     r"article|page)|send any friend a story|give this article|short url|read in app|"
     r"your browser does not support .*|sign in|log in|register|\d[\d,.]*k?)[.!]?$",
     "page chrome"),
    (r"\bon ios (?:or|and) android\b", "app promotion"),
    (r"^save time by listening to\b|^listen to (?:our|more) audio (?:articles|stories)\b",
     "page chrome"),
    (r"^privacy notice:|\bgoogle recaptcha\b|^(?:after|skip past) newsletter promotion$|"
     r"^thanks for reading\b.{0,80}\bsubscribe\b|\bsubscribe for free to\b",
     "newsletter promotion"),
    (r"^please use .{0,30}\bbrowser\b.{0,30}\bvideo player\b|^this video can ?not be played\b|"
     r"^your device may not support\b", "video player chrome"),
    (r"\bis not responsible for the content of external (?:sites|internet sites)\b",
     "external links notice"),
    (r"^(?:acquire|purchase) licensing rights$", "page chrome"),
    (r"^this (?:article|story) appeared in\b.*\bprint edition\b|^a version of this (?:article|"
     r"story) (?:appeared|appears) in print\b", "print edition note"),
    (r"^listen to (?:this|the) (?:article|story)\b", "page chrome"),
    (r"^(?:for immediate release|press release|news release|media release)$",
     "press release label"),
    (r"^(?:#\s?#\s?#|-\s?30\s?-|-*\s?ends\s?-*|notes? to editors?:?|media contacts?:?|"
     r"press contacts?:?|media enquiries:?|for (?:further|more) information,? (?:please )?"
     r"contact:?)$", "end of the release"),
    (r"\b\d+\s*(?:min|mins|minute|minutes)\.?\s+(?:read|listen)\b", "reading time"),
    (r"^(?:updated|published|posted)?\s*\d+\s*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|"
     r"weeks?|months?|[smhdw])\s+ago$|^(?:just now|yesterday|today)$", "relative time"),
    (r"^(?:image|photo|picture|slide) \d+ of \d+$|^\d+ of \d+$|^\d+/\d+$", "gallery counter"),
    (r"^(?:representative|file|stock) (?:image|photo|picture)s?$|^image for representation\b"
     r"|^image used for representational purposes?\b", "photo chrome"),
    (r"^(?:open image in gallery|enlarge this image|toggle caption|hide caption|expand image|"
     r"view image in fullscreen|image|photo|picture|caption)\s*:?$", "photo chrome"),
    (r"^(?:topics|tags|filed under|more on these topics|explore more on these topics|"
     r"more on this story|more about)\s*:", "topic links"),
    (r"^(?:©|\(c\)\s|copyright\b)|\ball rights reserved\b", "copyright line"),
    (r"^[\W_]+$", "separator line"),
    (r"^our standards\b|^(?:corrections|editorial) (?:policy|standards)\b", "standards link"),
    (r"^this (?:article|story|content) is more than \d+ \w+ old$", "age notice"),
    (r"^(?:download|get) (?:the|our) .{0,40}\bapp\b|^click here\b", "app promotion"),
    (r"^@\w{2,}$|^[\w.+-]+@[\w-]+\.[\w.]+$", "contact handle"),
    (r"^(?:https?://\S+|(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,12}(?:/\S*)?)$",
     "web address"),
    (r"^(?:read (?:this|it)? ?in|switch to|change language|language|also available in)\b"
     r"\s*:?\s*(?:\w+)?$", "language switcher"),
)

# Boilerplate whose patterns are specific enough to trust on long lines; others need <= 12 words.
LONG_BOILERPLATE = frozenset({"gallery link", "print edition note", "copyright line",
                              "age notice", "app promotion", "newsletter promotion",
                              "external links notice", "related headline link"})

# Headings of link lists ("Related", "Most read"): the short lines under them are links too.
LINK_LIST_HEADING = re.compile(
    r"^(?:related(?: [\w-]+){0,2}|"
    r"recommended(?: for you| stories| articles| reading)?|most (?:read|popular|viewed|shared|"
    r"watched|commented)(?: stories| articles| today| this week| now)?(?: (?:from|on|in) .{1,40})?"
    r"|trending(?: now| stories)?"
    r"|top stories|more stories|more news|latest(?: news| stories)?|more from .{1,40}|up next|"
    r"more like this|read more(?: (?:from|on|about) .{1,40})?|read next|más información|"
    r"sur le même sujet|mehr zum thema|you (?:may|might) also (?:like|be interested in)|"
    r"don'?t miss|editor'?s picks?|explore more|more galleries|more videos|(?:explore )?more on "
    r"(?:these|this) (?:topics?|story)|(?:related )?topics)"
    r"\s*:?$",
    re.IGNORECASE,
)

LANGUAGE_WORDS = frozenset(
    "english العربية عربي arabic français francais french español espanol spanish deutsch german "
    "italiano italian português portugues portuguese русский russian 中文 chinese 简体 繁體 "
    "日本語 japanese 한국어 korean türkçe turkish فارسی farsi persian اردو urdu हिन्दी hindi "
    "বাংলা bengali bahasa indonesia melayu malay nederlands dutch polski polish svenska swedish "
    "українська ukrainian ελληνικά greek עברית hebrew kiswahili swahili hausa tiếng việt "
    "vietnamese ไทย thai filipino tagalog en ar fr es de it pt ru zh ja ko tr fa ur hi".split()
)

ROLE_WORDS = frozenset(
    "correspondent reporter editor writer columnist contributor staff analyst chief bureau "
    "producer journalist photographer presenter host desk team service agencies agency wires "
    "wire news newsroom senior deputy associate special contributing freelance".split()
)

SECTION_WORDS = frozenset(
    "news world business politics sport sports opinion analysis comment features culture "
    "science technology tech health economy markets money climate environment life style "
    "travel arts uk us europe asia africa americas gulf middle east region live video live "
    "breaking exclusive explainer interview review reviews weather investigation media "
    "home national international local property education law crime obituaries".split()
)

NAME_PARTICLES = frozenset(
    "and & de da di del della der den van von al el bin ibn ben bint le la du dos das y e ter "
    "st st.".split()
)

CREDIT_PARTICLES = NAME_PARTICLES | {"for", "via", "of", "the", "/"}

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
# French, Spanish and German month names, as pages in those languages print them
for _number, _names in enumerate((
        "janvier enero januar", "février fevrier févr febrero februar", "mars marzo märz",
        "avril abril", "mai mayo", "juin junio juni", "juillet juil julio juli", "août aout agosto",
        "septembre septiembre", "octobre octubre oktober", "novembre noviembre",
        "décembre decembre diciembre dezember"), start=1):
    MONTHS.update(dict.fromkeys(_names.split(), _number))
WEEKDAYS = frozenset(
    "mon monday tue tues tuesday wed weds wednesday thu thur thurs thursday fri friday sat "
    "saturday sun sunday lundi mardi mercredi jeudi vendredi samedi dimanche lunes martes "
    "miércoles jueves viernes sábado domingo montag dienstag mittwoch donnerstag freitag samstag "
    "sonntag".split()
)
DATE_FILLER = frozenset("at on the of local time hrs hours h le à de del las el um uhr".split())
# Title-case words that make a short line a label ("Key Points"), not a person's name.
NOT_NAME_WORDS = SECTION_WORDS | ROLE_WORDS | WEEKDAYS | set(MONTHS) | frozenset(
    "key points brief summary highlights takeaways update updates latest more top watch read "
    "listen share what why how who when where the this our your new big first last today "
    "photos pictures gallery timeline background context".split()
)

# Zone abbreviations as news sites print them; ambiguous ones (AST, CST in Asia) are left out.
FIXED_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "CET": 1, "WAT": 1, "WEST": 1, "CEST": 2,
    "EET": 2, "CAT": 2, "SAST": 2, "EEST": 3, "MSK": 3, "EAT": 3, "GST": 4, "PKT": 5,
    "IST": 5.5, "WIB": 7, "ICT": 7, "HKT": 8, "SGT": 8, "AWST": 8, "JST": 9, "KST": 9,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
}
NAMED_ZONES = {
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
    "PT": "America/Los_Angeles", "UAE": "Asia/Dubai", "KSA": "Asia/Riyadh",
}

CLOSING_PUNCTUATION = tuple(".!?…:;,\"”’»)]")
OPENING_QUOTES = "“\"«„‘"
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st no gen col lt sgt rev prof sen rep gov jr sr inc ltd co corp vs etc "
    "capt cmdr adm maj sec dept est approx fig vol jan feb mar apr jun jul aug sep sept oct "
    "nov dec mt ft".split()
)
STOPWORDS = frozenset("a an the of in on at to for and or is are was were by with from as".split())

# ---------------------------------------------------------------------------------------------
# Public values


@dataclass(frozen=True)
class ImportRules:
    """Extra words and patterns from config.yaml's `import:` section, on top of the defaults."""

    credit_words: tuple[str, ...] = ()
    notice_patterns: tuple[str, ...] = ()
    drop_patterns: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Iterable[str]] | None) -> ImportRules:
        """Rules from the validated `import:` mapping (missing keys mean no extras)."""
        settings = settings or {}
        return cls(
            credit_words=tuple(settings.get("credit_words", ())),
            notice_patterns=tuple(settings.get("notice_patterns", ())),
            drop_patterns=tuple(settings.get("drop_patterns", ())),
        )


class DroppedLine(NamedTuple):
    """A source line left out of the article: its text, why, and its 1-based line number."""

    text: str
    reason: str
    line: int = 0


class FoundField(NamedTuple):
    """A front matter value and where it came from (`line 3`, `--date`, …)."""

    name: str
    value: str
    origin: str


@dataclass(frozen=True)
class ImportResult:
    """One imported article: file slug, full Markdown file text and the report."""

    slug: str
    markdown: str
    fields: tuple[FoundField, ...]
    dropped: tuple[DroppedLine, ...]
    warnings: tuple[Problem, ...] = ()
    paragraphs: tuple[str, ...] = ()
    crossheads: tuple[str, ...] = ()

    def field(self, name: str) -> str | None:
        """The value found for a field (`title`, `image.credit`, …), or None."""
        return next((f.value for f in self.fields if f.name == name), None)


# ---------------------------------------------------------------------------------------------
# Text hygiene

_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad\x00-\x08\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def clean_lines(text: str) -> list[str]:
    """The text's lines, cleaned: no BOM, CRs, odd spaces or tabs; NFC; trimmed."""
    text = _LINE_BREAKS.sub("\n", text)
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    return [_SPACES.sub(" ", line).strip() for line in text.split("\n")]


# ---------------------------------------------------------------------------------------------
# Markdown escaping

_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z])")  # HTML reads "&#1" and "&copy" without ";"
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]{}])")
_LEADING_MARKER = re.compile(r"^([#>+\-]|\d+(?=[.)]))")


def escape_markdown(text: str, heading: bool = False) -> str:
    """Text that Markdown renders as exactly this text: no accidental markup of any kind."""
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    text = _ENTITY_LIKE.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace("|", "&#124;")
    if heading:
        text = text.replace("#", "\\#")
    if text.startswith(("~", ":")):
        text = f"&#{ord(text[0])};" + text[1:]
    match = _LEADING_MARKER.match(text)
    if match and match.group(1).isdigit():
        end = match.end()
        text = text[:end] + "\\" + text[end:]
    elif match:
        text = "\\" + text
    return text


# ---------------------------------------------------------------------------------------------
# Small text predicates


def _words(text: str) -> int:
    return len(text.split())


def _ends_closed(text: str) -> bool:
    return text.endswith(CLOSING_PUNCTUATION)


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if w not in STOPWORDS}


def _similar(text: str, other: str) -> bool:
    """True when most of `text`'s words are in `other` (alt text beside its caption)."""
    words = _content_words(text)
    return len(words) >= 2 and len(words & _content_words(other)) / len(words) >= 0.75


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(«]?[A-Z0-9])")


def _sentences(text: str) -> int:
    """How many sentences the text has, not counting breaks after abbreviations or initials."""
    count = 1
    for match in _SENTENCE_BREAK.finditer(text):
        word = text[: match.start()].rsplit(" ", 1)[-1].strip("\"“”’‘()[]")
        stem = word.rstrip(".!?").casefold()
        if stem in ABBREVIATIONS or re.fullmatch(r"(?:\w\.)+\w?\.?", word):
            continue
        count += 1
    return count


def _capitalised(word: str) -> bool:
    head = word.lstrip("\"“‘(")
    return bool(head) and (head[0].isupper() or head[0].isdigit())


def _name_words(text: str, limit: int, particles: frozenset[str] = NAME_PARTICLES) -> bool:
    """A capitalised phrase of at most `limit` words, particles allowed inside."""
    words = text.split()
    if not words or len(words) > limit or not _capitalised(words[0]):
        return False
    return all(_capitalised(w) or w.casefold() in particles
               or re.match(r"(?:al|el|ad|as|bin|d|o)['’-]\w", w, re.IGNORECASE) for w in words)


def _is_role(text: str) -> bool:
    return bool(_content_words(text) & ROLE_WORDS) and _words(text) <= 6


def _opens_quote(text: str) -> bool:
    """True for a paragraph that opens a quotation and does not close it."""
    if not text or text[0] not in OPENING_QUOTES:
        return False
    if text[0] == '"':
        return text.count('"') % 2 == 1
    closing = {"“": "”", "«": "»", "„": "“”", "‘": "’"}[text[0]]
    rest = text[1:]
    if text[0] == "‘":  # ’ is also an apostrophe: only a final one closes
        return not rest.rstrip(".!?,;: ").endswith("’")
    return not any(c in rest for c in closing)


# ---------------------------------------------------------------------------------------------
# Dates

_DATE_LABEL = re.compile(
    r"(?<![\w])(?:(?P<updated>(?:last\s+)?(?:updated|modified|update|edited|revised)|mis à jour|"
    r"modifié|actualizado|actualizada|aktualisiert)|"
    r"(?P<published>(?:first\s+|originally\s+)?(?:published|posted|issued|created|released|"
    r"filed)|publié|publicado|publicada|veröffentlicht)|(?P<date>date))"
    r"(?:\s+(?:on|at|le|el|am))?\s*[:：]?\s*",
    re.IGNORECASE,
)
_WHEN_TOKEN = re.compile(
    r"(?P<iso>\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?:\s?(?:Z|[+-]\d{2}:?\d{2})(?!\d))?)"
    r"|(?P<numeric>\d{1,2}[/.-]\d{1,2}[/.-]\d{4})"
    r"|(?P<time>\d{1,2}h\d{2}\b|\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[ap]\.?\s?m\b\.?)?|\d{1,2}\s*[ap]\.?\s?m\b\.?)"
    r"|(?P<year>\d{4})(?!\d)"
    r"|(?P<day>\d{1,2})(?:st|nd|rd|th)?(?![\d:])"
    r"|(?P<offset>[+-]\d{1,2}(?::?\d{2})?)(?!\d)"
    r"|(?P<word>[^\W\d_]+)\.?"
    r"|(?P<sep>[\s,|/·•()\-–—.]+)",
    re.IGNORECASE,
)


@dataclass
class _When:
    """The parts of a date as they are read, token by token."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    clock: tuple[int, int, int] | None = None
    meridiem: str = ""
    zone: tzinfo | None = None
    iso: datetime | None = None
    note: str = ""


def _zone_for(word: str) -> tzinfo | None:
    if word in FIXED_ZONES:
        return timezone(timedelta(hours=FIXED_ZONES[word]))
    if word in NAMED_ZONES:
        return ZoneInfo(NAMED_ZONES[word])
    return None


def _read_clock(text: str, when: _When) -> None:
    digits = [int(d) for d in re.findall(r"\d+", text)]
    hour, minute, second = (digits + [0, 0])[:3]
    when.clock = (hour, minute, second)
    meridiem = re.search(r"([ap])\.?\s?m", text, re.IGNORECASE)
    if meridiem:
        when.meridiem = meridiem.group(1).lower()


def _read_numeric(text: str, when: _When, tz: ZoneInfo) -> None:
    first, second, year = (int(d) for d in re.split(r"[/.-]", text))
    month_first = second > 12 or (first <= 12 and str(tz).startswith("America/"))
    if first > 12:
        month_first = False
    elif second <= 12 and first != second:
        when.note = f"the date {text} could be read two ways; read as " + (
            "month/day" if month_first else "day/month")
    when.month, when.day = (first, second) if month_first else (second, first)
    when.year = year


def _read_word(word: str, when: _When) -> bool:
    folded = word.casefold().rstrip(".")
    if folded in MONTHS and when.month is None:
        when.month = MONTHS[folded]
    elif folded in WEEKDAYS or folded in DATE_FILLER:
        pass
    elif folded in ("am", "pm", "a", "p") and when.clock:
        when.meridiem = folded[0]
    elif _zone_for(word.upper()) is not None and word.isupper():
        when.zone = _zone_for(word.upper())
    elif word.isupper() and 2 <= len(word) <= 5 and when.year is not None:
        when.note = f"unknown time zone {word!r}: read in the site's time zone"
    else:
        return False
    return True


def _read_offset(text: str, when: _When) -> None:
    sign = -1 if text.startswith("-") else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
    when.zone = timezone(sign * timedelta(hours=hours, minutes=minutes))


def _read_token(kind: str, text: str, when: _When, tz: ZoneInfo) -> bool:
    """Fold one token into `when`; False when the token cannot be part of a date."""
    if kind == "iso":
        when.iso = datetime.fromisoformat(text.replace(" ", "T", 1).replace("TZ", "Z")
                                          .replace("Z", "+00:00").replace("T+", "+")
                                          .replace(" ", ""))
    elif kind == "numeric":
        _read_numeric(text, when, tz)
    elif kind == "time" and when.clock is None:
        _read_clock(text, when)
    elif kind == "year" and when.year is None:
        when.year = int(text)
    elif kind == "day" and when.day is None:
        when.day = int(re.match(r"\d+", text).group())  # type: ignore[union-attr]
    elif kind == "offset":
        _read_offset(text, when)
    elif kind == "word":
        return _read_word(text.rstrip("."), when)
    elif kind != "sep":
        return False
    return True


def _assemble(when: _When, tz: ZoneInfo) -> datetime | None:
    if when.iso is not None:
        parsed = when.iso
        return parsed.astimezone(tz) if parsed.tzinfo else parsed.replace(tzinfo=tz)
    if None in (when.year, when.month, when.day) or not 1900 <= (when.year or 0) <= 2200:
        return None
    hour, minute, second = when.clock or (0, 0, 0)
    if when.meridiem == "p" and hour < 12:
        hour += 12
    elif when.meridiem == "a" and hour == 12:
        hour = 0
    try:
        local = datetime(when.year, when.month, when.day, hour, minute, second)  # type: ignore
    except ValueError:
        return None
    if when.zone is None:
        return local.replace(tzinfo=tz)
    return local.replace(tzinfo=when.zone).astimezone(tz)


def parse_when(text: str, tz: ZoneInfo) -> tuple[datetime | None, str]:
    """A date in any of the forms news sites print, read in `tz`; and a note when unsure."""
    when = _When()
    position = 0
    text = text.strip()
    while position < len(text):
        match = _WHEN_TOKEN.match(text, position)
        if match is None or not match.group():
            return None, ""
        kind = match.lastgroup or "sep"
        try:
            if not _read_token(kind, match.group(), when, tz):
                return None, ""
        except ValueError:
            return None, ""
        position = match.end()
    return _assemble(when, tz), when.note


_RELATIVE_TIME = re.compile(r"^\d+\s*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|[smhdw])"
                            r"\s+ago$",
                            re.IGNORECASE)


@dataclass(frozen=True)
class DateMention:
    """A date a line states: `published`, `updated` or an unlabelled `date`."""

    kind: str
    when: datetime
    note: str = ""


_PLACE_BEFORE_DATE = re.compile(
    r"^(?P<place>[A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*){0,2})\s+[-–—|·/]\s+(?P<date>.+)$")
_GLUED_CLOCK = re.compile(r"(?<=[\s,]\d{4})(?=\d{1,2}:\d{2}\b)")
_GLUED_LABEL = re.compile(r"(?<=[0-9A-Za-z])(?=(?:Updated|Published|Posted|Last updated)\b)")


def _unglue_date(text: str) -> str:
    """Parts of a date that a copy ran together ("March 3, 20237:45 AM GMTUpdated 3 hours ago")."""
    return _GLUED_LABEL.sub(" ", _GLUED_CLOCK.sub(" ", text))


def parse_date_line(text: str, tz: ZoneInfo) -> tuple[DateMention, ...]:
    """The dates a line consists of ("Updated: June 8, 2023, 4:15 PM"), or () if it is not one."""
    text = _unglue_date(text)
    labels = list(_DATE_LABEL.finditer(text))
    if not labels:
        when, note = parse_when(text, tz)
        placed = _PLACE_BEFORE_DATE.match(text)
        if when is None and placed and not name_line_authors(placed.group("place")):
            # "Madrid - 03 mar 2023 - 10:42 CET"; "Jane Doe - June 8, 2023" stays for the reader
            when, note = parse_when(placed.group("date"), tz)
        return (DateMention("date", when, note),) if when else ()
    mentions = []
    prefix = text[: labels[0].start()].strip(" |·•,-–—/")
    if re.fullmatch(r"[A-Z]{2,6}", prefix):  # an agency code: "TNN / Updated: Mar 3, 2023"
        prefix = ""
    if prefix:  # "June 8, 2023 4:15 PM Updated 2 hours ago"
        when, note = parse_when(prefix, tz)
        if when is None:
            return ()
        mentions.append(DateMention("date", when, note))
    for index, label in enumerate(labels):
        end = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        segment = text[label.end():end].strip(" |·•,;-–—")
        if _RELATIVE_TIME.match(segment):
            continue
        when, note = parse_when(segment, tz)
        if when is None and mentions:  # "Published 3 March 2023 10:15, updated 12:40"
            day = mentions[-1].when
            month = next(name for name, number in MONTHS.items() if number == day.month)
            when, note = parse_when(f"{day.day} {month} {day.year} {segment}", tz)
        if when is None:
            return ()
        mentions.append(DateMention(label.lastgroup or "date", when, note))
    return tuple(mentions) if mentions else ()


# ---------------------------------------------------------------------------------------------
# Line kinds


class Kind(Enum):
    """What a line is, judged on the line alone."""

    TEXT = "text"
    DROP = "drop"
    NOTICE = "notice"
    DATE = "date"
    BYLINE = "byline"
    CREDIT = "credit"
    CAPTION = "caption"


@dataclass(frozen=True)
class Unit:
    """One line (or hard-wrapped lines joined) of the source, with its kind."""

    line: int
    text: str
    kind: Kind = Kind.TEXT
    reason: str = ""
    caption: str = ""
    credit: str = ""
    authors: tuple[str, ...] = ()
    dates: tuple[DateMention, ...] = ()
    link_list: bool = False


_BYLINE = re.compile(r"^(?:by|words by|written by|story by|text by|report by|par|por|von|door)"
                     r"\s+(.+)$",
                     re.IGNORECASE)
_CREDIT_LABEL = re.compile(
    r"^(?:photo(?:graph|grapher|graphy|s)?|fotos?|fotografía|bild|pictures?|image(?: source)?|"
    r"credit|photo credit|illustration|graphic|main image|top image|header image|lead image)"
    r"\s*(?:by\b|:|,|\.\.\.|…)\s*(?P<who>.+)$",
    re.IGNORECASE,
)
_CAPTION_LABEL = re.compile(r"^(?:image caption|caption|photo caption)\s*[:,]\s*(?P<text>.+)$",
                            re.IGNORECASE)
_CAPTION_SPLIT = re.compile(
    r"(?<=[.!?”\"’)])\s+|(?<=[.!?])(?=(?:credit|photo(?:graph)?)(?:\.\.\.|…|:))"
    r"|\s+(?=(?:photo(?:graph)?s?|fotos?|pictures?|image|credit|courtesy)\b\s*(?:[:,]|by\b|of\b)?)"
    r"|\s+[|–—-]\s+",
    re.IGNORECASE,
)
_TRAILING_BRACKET = re.compile(r"\s*[(\[]([^()\[\]]{2,80})[)\]]\.?$")
# A gallery counter before a caption and licensing links after it ("[1/3] … Acquire Licensing
# Rights") belong to the page, not to the caption.
_CAPTION_NOISE = re.compile(r"^\[\d+/\d+\]\s*|\s*(?:acquire|purchase) licensing rights\.?$",
                            re.IGNORECASE)
_SECTION_LABEL = re.compile(
    r"^[\w&'’-]+(?: [\w&'’-]+){0,2}(?: [|/] [\w&'’-]+(?: [\w&'’-]+){0,2}){1,4}$")
_REPORTING_FROM = re.compile(r"^(?:reporting|reported|writing) from\b", re.IGNORECASE)
# Chrome that sits in a page's header, between the standfirst and the body (not ads).
HEADER_CHROME = frozenset({"page chrome", "reading time", "share buttons", "relative time",
                           "app promotion", "photo chrome"})
_META_SEPARATOR = re.compile(r"\s+[|·•]\s+")
_DATELINE_AGENCY = re.compile(r"^.{0,80}?\((?P<agency>[^()]{2,40})\)\s*(?:[-–—]{1,2}|:)\s")
# A wire service's slug before a headline: "UPDATE 2-Miners rally …", "REFILE-Oil steadies …"
_WIRE_TAG = re.compile(r"^(?:(?:UPDATE|WRAPUP)(?: \d+)?|REFILE|CORRECTED|RPT|REPEAT|EXCLUSIVE|"
                       r"ANALYSIS|FACTBOX|EXPLAINER|INSIGHT|BREAKINGVIEWS|FOCUS|BRIEF)-"
                       r"(?:(?:UPDATE|WRAPUP)(?: \d+)?-)?(?=\S)")
_DATELINE_DATE = re.compile(
    r"^[A-Z][\w .'’-]{1,40}(?:,\s+[A-Z][\w .'’-]{1,30})?,\s+(?P<date>(?:[A-Z][a-z]{2,8}\.?\s+"
    r"\d{1,2}(?:st|nd|rd|th)?,?|\d{1,2}\s+[A-Z][a-z]{2,8}\.?,?)\s+\d{4})\s*(?:[-–—/:]|\(|$)")
_DATELINE = re.compile(r"^[A-Z][A-Z .'’-]{2,}(?:,[^–—-]{0,40})?\s*[-–—]{1,2}\s|"
                       r"^[A-Z][A-Za-z .'’-]{2,40},?\s+[^()]{0,30}\([^()]{2,40}\)\s*[-–—]")


class Classifier:
    """Sorts lines into kinds with the built-in rules plus a site's `import:` rules."""

    def __init__(self, rules: ImportRules, tz: ZoneInfo):
        self.tz = tz
        self.notices = [re.compile(p, re.IGNORECASE)
                        for p in MACHINE_TRANSLATION_NOTICES + rules.notice_patterns]
        self.custom_drops = [re.compile(p, re.IGNORECASE) for p in rules.drop_patterns]
        self.drops = [(re.compile(p, re.IGNORECASE), why) for p, why in BOILERPLATE]
        self.agency = _agency_pattern(AGENCIES + rules.credit_words)

    def classify(self, line: int, text: str) -> Unit:
        """The kind of one non-blank line, judged on the line alone."""
        if self.is_notice(text):
            return Unit(line, text, Kind.NOTICE, reason="machine translation notice")
        reason = self.drop_reason(text)
        if reason in LONG_BOILERPLATE:  # "A version of this article appears in print … | Subscribe"
            return Unit(line, text, Kind.DROP, reason=reason)
        dates = () if reason else parse_date_line(text, self.tz)
        if dates:  # whole, before its parts: "Published: Friday, March 3, 2023 · 4:10 PM"
            return Unit(line, text, Kind.DATE, dates=dates)
        meta = self.classify_meta(line, text)
        if meta.kind is not Kind.TEXT:
            return meta
        reason = self.drop_reason(text)
        if reason:
            return Unit(line, text, Kind.DROP, reason=reason,
                        link_list=bool(LINK_LIST_HEADING.match(text)))
        dates = parse_date_line(text, self.tz)
        if dates:
            return Unit(line, text, Kind.DATE, dates=dates)
        authors = byline_authors(text, self)
        if authors:
            return Unit(line, text, Kind.BYLINE, authors=authors)
        return self.classify_photo(line, text) or Unit(line, text)

    def classify_photo(self, line: int, text: str) -> Unit | None:
        """A credit on its own, or a caption ending in its credit; None for anything else."""
        original, text = text, _CAPTION_NOISE.sub("", text) or text
        credit = self.credit_of(text)
        if credit:
            return Unit(line, original, Kind.CREDIT, credit=credit)
        labelled = _CAPTION_LABEL.match(text)
        if labelled:
            return Unit(line, original, Kind.CAPTION, caption=labelled.group("text"))
        split = self.split_caption(text)
        if split:
            return Unit(line, original, Kind.CAPTION, caption=split[0], credit=split[1])
        return None

    def classify_meta(self, line: int, text: str) -> Unit:
        """A line of bylines, dates and chrome joined by `|` or `·`; else plain text."""
        parts = _META_SEPARATOR.split(text)
        if len(parts) < 2:
            return Unit(line, text)
        units = [self.classify(line, part) for part in parts]
        if not any(u.kind in (Kind.BYLINE, Kind.DATE, Kind.DROP) for u in units):
            return Unit(line, text)
        texts = [u.text for u in units if u.kind is Kind.TEXT]
        if not all(name_line_authors(t) or _is_role(t) for t in texts):
            return Unit(line, text)
        if any(u.kind in (Kind.CAPTION, Kind.CREDIT, Kind.NOTICE) for u in units):
            return Unit(line, text)
        authors = tuple(a for u in units for a in u.authors) or tuple(
            a for t in texts[:1] for a in name_line_authors(t))
        dates = tuple(d for u in units for d in u.dates)
        if not authors and not dates:
            return Unit(line, text)
        kind = Kind.BYLINE if authors else Kind.DATE
        return Unit(line, text, kind, authors=authors, dates=dates)

    def is_notice(self, text: str) -> bool:
        """A notice that the text was machine translated."""
        return _words(text) <= 30 and any(p.search(text) for p in self.notices)

    def drop_reason(self, text: str) -> str:
        """Why a line is page furniture, or "" when it is not."""
        for pattern in self.custom_drops:
            if pattern.search(text):
                return f"matches import.drop_patterns {pattern.pattern!r}"
        if LINK_LIST_HEADING.match(text):
            return "related links"
        for pattern, why in self.drops:
            limit = 80 if why in LONG_BOILERPLATE else 12
            if _words(text) <= limit and pattern.search(text):
                return why
        if _is_language_switcher(text):
            return "language switcher"
        if _is_share_bar(text):
            return "share buttons"
        if _SECTION_LABEL.match(text) and not name_line_authors(text):
            return "section label"
        return ""

    def is_agency(self, text: str) -> bool:
        """True when the whole text is a picture agency or credit word."""
        return bool(self.agency.fullmatch(text.strip().rstrip(".")))

    def credit_of(self, text: str) -> str:
        """The credit when the whole text is a photo credit in one of the usual forms, else ""."""
        text = text.strip()
        if len(text) > 2 and text[0] in "([" and text[-1] in ")]":
            text = text[1:-1].strip()
        text = text.lstrip("—–- ").rstrip(".").strip()
        if not text or _words(text) > 10 or re.search(r"[a-z]{2,}[.!?]\s", text):
            return ""
        labelled = _CREDIT_LABEL.match(text)
        if labelled:
            who = labelled.group("who").strip()
            return who if self._credit_shaped(who, strict=False) else ""
        return text if self._credit_shaped(text, strict=True) else ""

    def _credit_shaped(self, text: str, strict: bool) -> bool:
        if re.match(r"courtesy\b", text, re.IGNORECASE):
            return _words(text) <= 8
        if self.agency_at_end(text):
            return True
        parts = re.split(r"\s*/\s*", text)
        if len(parts) >= 2 and all(_name_words(p, 6) for p in parts):
            return True
        return not strict and _name_words(text, 8, CREDIT_PARTICLES)

    def agency_at_end(self, text: str) -> bool:
        """`[photographer ,/for/via] AGENCY [via AGENCY]`: ends in a known credit word."""
        match = re.fullmatch(rf"(?P<who>.*?)[\s,/-]*(?:{self.agency.pattern})"
                             rf"(?:\s*(?:via|for|/)\s*(?:{self.agency.pattern}))?", text)
        if not match:
            return False
        who = re.sub(r"\s+(?:via|for)$", "", match.group("who").strip(" ,/-"))
        return not who or _name_words(who, 5)

    def split_caption(self, text: str) -> tuple[str, str] | None:
        """(caption, credit) when the text is a photo caption ending in its credit."""
        bracket = _TRAILING_BRACKET.search(text)
        if bracket and _words(text[: bracket.start()]) >= 3:
            credit = self.credit_of(bracket.group(1))
            if credit:
                return text[: bracket.start()].rstrip(), credit
        for split in _CAPTION_SPLIT.finditer(text):
            caption, rest = text[: split.start()].rstrip(), text[split.end():]
            credit = self.credit_of(rest)
            if not credit or _words(caption) < 3:
                continue
            dashed = split.group().strip() in ("|", "-", "–", "—")
            if dashed and not _ends_closed(caption) and self.is_agency(credit):
                continue  # "Headline - Reuters" is a page title, not a caption
            return caption, credit
        return None


def _agency_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Credit words as one pattern: acronyms match as written, other words ignoring case."""
    alternatives = []
    for word in sorted(set(words), key=len, reverse=True):
        escaped = re.escape(word.strip())
        if word.isupper():  # "WAM" and "Wam", but not "wam"
            alternatives.append(f"{escaped}|{re.escape(word.strip().capitalize())}")
        else:
            alternatives.append(f"(?i:{escaped})")
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


SHARE_WORDS = frozenset(
    "share facebook twitter x email e-mail mail whatsapp linkedin reddit pinterest telegram "
    "flipboard messenger threads bluesky mastodon print copy link sms tweet".split()
)


def _is_share_bar(text: str) -> bool:
    tokens = [t for t in re.split(r"[\s|/·•,]+", text.casefold()) if t]
    return bool(tokens) and len(tokens) <= 12 and all(t in SHARE_WORDS for t in tokens)


def _is_language_switcher(text: str) -> bool:
    tokens = [t for t in re.split(r"[\s|/·•,]+", text.casefold()) if t]
    return bool(tokens) and len(tokens) <= 8 and all(t in LANGUAGE_WORDS for t in tokens)


def _clean_name(text: str) -> str:
    return text.title() if text.isupper() else text


def byline_authors(text: str, classifier: Classifier) -> tuple[str, ...]:
    """The names in a byline ("By Jane Doe and Ali Khan, Reuters"), or () if it is not one."""
    match = _BYLINE.match(text)
    if not match:
        return ()
    names = re.split(r"\s+(?:for|in|at)\s+(?=[A-Z])|\s+[|–—-]\s+", match.group(1))[0]
    parts = [p.strip() for p in re.split(r",|\s+and\s+|\s+&\s+", names) if p.strip()]
    kept = []
    for index, part in enumerate(parts):
        outlet = index > 0 and (_words(part) == 1 or part.startswith("The "))
        if _is_role(part) or outlet or classifier.is_agency(part) and index > 0:
            break
        part = re.sub(rf"\s+(?:{classifier.agency.pattern})$", "", part)
        if not _name_words(part, 5) or part.endswith((".", "!", "?")) and len(part) > 3:
            return ()
        kept.append(_clean_name(part))
    return tuple(kept)


def name_line_authors(text: str) -> tuple[str, ...]:
    """A line that is only a person's name (or names), maybe with a role after `,` or `|`."""
    return _name_line(text) or _name_with_glued_role(text)


def _name_with_glued_role(text: str) -> tuple[str, ...]:
    """ "Jane Doe Transport correspondent": a name, then a role ending in a role word."""
    words = text.split()
    if not 3 <= len(words) <= 8 or words[-1].casefold() not in ROLE_WORDS:
        return ()
    for size in (2, 3):
        role = words[size:]
        if role and _is_role(" ".join(role)) and _name_line(" ".join(words[:size])):
            return _name_line(" ".join(words[:size]))
    return ()


def _name_line(text: str) -> tuple[str, ...]:
    name, _, role = _name_and_role(text)
    if role and not _is_role(role):
        return ()
    name = re.split(r"\s+(?:in|at)\s+(?=[A-Z])", name)[0]
    parts = [p.strip() for p in re.split(r"\s+and\s+|\s+&\s+", name)]
    if len(parts) > 3 or not all(2 <= _words(p) <= 4 and _name_words(p, 4) for p in parts):
        return ()
    folded = {w.casefold().strip(".") for w in name.split()}
    if folded & NOT_NAME_WORDS or re.search(r"\d|\w['’]s\b", name):
        return ()
    return tuple(_clean_name(p) for p in parts)


def _name_and_role(text: str) -> tuple[str, str, str]:
    """("Jane Doe", ",", "Staff Writer") from "Jane Doe, Staff Writer" or "Jane Doe | …"."""
    match = re.match(r"^(?P<name>[^,|·•]+?)\s*(?P<sep>,|\s[|·•])\s*(?P<role>.+)$", text)
    if not match:
        return text, "", ""
    return match.group("name"), match.group("sep"), match.group("role")


# ---------------------------------------------------------------------------------------------
# From cleaned lines to units


def read_units(lines: Sequence[str], classifier: Classifier) -> list[Unit]:
    """Classify every non-blank line, join hard-wrapped lines, mark repeated lines."""
    blocks: list[list[Unit]] = [[]]
    for number, text in enumerate(lines, start=1):
        if text:
            blocks[-1].append(classifier.classify(number, text))
        elif blocks[-1]:
            blocks.append([])
    units = [u for block in blocks for u in _join_wrapped(block, classifier)]
    return _mark_link_lists(_mark_repeats(_mark_contents(units)))


# A live blog's or long read's table of contents: its entries are repeated as the real headings.
CONTENTS_HEADING = re.compile(r"^(?:key events|in this (?:article|story)|contents|table of "
                              r"contents|jump to|on this page)\s*:?$", re.IGNORECASE)


def _mark_contents(units: list[Unit]) -> list[Unit]:
    """Lines under a contents heading that come again later are its entries, not the story."""
    result = list(units)
    for start, heading in enumerate(units):
        if not CONTENTS_HEADING.match(heading.text):
            continue
        for index in range(start + 1, len(units)):
            unit = units[index]
            if unit.kind is Kind.DROP:
                continue
            later = {u.text.casefold() for u in units[index + 1:]}
            if unit.kind is not Kind.TEXT or unit.text.casefold() not in later:
                break
            result[index] = Unit(unit.line, unit.text, Kind.DROP, reason="table of contents entry")
    return result


def _join_wrapped(block: list[Unit], classifier: Classifier) -> list[Unit]:
    """Join a paragraph that was hard-wrapped over several lines back into one."""
    texts = [u for u in block if u.kind is Kind.TEXT]
    if len(texts) == len(block) >= 3 and _hard_wrapped([u.text for u in block]):
        return [_joined(block, classifier)]
    result: list[Unit] = []
    for unit in block:
        previous = result[-1] if result else None
        if previous and _continues(previous, unit):
            result[-1] = _joined([previous, unit], classifier)
        else:
            result.append(unit)
    return result


def _hard_wrapped(texts: list[str]) -> bool:
    lengths = [len(t) for t in texts[:-1]]
    open_ends = sum(not _ends_closed(t) for t in texts[:-1])
    lowercase_next = any(not _ends_closed(a) and b[:1].islower()
                         for a, b in zip(texts, texts[1:], strict=False))
    return (min(lengths) >= 45 and max(lengths) <= 100 and max(lengths) - min(lengths) <= 30
            and open_ends * 2 >= len(lengths) and lowercase_next
            and len(texts[-1]) <= max(lengths) + 5)


def _continues(previous: Unit, unit: Unit) -> bool:
    return (previous.kind is Kind.TEXT and unit.kind is Kind.TEXT and len(previous.text) >= 40
            and not _ends_closed(previous.text) and unit.text[:1].islower())


def _joined(units: list[Unit], classifier: Classifier) -> Unit:
    text = units[0].text
    for unit in units[1:]:
        glue = "" if text.endswith("-") and text[-2:-1].isalpha() else " "
        text = text + glue + unit.text
    joined = classifier.classify(units[0].line, text)
    return joined if joined.kind is not Kind.DROP else Unit(units[0].line, text)


def _mark_link_lists(units: list[Unit]) -> list[Unit]:
    """The short unpunctuated lines under a "Related" or "Most read" heading are links."""
    result = []
    in_list = False
    for unit in units:
        headline = not _ends_closed(unit.text) or (unit.text.endswith("?")
                                                   and _sentences(unit.text) == 1)
        if in_list and unit.kind is Kind.TEXT and headline and _words(unit.text) <= 25:
            unit = Unit(unit.line, unit.text, Kind.DROP,
                        reason="link under a related-links heading")
        elif unit.kind is not Kind.DROP:
            in_list = False
        in_list = in_list or unit.link_list
        result.append(unit)
    return result


def _mark_repeats(units: list[Unit]) -> list[Unit]:
    seen: set[str] = set()
    result = []
    for unit in units:
        key = unit.text.casefold()
        if key in seen and unit.kind in (Kind.TEXT, Kind.CAPTION, Kind.CREDIT, Kind.BYLINE):
            unit = Unit(unit.line, unit.text, Kind.DROP, reason="repeated line")
        if unit.reason != "table of contents entry":  # the later copy is the one to keep
            seen.add(key)
        result.append(unit)
    return result


# ---------------------------------------------------------------------------------------------
# Reading the units in order


def _headline_shape(text: str) -> bool:
    words = _words(text)
    return (2 <= words <= 30 and len(text) <= 250 and _sentences(text) == 1
            and not (text.endswith((".", ":", ";", ",")) and not text.endswith("..."))
            and not (text.isupper() and words <= 3) and not _BYLINE.match(text))


def _body_like(text: str) -> bool:
    return _words(text) >= 30 and _sentences(text) >= 2 or _words(text) >= 60


def _substantial(unit: Unit) -> bool:
    return unit.kind is Kind.TEXT and _ends_closed(unit.text) and _words(unit.text) >= 8


@dataclass
class _Reading:
    """What the reader has taken so far (internal; the result is built from it once)."""

    title: tuple[str, int] | None = None
    authors: tuple[tuple[str, ...], int] | None = None
    standfirst: tuple[str, int] | None = None
    caption: tuple[str, int] | None = None
    credit: tuple[str, int] | None = None
    translation: int | None = None
    source: tuple[str, int] | None = None
    dates: list[tuple[DateMention, int]] = field(default_factory=list)
    body: list[tuple[str, int, bool]] = field(default_factory=list)
    dropped: list[DroppedLine] = field(default_factory=list)
    entry_heads: set[int] = field(default_factory=set)  # lines right after a live-blog time stamp


class _Reader:
    """Walks the units once: before the headline, header, body, tail."""

    def __init__(self, units: list[Unit], classifier: Classifier, name: str):
        self.units = units
        self.classifier = classifier
        self.name = name
        self.taken = _Reading()
        self.caption_index: int | None = None
        self.pending_credit: tuple[str, int] | None = None
        self.tail_reason = "after the closing date line"

    # -- helpers ---------------------------------------------------------------------------

    def drop(self, index: int, reason: str) -> None:
        unit = self.units[index]
        self.taken.dropped.append(DroppedLine(unit.text, reason, unit.line))

    def next_index(self, index: int) -> int | None:
        return index + 1 if index + 1 < len(self.units) else None

    def pairs_with_credit(self, index: int) -> bool:
        """A sentence directly followed by a credit line is that photo's caption.

        Not the last paragraph: a sign-off such as "— AFP" after it is no photo credit.
        """
        following = self.next_index(index)
        unit = self.units[index]
        return (following is not None and self.units[following].kind is Kind.CREDIT
                and unit.kind is Kind.TEXT and _ends_closed(unit.text) and _words(unit.text) >= 3
                and any(u.kind is Kind.TEXT for u in self.units[following + 1:]))

    def is_alt_text(self, index: int, in_body: bool = False) -> bool:
        """A line beside a caption that says mostly the same: the photo's alt text."""
        text = self.units[index].text
        for other in range(max(0, index - 2), min(len(self.units), index + 3)):
            unit = self.units[other]
            caption = unit.caption if unit.kind is Kind.CAPTION else (
                unit.text if other != index and self.pairs_with_credit(other) else "")
            if caption and _similar(text, caption):
                return True
        return not in_body and bool(self.taken.caption and _similar(text, self.taken.caption[0]))

    # -- taking values ---------------------------------------------------------------------

    def take_caption(self, index: int, caption: str, credit: str) -> None:
        line = self.units[index].line
        pending, self.pending_credit = self.pending_credit, None
        if self.taken.caption is None:
            self.taken.caption = (caption, line)
            self.caption_index = index
            if credit:
                self.taken.credit = (credit, line)
            elif pending:
                self.taken.credit = pending
        elif _similar(caption, self.taken.caption[0]):
            self.drop(index, "repeated caption")
        else:
            self.drop(index, "caption of another photo")

    def take_credit(self, index: int) -> None:
        unit = self.units[index]
        previous = index - 1
        following = self.units[index + 1] if index + 1 < len(self.units) else None
        if (self.caption_index is not None and self.taken.credit is None
                and self.caption_index == previous):
            self.taken.credit = (unit.credit, unit.line)
        elif (self.taken.caption is None and following is not None
              and following.kind is Kind.CAPTION and not following.credit):
            self.pending_credit = (unit.credit, unit.line)
        elif self.credit_before_caption(index):
            self.pending_credit = (unit.credit, unit.line)
        elif self.taken.title is None and self.classifier.is_agency(unit.text):
            self.drop(index, "outlet name or credit before the headline")
        else:
            self.drop(index, "photo credit with no caption beside it")

    def credit_before_caption(self, index: int) -> bool:
        """ "Image: Getty Images" under the headline, then a one-line caption, then a byline."""
        following = self.next_index(index)
        if following is None or self.taken.caption is not None or self.taken.title is None:
            return False
        text = self.units[following].text
        return (self.units[following].kind is Kind.TEXT and _ends_closed(text)
                and 3 <= _words(text) <= 40 and _sentences(text) == 1
                and bool(_CREDIT_LABEL.match(self.units[index].text.strip("()[] ")))
                and self.furniture_follows(following))

    def take_authors(self, index: int, authors: tuple[str, ...]) -> None:
        if self.taken.authors is None:
            self.taken.authors = (authors, self.units[index].line)
        else:
            self.drop(index, "second byline")

    def add_authors(self, index: int, authors: tuple[str, ...]) -> None:
        """Authors from consecutive name lines add up."""
        if self.taken.authors is None:
            self.take_authors(index, authors)
        else:
            self.taken.authors = (self.taken.authors[0] + authors, self.taken.authors[1])

    def take_meta(self, index: int) -> bool:
        """Take a unit that is not plain text; False for plain text."""
        unit = self.units[index]
        if unit.kind is Kind.TEXT:
            return False
        if unit.kind is Kind.DROP:
            self.drop(index, unit.reason)
        elif unit.kind is Kind.NOTICE:
            if self.taken.translation is None:
                self.taken.translation = unit.line
        elif unit.kind is Kind.CAPTION:
            self.take_caption(index, unit.caption, unit.credit)
        elif unit.kind is Kind.CREDIT:
            self.take_credit(index)
        if unit.authors:
            self.take_authors(index, unit.authors)
        self.taken.dates.extend((d, unit.line) for d in unit.dates)
        return True

    def take_paired_caption(self, index: int) -> int:
        """Take a caption and the credit line after it; the index after both."""
        self.take_caption(index, self.units[index].text, self.units[index + 1].credit)
        return index + 2

    # -- the parts of a text ---------------------------------------------------------------

    def find_headline(self) -> int:
        candidates: list[int] = []
        for index, unit in enumerate(self.units):
            if unit.kind is not Kind.TEXT:
                continue
            if _body_like(unit.text):
                break
            if (_headline_shape(unit.text) and not self.pairs_with_credit(index)
                    and not self.is_alt_text(index)):
                candidates.append(index)
        texts = {i: self.units[i].text for i in candidates}
        strong = [i for i in candidates
                  if _words(texts[i]) >= 4 and not name_line_authors(texts[i])]
        medium = [i for i in candidates if _words(texts[i]) >= 3]
        chosen = (strong or medium or candidates or [None])[0]
        if chosen is None:
            raise BuildError([error(self.name, None, "no recognisable headline: the text should "
                                    "start with a headline line of a few words")])
        return chosen

    def read_before(self, headline: int) -> None:
        index = 0
        while index < headline:
            unit = self.units[index]
            if self.take_meta(index):
                index += 1
                continue
            if self.pairs_with_credit(index) and index + 1 < headline:
                index = self.take_paired_caption(index)
                continue
            authors = name_line_authors(unit.text) if index == headline - 1 else ()
            if self.is_alt_text(index):
                self.drop(index, "photo alt text")
            elif authors and self.taken.authors is None:
                self.take_authors(index, authors)
            else:
                self.drop(index, "before the headline (section label or page chrome)")
            index += 1

    def read_title(self, index: int) -> None:
        text = _WIRE_TAG.sub("", self.units[index].text) or self.units[index].text
        suffix = re.match(r"^(?P<title>.+?)\s+[|–—-]\s+(?P<outlet>[^|–—-]+)$", text)
        if suffix and _words(suffix.group("title")) >= 3 and (
                self.classifier.is_agency(suffix.group("outlet"))):
            text = suffix.group("title")
        site = re.match(r"^(?P<title>.+?)\s+\|\s+(?P<site>[^|]+)$", text)
        if site and _words(site.group("title")) >= 3 and _name_words(site.group("site"), 5,
                                                                     CREDIT_PARTICLES):
            text = site.group("title")  # a page title: "Headline | The Daily Ledger"
        self.taken.title = (text, self.units[index].line)

    def read_header(self, headline: int) -> int:
        """Take what sits between the headline and the body; return where the body starts."""
        index = headline + 1
        standfirst_open = True
        last_author = -1
        while index < len(self.units):
            unit = self.units[index]
            if self.take_meta(index):
                standfirst_open &= unit.kind not in (Kind.CAPTION, Kind.CREDIT)
                last_author = index if unit.authors else last_author
                index += 1
                continue
            if self.pairs_with_credit(index):
                index = self.take_paired_caption(index)
                standfirst_open = False
                continue
            if self.pending_credit and self.units[index - 1].kind is Kind.CREDIT:
                self.take_caption(index, unit.text, "")  # the caption under its credit
                standfirst_open = False
                index += 1
                continue
            authors = name_line_authors(unit.text)
            if self.is_alt_text(index):
                self.drop(index, "photo alt text")
            elif authors and (self.taken.authors is None or last_author == index - 1):
                self.add_authors(index, authors)
                last_author = index
            elif last_author == index - 1 and (_is_role(unit.text)
                                               or _REPORTING_FROM.match(unit.text)):
                self.drop(index, "the author's role")
            elif last_author == index - 1 and self.taken.authors and _about_author(
                    unit.text, self.taken.authors[0], role_needed=False):
                self.drop(index, "about the author")
            elif self.is_site_name(index):
                self.drop(index, "site name")
            elif standfirst_open and self.is_standfirst(index):
                self.taken.standfirst = (unit.text, unit.line)
                standfirst_open = False
            else:
                return index
            index += 1
        return index

    def is_site_name(self, index: int) -> bool:
        """A short Title Case name under the headline with a byline, date or chrome next."""
        text = self.units[index].text
        following = self.next_index(index)
        if (following is None or _words(text) > 5 or _ends_closed(text)
                or not _name_words(text, 5, CREDIT_PARTICLES) or name_line_authors(text)):
            return False
        unit = self.units[following]
        return (unit.kind in (Kind.BYLINE, Kind.DATE)
                or unit.kind is Kind.DROP and unit.reason in HEADER_CHROME
                or unit.kind is Kind.TEXT and bool(name_line_authors(unit.text)))

    def is_standfirst(self, index: int) -> bool:
        """The sub-headline: one sentence, no credit, no notice, not the story's first line."""
        text = self.units[index].text
        if index and self.units[index - 1].reason == "time stamp or video length":
            return False  # a live blog's first entry
        if (_words(text) < 4 or _words(text) > 60 or _sentences(text) != 1
                or text.endswith(":") or _opens_quote(text) or _DATELINE.match(text)
                or _DATELINE_AGENCY.match(text)):
            return False
        if not _ends_closed(text):
            return True
        return self.furniture_follows(index)

    def furniture_follows(self, index: int) -> bool:
        """True when a photo, byline, date or notice comes before the next plain paragraph."""
        for following in range(index + 1, len(self.units)):
            unit = self.units[following]
            if unit.kind is Kind.DROP and unit.reason not in HEADER_CHROME:
                continue
            if unit.kind is not Kind.TEXT:
                return True
            return (self.pairs_with_credit(following) or self.is_alt_text(following)
                    or bool(name_line_authors(unit.text)))
        return False

    def closing_date(self, start: int) -> int | None:
        """The last index of the closing date line(s): everything after them is the page's."""
        substantial = [i for i in range(start, len(self.units)) if _substantial(self.units[i])]
        for index in range(start, len(self.units)):
            unit = self.units[index]
            if unit.reason == "end of the release" and any(i < index for i in substantial):
                self.tail_reason = "after the end of the release"
                return index
            if self.units[index].kind is not Kind.DATE:
                continue
            before = sum(1 for i in substantial if i < index)
            after = len(substantial) - before
            labelled = any(d.kind != "date" for d in self.units[index].dates)
            # a bare date mid-story may be a timeline entry: only a labelled one cuts early
            if before and (after == 0 or labelled and after < before):
                while (index + 1 < len(self.units)
                       and self.units[index + 1].kind is Kind.DATE):
                    index += 1
                return index
        return None

    def read_body(self, start: int, end: int) -> None:
        quote_open = False
        for index in range(start, end):
            unit = self.units[index]
            if unit.kind is not Kind.TEXT and not (quote_open and unit.kind is Kind.CAPTION):
                self.take_meta(index)
                continue
            if index and self.units[index - 1].reason in ("time stamp or video length",
                                                          "relative time"):
                self.taken.entry_heads.add(unit.line)
            if quote_open:
                quote_open = unit.text[:1] in OPENING_QUOTES and _opens_quote(unit.text)
                self.taken.body.append((unit.text, unit.line, True))
            elif self.is_alt_text(index, in_body=True):
                self.drop(index, "photo alt text")
            elif self.pairs_with_credit(index) and self.taken.caption is None:
                self.take_caption(index, unit.text, "")
            else:
                quote_open = _opens_quote(unit.text)
                self.taken.body.append((unit.text, unit.line, quote_open))

    def read(self) -> _Reading:
        """Read the whole text."""
        headline = self.find_headline()
        self.read_before(headline)
        self.read_title(headline)
        start = self.read_header(headline)
        closing = self.closing_date(start)
        end = len(self.units) if closing is None else closing + 1
        self.read_body(start, end)
        for index in range(end, len(self.units)):
            self.drop(index, self.tail_reason)
        if not self.taken.body and self.taken.standfirst:
            self.taken.body.append((*self.taken.standfirst, False))
            self.taken.standfirst = None
        if not self.taken.body:
            raise BuildError([error(self.name, self.taken.title[1] if self.taken.title else None,
                                    "no article body found after the headline")])
        self.read_source()
        self.read_dateline_date()
        self.drop_author_bio()
        self.taken.dropped.sort(key=lambda d: d.line)
        return self.taken

    def read_dateline_date(self) -> None:
        """With no date line, a dateline with a full date ("PARIS, March 3, 2023 —") dates it."""
        text, line, _ = self.taken.body[0]
        match = _DATELINE_DATE.match(text)
        if self.taken.dates or not match:
            return
        when, note = parse_when(match.group("date"), self.classifier.tz)
        if when is not None:
            self.taken.dates.append((DateMention("date", when, note), line))

    def drop_author_bio(self) -> None:
        """A last paragraph about the author ("Jane Doe covers transport …") is the page's."""
        names = self.taken.authors[0] if self.taken.authors else ()
        text, line, _ = self.taken.body[-1]
        if len(self.taken.body) > 1 and _about_author(text, names, role_needed=True):
            self.taken.body.pop()
            self.taken.dropped.append(DroppedLine(text, "about the author", line))

    def read_source(self) -> None:
        """A wire dateline ("LONDON, June 8 (Reuters) -") names the original publisher."""
        text, line, _ = self.taken.body[0]
        match = _DATELINE_AGENCY.match(text)
        if match and (self.classifier.is_agency(match.group("agency"))
                      or _name_words(match.group("agency"), 3)):
            self.taken.source = (match.group("agency").strip(), line)


# ---------------------------------------------------------------------------------------------
# Body Markdown


def _about_author(text: str, names: Sequence[str], role_needed: bool) -> bool:
    """A line about the author: "Jane Doe covers transport …", "Ms Doe is a former engineer …"."""
    if _words(text) > 40:
        return False
    role = rf"[^.]*\b(?:{'|'.join(sorted(ROLE_WORDS))})\b" if role_needed else ""
    for name in names:
        who = rf"(?:{re.escape(name)}|(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.? {re.escape(name.split()[-1])})"
        if re.match(rf"{who}\s+(?:covers|writes|reports|edits)\b|"
                    rf"{who}\s+(?:is|was|has been) (?:a|an|the)\b{role}", text):
            return True
    return False


def _short_open(text: str) -> bool:
    # a closing quote after a word does not end a sentence: "Union says members are ‘ready’"
    unquoted = text.rstrip("’”\"»") if text[-1:] in "’”\"»" and text[-2:-1].isalnum() else text
    return _words(text) <= 12 and len(text) <= 90 and not _ends_closed(unquoted)


_CONTRIBUTORS = re.compile(r"^(?:additional )?(?:reporting|writing|editing|compiled|produced|"
                           r"research|graphics) by\b", re.IGNORECASE)


def _crosshead_shape(text: str) -> bool:
    """Short, unpunctuated, and not a quote, a list item or a contributors' line."""
    return (_short_open(text) and text[0].isalnum() and ";" not in text
            and not re.match(r"[-•*·–—]|\d+[.)]\s", text) and not _CONTRIBUTORS.match(text))


def body_blocks(body: Sequence[tuple[str, int, bool]], entry_heads: frozenset[int] = frozenset()
                ) -> tuple[list[tuple[str, bool]], list[DroppedLine]]:
    """Paragraphs and crossheads (text, is_crosshead) in order; trailing promos dropped.

    `entry_heads` are lines after a live blog's time stamp: a crosshead there may open the body.
    """
    items = list(body)
    dropped = []
    while (len(items) > 1 and _short_open(items[-1][0]) and not items[-1][2]
           and not _CONTRIBUTORS.match(items[-1][0])):
        text, line, _ = items.pop()
        dropped.append(DroppedLine(text, "after the body (promotion or link)", line))
    blocks = []
    for index, (text, line, quoted) in enumerate(items):
        previous_ok = line in entry_heads or index > 0 and not _short_open(items[index - 1][0])
        next_ok = index + 1 < len(items) and not _short_open(items[index + 1][0])
        crosshead = _crosshead_shape(text) and not quoted and previous_ok and next_ok
        blocks.append((text, crosshead))
    return blocks, dropped


def render_body(blocks: Sequence[tuple[str, bool]]) -> str:
    """The Markdown body: escaped paragraphs, `## ` crossheads, blank lines between."""
    parts = [("## " + escape_markdown(text, heading=True)) if crosshead else escape_markdown(text)
             for text, crosshead in blocks]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Putting it together


@dataclass(frozen=True)
class _Dates:
    published: datetime | None
    updated: datetime | None
    fields: tuple[FoundField, ...]
    warnings: tuple[Problem, ...]


def _iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat()


def resolve_dates(mentions: Sequence[tuple[DateMention, int]], tz: ZoneInfo, name: str,
                  given: datetime | None, now: datetime | None) -> _Dates:
    """`date` and `updated` from the text's date lines and the --date option."""
    notes = tuple(warning(name, line, m.note) for m, line in mentions if m.note)
    published = next(((m.when, f"line {line}") for m, line in mentions if m.kind != "updated"),
                     None)
    updates = [(m.when, f"line {line}") for m, line in mentions if m.kind == "updated"]
    updated = max(updates, key=lambda u: u[0]) if updates else None
    warnings: list[Problem] = list(notes)
    if given is not None:
        given = given if given.tzinfo else given.replace(tzinfo=tz)
        if published is None:
            published = (given, "--date")
        else:
            warnings.append(warning(name, None, "--date ignored: the text gives the date"))
    if published is None and updated is not None:
        published = updated
    if published is None and now is not None:
        published = (now.astimezone(tz), "import time")
        warnings.append(warning(name, None, "no date in the text: the import time was used; "
                                "give --date to set it"))
    if published is None:
        raise BuildError([error(name, None, "no date in the text: give --date")])
    if updated is not None and updated[0] < published[0]:
        warnings.append(warning(name, None, "the 'Updated' time is before the publication "
                                "date; left out"))
        updated = None
    found = [FoundField("date", _iso(published[0]), published[1])]
    if updated is not None:
        found.append(FoundField("updated", _iso(updated[0]), updated[1]))
    return _Dates(published[0], updated[0] if updated else None, tuple(found), tuple(warnings))


def _origin(line: int) -> str:
    return f"line {line}"


def front_matter(reading: _Reading, dates: _Dates, topic: str | None,
                 authors: tuple[str, ...]) -> dict[str, Any]:
    """The front matter mapping, in the house order of fields."""
    meta: dict[str, Any] = {"title": reading.title[0] if reading.title else ""}
    meta["date"] = _iso(dates.published) if dates.published else None
    if dates.updated:
        meta["updated"] = _iso(dates.updated)
    if authors:
        meta["author"] = authors[0] if len(authors) == 1 else list(authors)
    if reading.standfirst:
        meta["standfirst"] = reading.standfirst[0]
    if topic:
        meta["topic"] = topic
    if reading.caption:
        image = {"caption": reading.caption[0]}
        if reading.credit:
            image["credit"] = reading.credit[0]
        meta["image"] = image
    if reading.translation is not None:
        meta["translation"] = "machine"
    if reading.source:
        meta["source"] = {"name": reading.source[0]}
    return meta


def _found_fields(reading: _Reading, authors: tuple[tuple[str, ...], str] | None,
                  topic: str | None) -> list[FoundField]:
    found = []
    if reading.title:
        found.append(FoundField("title", reading.title[0], _origin(reading.title[1])))
    if authors:
        found.append(FoundField("author", ", ".join(authors[0]), authors[1]))
    for key in ("standfirst", "caption", "credit"):
        value = getattr(reading, key)
        if value:
            name = key if key == "standfirst" else f"image.{key}"
            found.append(FoundField(name, value[0], _origin(value[1])))
    if topic:
        found.append(FoundField("topic", topic, "--topic"))
    if reading.translation is not None:
        found.append(FoundField("translation", "machine", _origin(reading.translation)))
    if reading.source:
        found.append(FoundField("source", reading.source[0], _origin(reading.source[1])))
    return found


def import_text(text: str, *, name: str, rules: ImportRules, tz: ZoneInfo,
                topic: str | None = None, author: str | None = None,
                date: datetime | None = None, now: datetime | None = None) -> ImportResult:
    """Turn raw article text into a Markdown article file; raise BuildError if it has no story.

    `topic`, `author` and `date` fill what the text lacks; `now` dates a text with no date
    at all (without it, such a text is an error).
    """
    classifier = Classifier(rules, tz)
    units = read_units(clean_lines(text), classifier)
    if not any(u.kind is Kind.TEXT for u in units):
        raise BuildError([error(name, None, "no headline or body text found")])
    reading = _Reader(units, classifier, name).read()
    dates = resolve_dates(reading.dates, tz, name, date, now)
    authors, author_warnings = _resolve_authors(reading, author, name)
    blocks, trailing = body_blocks(reading.body, frozenset(reading.entry_heads))
    slug = slugify(reading.title[0] if reading.title else "", max_length=80, word_boundary=True)
    if not slug:
        raise BuildError([error(name, reading.title[1] if reading.title else None,
                                "the headline has no letters or digits to make a file name")])
    meta = front_matter(reading, dates, topic, authors[0] if authors else ())
    dumped = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    fields = _found_fields(reading, authors, topic)
    fields[1:1] = dates.fields
    return ImportResult(
        slug=slug,
        markdown=f"---\n{dumped}---\n\n{render_body(blocks)}",
        fields=tuple(fields),
        dropped=tuple(sorted(reading.dropped + trailing, key=lambda d: d.line)),
        warnings=dates.warnings + author_warnings,
        paragraphs=tuple(text for text, crosshead in blocks if not crosshead),
        crossheads=tuple(text for text, crosshead in blocks if crosshead),
    )


def validate_article(result: ImportResult, config: Config, rel: str) -> list[Problem]:
    """The problems a build would find in the imported file's front matter (same checks)."""
    front, front_line, body, body_line, problems = split_front_matter(result.markdown, rel)
    document, found = load_yaml(front, rel, front_line) if not problems else (None, [])
    problems += found
    if document is None:
        return problems
    source = Source(config.root / rel, rel, document, body, body_line)
    return problems + Article.from_source(source, config)[1]


def _resolve_authors(reading: _Reading, option: str | None, name: str
                     ) -> tuple[tuple[tuple[str, ...], str] | None, tuple[Problem, ...]]:
    if reading.authors:
        found = (reading.authors[0], _origin(reading.authors[1]))
        if option and option not in reading.authors[0]:
            return found, (warning(name, reading.authors[1],
                                   f"--author ignored: the text names {', '.join(found[0])}"),)
        return found, ()
    if option:
        return ((option,), "--author"), ()
    return None, ()
