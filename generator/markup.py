"""Markdown to safe HTML: Python-Markdown, then an allowlist sanitiser (nh3)."""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as etree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

# What Markdown and its default extensions emit, and what newsroom copy reasonably embeds.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
})
ALLOWED_ATTRIBUTES = {
    "*": {"id", "class", "title", "lang", "dir"},
    "a": {"href", "hreflang", "rel"},
    "img": {"src", "alt", "width", "height", "loading"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start", "reversed", "type"},
    "time": {"datetime"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "abbr": {"title"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


@dataclass(frozen=True)
class MarkdownSettings:
    """Everything that decides how a Markdown body becomes HTML (part of the cache key)."""

    extensions: tuple[str, ...]
    extension_configs: tuple[tuple[str, Any], ...] = ()
    unsafe_html: bool = False

    @classmethod
    def of(cls, extensions: tuple[str, ...], configs: Mapping[str, Any], unsafe: bool
           ) -> MarkdownSettings:
        """Settings from config values, in a hashable form."""
        return cls(tuple(extensions), tuple(sorted((k, _freeze(v)) for k, v in configs.items())),
                   unsafe)


# Python-Markdown's own extensions, by the short names it knows them by.
_BUILT_IN = frozenset(("abbr", "admonition", "attr_list", "codehilite", "def_list", "extra",
                       "fenced_code", "footnotes", "legacy_attrs", "legacy_em", "md_in_html",
                       "meta", "nl2br", "sane_lists", "smarty", "tables", "toc", "wikilinks"))


def extension_packages(extensions: tuple[str, ...]) -> tuple[str, ...]:
    """The top-level packages besides Python-Markdown whose code the named extensions run (a
    third-party extension's own package; Pygments for codehilite), found as Python-Markdown
    finds them: a registered short name, else a module path. Their versions decide the HTML as
    much as Python-Markdown's does."""
    found = set()
    registered: dict[str, str] | None = None
    for name in extensions:
        if name in _BUILT_IN or name.startswith("markdown.extensions."):
            module = f"markdown.extensions.{name.rpartition('.')[2]}"
        else:
            if registered is None:  # reads every installed package's metadata: only if needed
                from importlib.metadata import entry_points
                registered = {ep.name: ep.value.partition(":")[0]
                              for ep in entry_points(group="markdown.extensions")}
            module = registered.get(name, name.partition(":")[0])
        if module == "markdown.extensions.codehilite":
            found.add("pygments")  # highlights with it when it is installed
        top = module.split(".")[0]
        if top not in ("markdown", "generator"):
            found.add(top)
    return tuple(sorted(found))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(i, tuple) and len(i) == 2 for i in value):
        return {k: _thaw(v) for k, v in value}
    return value


@dataclass(frozen=True)
class RenderedBody:
    """An article body as safe HTML, with its first paragraph and word count."""

    html: str
    first_paragraph: str
    words: int


class MarkupError(ValueError):
    """A Markdown body that cannot be converted; the build reports it against the article."""


# Python-Markdown scans to the end of a paragraph for every '[' it cannot match, so thousands
# of them in one paragraph take minutes (no real paragraph has a fraction of this many).
MAX_BRACKETS_PER_PARAGRAPH = 2000
_SIMPLE_BRACKETS = re.compile(  # [text](url "title"), [text][ref], [text] not before '('
    r"!?\[[^\[\]\n]*\](?:\([^()\s]*(?:\s+\"[^\"\n]*\")?\)|\[[^\[\]\n]*\]|(?!\())")


def _check_brackets(text: str) -> None:
    """Refuse a paragraph with so many '[' that converting it would take minutes."""
    if text.count("[") <= MAX_BRACKETS_PER_PARAGRAPH:
        return
    for paragraph in re.split(r"\n[ \t]*\n", text):
        count = _SIMPLE_BRACKETS.sub("", paragraph).count("[")  # ordinary links are quick
        if count > MAX_BRACKETS_PER_PARAGRAPH:
            raise MarkupError(f"a paragraph has {count:,} '[' characters (at most "
                              f"{MAX_BRACKETS_PER_PARAGRAPH:,}): converting it would take "
                              "minutes; write them as \\[ or split the paragraph")


def check_extensions(names: list[str]) -> list[str]:
    """Messages for extension names Python-Markdown cannot load."""
    messages = []
    for name in names:
        try:
            markdown.Markdown(extensions=[name])
        except Exception as exc:  # any import or setup failure means the name is unusable
            messages.append(f"Markdown extension '{name}' cannot be loaded: {exc}")
    return messages


@functools.lru_cache(maxsize=8)
def _converter(settings: MarkdownSettings) -> markdown.Markdown:
    configs = {k: _thaw(v) for k, v in settings.extension_configs}
    return markdown.Markdown(extensions=[*settings.extensions, _OneHeadline()],
                             extension_configs=configs, output_format="html")


class _DemoteH1(Treeprocessor):
    """A page has one h1, its headline: a `# Heading` in a body becomes an h2."""

    def run(self, root: etree.Element) -> None:
        for element in root.iter("h1"):
            element.tag = "h2"


class _OneHeadline(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        # Before toc (priority 5), so ids and a [TOC] list see the demoted level.
        md.treeprocessors.register(_DemoteH1(md), "briefing_demote_h1", 30)


def sanitise(fragment: str) -> str:
    """Remove everything not on the allowlist: scripts, handlers, unsafe URLs, styles."""
    return _cleaner()(fragment)


@functools.cache
def _cleaner() -> Callable[[str], str]:
    # nh3.clean builds its sanitiser from the allowlists on every call, half the cost of
    # cleaning an article; nh3.Cleaner (newer nh3) builds it once and cleans the same way.
    options: dict[str, Any] = dict(
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )
    cleaner = getattr(nh3, "Cleaner", None)
    if cleaner is None:
        return functools.partial(nh3.clean, **options)
    return cleaner(**options).clean


def render_markdown(text: str, settings: MarkdownSettings) -> RenderedBody:
    """Convert one Markdown document to HTML that is safe to put in a page."""
    _check_brackets(text)
    converter = _converter(settings)
    converter.reset()
    try:
        body = converter.convert(text)
    except RecursionError:
        converter.reset()
        raise MarkupError("the Markdown is nested too deeply (lists or quotes inside each "
                          "other hundreds of levels deep) to convert") from None
    if not settings.unsafe_html:
        body = sanitise(body)
    found = None if settings.unsafe_html else _extract_sanitised(body)
    if found is None:
        extractor = _TextExtractor()
        extractor.feed(body)
        extractor.close()
        found = extractor.first_paragraph, extractor.words
    return RenderedBody(body, found[0].strip(), found[1])


def render_inline(text: str, settings: MarkdownSettings) -> str:
    """Markdown for a short note (an edition's closing item): safe HTML."""
    return render_markdown(text, settings).html


class _TextExtractor(HTMLParser):
    """Collects the text of the first top-level paragraph and counts words."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.first_paragraph = ""
        self.words = 0
        self._depth = 0
        self._in_first = False
        self._done = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "sup":
            self._skip += 1
        if tag == "p" and self._depth == 0 and not self._done:
            self._in_first = True
        if tag not in _VOID:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "sup" and self._skip:
            self._skip -= 1
        if tag not in _VOID:
            self._depth = max(0, self._depth - 1)
        if tag == "p" and self._in_first and self._depth == 0:
            self._in_first = False
            self._done = bool(self.first_paragraph.strip())

    def handle_data(self, data: str) -> None:
        self.words += len(data.split())
        if self._in_first and not self._skip:
            self.first_paragraph += data


_VOID = frozenset({"br", "hr", "img", "wbr", "col", "input", "meta", "link"})
_TAG = re.compile(r"<(/?)([a-zA-Z][^\t\n\r\f />\x00]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_RAW_TEXT_TAG = re.compile(r"</?(?:script|style)", re.IGNORECASE)  # HTMLParser's CDATA tags


def _extract_sanitised(fragment: str) -> tuple[str, int] | None:
    """What _TextExtractor finds (first paragraph, words), for the sanitiser's well-formed
    output, without HTMLParser's per-character work; None for anything it would parse
    differently (comments, declarations, a stray '<'), which then goes to _TextExtractor."""
    if "<!" in fragment or "<?" in fragment:
        return None
    first: list[str] = []
    words = depth = skip = 0
    in_first = done = False
    position = 0

    def data(text: str) -> None:
        nonlocal words
        text = html.unescape(text)
        words += len(text.split())
        if in_first and not skip:
            first.append(text)

    for match in _TAG.finditer(fragment):
        text = fragment[position:match.start()]
        if "<" in text:
            return None
        if text:
            data(text)
        position = match.end()
        closing, tag = match.group(1) == "/", match.group(2).lower()
        if tag in ("script", "style"):  # HTMLParser reads their content as raw text
            return None
        if not closing:
            if tag == "sup":
                skip += 1
            if tag == "p" and depth == 0 and not done:
                in_first = True
            if tag not in _VOID:
                depth += 1
        if closing or match.group(3).endswith("/"):
            if tag == "sup" and skip:
                skip -= 1
            if tag not in _VOID:
                depth = max(0, depth - 1)
            if tag == "p" and in_first and depth == 0:
                in_first = False
                done = bool("".join(first).strip())
                if done and not _RAW_TEXT_TAG.search(fragment, position):
                    # The rest only adds words: all at once, each tag as a space (a word never
                    # spans a tag, and an entity ends at one as at the end of a text), counts
                    # as many as text by text, at a tenth of the time.
                    text = _TAG.sub(" ", fragment[position:])
                    if "<" in text:
                        return None
                    return "".join(first), words + len(html.unescape(text).split())
    rest = fragment[position:]
    if "<" in rest:
        return None
    if rest:
        data(rest)
    return "".join(first), words


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def cut_at_word(text: str, limit: int = 240) -> str:
    """Shorten text to at most `limit` characters at a word boundary, ending with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:—–- ")
    return cut + "…"


_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")')


def rewrite_links(fragment: str, resolve: Callable[[str], str | None]) -> str:
    """Replace each link target for which `resolve` returns a new one (sanitised HTML only)."""
    def replace(match: re.Match[str]) -> str:
        target = resolve(html.unescape(match.group(2)))
        if target is None:
            return match.group(0)
        return match.group(1) + html.escape(target, quote=True) + match.group(3)
    return _HREF.sub(replace, fragment)
