"""Incremental page rendering: what each page read of the site model, and whether it changed.

While a page renders, every attribute read on the site model's objects (the site, its
articles, editions, listings and list pages) is recorded, whether the read comes from a
template, a filter or a Python helper: the classes' `__getattribute__` is swapped for a
recording one for the duration (`tracking()`), and only while a page is being rendered
(`reading()`) are reads kept. A page's record is the digest of its template and context, the
reads it made as (object key, attribute) pairs, and a fingerprint of the value each pair gave.

The next build looks each pair up again in its own site model. A page whose template,
context and every read value are unchanged, and whose previous file is still intact in the
output folder, is not rendered: the writer keeps the previous file. Anything that cannot be
fingerprinted makes its page render every time; records from other code, layouts, settings
or another output are never used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import operator
import pickle
import sqlite3
import sys
import types
from array import array
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import generator
from generator.cache import package_version, settings_digest
from generator.config import Config
from generator.markup import MarkdownSettings
from generator.models import Article, check_context
from generator.render import OutputFile, PageJob
from generator.site import Edition, Listing, Page, Site

PAGES_FORMAT = "briefing-page-records/5"
# Model classes whose attribute reads are recorded; every object of these the site model
# holds has a key that names it from build to build.
TRACKED: tuple[type, ...] = (Site, Article, Edition, Listing, Page)

_reads: set[tuple[int, str]] | None = None  # the page being rendered, see reading()
_MISSING: Any = object()
_SMALL_DUMP = 1 << 16  # bytes; see ModelIndex._pickler
_TRACKED_SET = frozenset(TRACKED)
# Values that are their own form in a fingerprint (see ModelIndex._form).
_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})
_SHARED_MODULES = frozenset({"generator.models"})
_FIELDS: dict[type, tuple[str, ...]] = {}
# Per class: how the pickler shows an instance (a function giving its field values in order),
# or None for a class that is not a dataclass.
_SHAPES: dict[type, Any] = {}
_CODE: dict[tuple[type, str], bool] = {}
_CODE_NAMES: dict[type, frozenset[str]] = {}
_installed = 0
# The array type of a page's pair numbers: unsigned, 4 bytes (none is negative, so loading
# checks only the largest; none is 0, which the changed set always holds, see changed_pairs).
_IDS = "I" if array("I").itemsize == 4 else "L"
_IDS_SIZE = array(_IDS).itemsize
# The fingerprints of None, False, True and the empty tuple (see ModelIndex.fingerprint).
_CONSTANTS: dict[Any, bytes] = {
    value: hashlib.sha256(b"c" + name).digest()[:12]
    for value, name in ((None, b"None"), (False, b"False"), (True, b"True"), ((), b"()"))}


def _recording_getattribute(self: object, name: str, _get: Any = object.__getattribute__,
                            _id: Any = id) -> Any:
    # Runs for every attribute read on the model while pages render (about 130 a page):
    # the builtins are bound as defaults, which saves two global lookups a read.
    value = _get(self, name)
    reads = _reads
    if reads is not None:
        reads.add((_id(self), name))
    return value


@contextmanager
def tracking() -> Iterator[None]:
    """Record attribute reads on the tracked model classes (only inside `reading()`)."""
    global _installed
    if _installed == 0:
        for cls in TRACKED:
            cls.__getattribute__ = _recording_getattribute  # type: ignore[method-assign]
    _installed += 1
    try:
        yield
    finally:
        _installed -= 1
        if _installed == 0:
            for cls in TRACKED:
                if "__getattribute__" in cls.__dict__:
                    delattr(cls, "__getattribute__")


@contextmanager
def reading() -> Iterator[set[tuple[int, str]]]:
    """The reads made inside the block, as (id of object, attribute name)."""
    global _reads
    outer, _reads = _reads, set()
    try:
        yield _reads
    finally:
        _reads = outer


class ModelIndex:
    """The site model's tracked objects by key, and the fingerprints of values read from them.

    Keys: `site`, `article:<source path>`, `edition:<url>`, `listing:<kind>:<slug>`,
    `page:<url>`. Fingerprints are memoised for the build (the model is immutable)."""

    def __init__(self, site: Site, inputs: Mapping[str, bytes] | None = None):
        listings = (*site.topics, *site.tags, *site.authors)
        pairs: list[tuple[str, object]] = [("site", site)]
        pairs += [(f"article:{article.path}", article) for article in site.articles]
        pairs += [(f"edition:{edition.url}", edition) for edition in site.editions]
        pairs += [(f"listing:{listing.kind}:{listing.slug}", listing) for listing in listings]
        pairs += [(f"page:{page.url}", page) for listing in listings for page in listing.pages]
        self.objects: dict[str, object] = dict(pairs)
        self.ambiguous = False
        if len(self.objects) != len(pairs):  # a key given twice: the first object keeps it
            self.objects = {}
            for key, obj in pairs:
                self._add(key, obj)
        self.key_of = {id(obj): key for key, obj in self.objects.items()}
        # What each article is made from (`article_inputs`), by its key: see `inputs()`.
        self._inputs = {f"article:{path}": made for path, made in (inputs or {}).items()}
        self.kind_of = {id(obj): type(obj) for obj in self.objects.values()}
        self._values: dict[tuple[str, str], bytes | None] = {}
        self._objects: dict[str, bytes | None] = {}
        # One pickler for the fingerprints (its memo cleared each time): a build takes tens of
        # thousands, and making a pickler costs about as much as a small dump. A pickler keeps
        # an output buffer as big as its biggest dump and allocates one that size for every
        # dump after, so after a big one (a sitemap's entries) a fresh pickler is made.
        self._parts: list[bytes] = []
        self._pickler = self._new_pickler()
        self._plain_pickler = self._new_plain_pickler()
        # Forms by id, with the object, so its id cannot be reused while the form is kept:
        # tracked objects' references (`["@", key]`) and the forms made once a build (of
        # datetimes and of frozen dataclass instances from the models: tags, topics, bylines),
        # each added when first made.
        self._memo: dict[int, tuple[object, list]] = {}
        self._zones: dict[int, tuple[object, str]] = {}
        self._numbering: Numbering | None = None

    def _new_pickler(self) -> _Pickler:
        return _Pickler(types.SimpleNamespace(write=self._parts.append), self.key_of)

    def _new_plain_pickler(self) -> pickle.Pickler:
        # Without a memo ("fast" mode), a form pickles the same however its parts are shared:
        # an article's strings are equal, not the same objects, after a cold parse and when
        # read from the source cache, and must fingerprint the same either way.
        pickler = pickle.Pickler(types.SimpleNamespace(write=self._parts.append), protocol=5)
        pickler.fast = True
        return pickler

    def inputs(self, key: str) -> bytes | None:
        """What the object at `key` is made from, when that is known (for an article: see
        `article_inputs`): an object whose inputs are as they were when its fingerprint was
        recorded has that fingerprint still. None when not known."""
        return self._inputs.get(key)

    def numbering(self) -> Numbering:
        """This build's numbers for the pairs (see `Numbering`), made once a build."""
        if self._numbering is None:
            self._numbering = Numbering(self.objects)
        return self._numbering

    def _add(self, key: str, obj: object) -> None:
        other = self.objects.setdefault(key, obj)
        if other is not obj:
            self.ambiguous = True  # two objects, one key: no record can be trusted

    def value(self, key: str, name: str, remember: bool = True) -> bytes | None:
        """The fingerprint of `object[key].name` in this model; None when it cannot be read or
        fingerprinted (the page must render)."""
        pair = (key, name)
        found = self._values.get(pair, _MISSING)
        if found is not _MISSING:
            return found
        found = None
        obj = self.objects.get(key)
        if obj is not None:
            try:
                value = object.__getattribute__(obj, name)
            except Exception:  # gone, or its property fails: the page must render
                value = _MISSING
            if value is not _MISSING:
                found = self.fingerprint(value)
        if remember:
            self._values[pair] = found
        return found

    def field_value(self, obj: object, name: str) -> bytes | None:
        """`value(key, name)` for the object at `key` (`obj` itself), not remembered."""
        try:
            value = object.__getattribute__(obj, name)
        except Exception:  # gone, or its property fails: the page must render
            return None
        return self.fingerprint(value)

    def known_value(self, key: str, fingerprint: bytes) -> None:
        """Take `fingerprint` as `object_value(key)` for this build: the object is made from
        the same inputs as the one it was recorded for (see `inputs`)."""
        self._objects[key] = fingerprint

    def object_value(self, key: str) -> bytes | None:
        """The fingerprint of every field of `object[key]` at once; None if there is none, and
        for the site itself, whose clock changes every build."""
        found = self._objects.get(key, _MISSING)
        if found is _MISSING:
            obj = self.objects.get(key)
            found = None
            if obj is not None and type(obj) is not Site:
                try:
                    found = self._digest(self._items("O", _field_values(obj)))
                except (_NoForm, RecursionError):
                    found = None
            self._objects[key] = found
        return found

    def fingerprint(self, value: Any) -> bytes | None:
        """A digest equal for equal values and different otherwise, naming tracked objects by
        key (their attributes are read, and recorded, separately); None for a value with no
        stable form (a lambda, an open file), which makes its pages render every time."""
        # Most values read are strings (a cold build fingerprints 180,000): hashed as they are,
        # after an "s" (a form's pickle starts with its protocol byte, never "s").
        kind = type(value)
        if kind is str:
            return hashlib.sha256(b"s" + value.encode("utf-8", "surrogatepass")).digest()[:12]
        # Then None, booleans, integers and () (a third of an article's fields): by a constant
        # or after an "i", never through pickle.
        if kind is int:
            return hashlib.sha256(b"i%d" % value).digest()[:12]
        if value is None or kind is bool or (kind is tuple and not value):
            return _CONSTANTS[value]
        try:
            form = self._form(value)
        except (_NoForm, RecursionError):
            return None
        return self._digest(form)

    def job_fingerprint(self, template: str, info: object, context: Mapping[str, Any],
                        basis: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None
                        ) -> bytes | None:
        """The fingerprint of a page job: its template, page info and context (by name); or,
        given the `basis` they are made from (`render.PageJob.basis`), its template, the keys
        of the basis's objects with the fingerprint of all the fields of those in `basis[0]`
        (known without hashing for an article whose inputs are as recorded, see
        `PageRecords.changed_pairs`; a list page's is made anyway), and its plain values: an
        article or list page's is not made again from its title, URL and description (about
        8 and 6 µs a page)."""
        if basis is not None:
            found = self._basis_fingerprint(template, basis)
            if found is not None:
                return found
        try:
            form = self._items("J", (template, info, *itertools.chain.from_iterable(
                sorted(context.items()))))
        except (_NoForm, RecursionError):
            return None
        return self._digest(form)

    def _basis_fingerprint(self, template: str, basis: tuple[tuple[Any, ...], tuple[Any, ...]]
                           ) -> bytes | None:
        """A job's fingerprint from its basis; None when an object of it is not indexed or
        has no fingerprint."""
        whole, named = basis
        key_of = self.key_of.get
        form: list[Any] = ["B", template, len(whole)]
        for obj in whole:
            key = key_of(id(obj))
            if key is None:
                return None
            found = self.object_value(key)
            if found is None:
                return None
            form += (key, found)
        for obj in named:
            if type(obj) in _PLAIN:
                form.append(["v", obj])
            elif (key := key_of(id(obj))) is not None:
                form.append(key)
            else:
                return None
        return self._digest(form)

    def _digest(self, form: Any) -> bytes | None:
        """The digest of a form's pickle."""
        parts = self._parts
        parts.clear()
        try:
            self._plain_pickler.dump(form)
        except Exception:  # pickle's errors, recursion: no stable form
            self._plain_pickler = self._new_plain_pickler()
            return None
        data = b"".join(parts)
        if len(data) > _SMALL_DUMP:
            self._plain_pickler = self._new_plain_pickler()
        return hashlib.sha256(data).digest()[:12]

    def _form(self, value: Any) -> Any:
        """`value` as plain data that pickles with no Python code run (strings, numbers,
        datetimes, tuples and lists): tracked objects become their keys, and every other
        object a list whose first item says what it was (lists from the value itself are
        tagged too, so no two different values have the same form). The forms of datetimes
        and of the articles' shared parts are made once a build (they do not change while
        they live, and the memo keeps each one, so its id is not reused)."""
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is tuple:
            if len(value) < 8:  # a byline's or tags: quicker taken item by item
                return self._items("T", value)
            kinds = set(map(type, value))
            if kinds <= _PLAIN:
                return value
            if kinds <= _TRACKED_SET:
                keys = list(map(self.key_of.get, map(id, value)))
                if None not in keys:
                    keys.insert(0, "t")  # a list of the model's objects, by key
                    return keys
            if len(kinds) == 1 and (flat := self._flat("T", value, kinds.pop())) is not None:
                return flat
            return self._items("T", value)
        shape = _SHAPES.get(kind, _MISSING)
        if shape is _MISSING:
            shape = _SHAPES[kind] = _shape(kind)
        if shape is not None:  # a dataclass (page infos, neighbours...): checked first
            name, shared, fields = shape
            if (shared or kind in _TRACKED_SET) and (found := self._memo.get(
                    id(value))) is not None:
                return found[1]
            if kind in _TRACKED_SET and (key := self.key_of.get(id(value))) is not None:
                form = ["@", key]
                self._memo[id(value)] = (value, form)
                return form
            try:
                values = fields(value)
            except (KeyError, AttributeError):  # a field set past __init__'s reach
                values = _field_values(value)
            form = self._items(name, values)
            if shared:
                self._memo[id(value)] = (value, form)
            return form
        if kind is datetime:
            # Its fields as pickle keeps them (fold included), and its zone: pickling the
            # datetime itself would look its class up by module and name every time. Made
            # once a build: an article's date is also its sitemap entry's and feed entries'.
            found = self._memo.get(id(value))
            if found is not None:
                return found[1]
            state = value.__reduce_ex__(4)[1]
            form = ["d", state[0], self._zone(state[1])] if len(state) > 1 else ["d", state[0]]
            self._memo[id(value)] = (value, form)
            return form
        if kind is dict:
            return self._items("D", itertools.chain.from_iterable(value.items())) if value else [
                "D"]
        if kind is list:
            if len(value) >= 8:
                kinds = set(map(type, value))
                if len(kinds) == 1 and (flat := self._flat("L", value, kinds.pop())) is not None:
                    return flat
            return self._items("L", value)
        if kind is date:
            return ["y", value.toordinal()]
        # Anything else (a str subclass, a set, a built-in function): pickled, by class.
        found = self._pickled(value)
        if found is None:
            raise _NoForm
        return ["p", found]

    def _items(self, tag: str, values: Iterable[Any]) -> list:
        """`[tag, *forms of values]`; a value that is its own form, and one whose form is in
        the memo (a tracked object's reference, a datetime's, a shared part's), taken here."""
        form, plain, memo = self._form, _PLAIN, self._memo.get
        forms = [value if type(value) in plain
                 else found[1] if (found := memo(id(value))) is not None
                 else form(value) for value in values]
        forms.insert(0, tag)
        return forms

    def _flat(self, tag: str, values: tuple | list, kind: type) -> list | None:
        """The flat form of a tuple (`tag` "T") or list ("L") of instances of one dataclass:
        `["F", tag, class name, *forms of every instance's fields in order]` (the class says
        how many fields each has, so no two different values have the same form); None when
        `kind` is not a dataclass. A sitemap's 15,000 entries are one list, not 15,000."""
        shape = _SHAPES.get(kind, _MISSING)
        if shape is _MISSING:
            shape = _SHAPES[kind] = _shape(kind)
        if shape is None or kind in _TRACKED_SET:  # the model's objects go by key
            return None
        name, _, fields = shape
        try:
            parts = list(itertools.chain.from_iterable(map(fields, values)))
        except (KeyError, AttributeError):  # a field set past __init__'s reach
            parts = list(itertools.chain.from_iterable(map(_field_values, values)))
        parts[0:0] = (tag, name)
        return self._items("F", parts)

    def _zone(self, zone: object) -> Any:
        """A time zone's form, made once a build: a named zone by its name, a fixed offset by
        its offset and name, any other by its repr."""
        found = self._zones.get(id(zone))
        if found is None:
            kind = type(zone)
            if kind is ZoneInfo and zone.key is not None:  # type: ignore[attr-defined]
                form = ["z", zone.key]  # type: ignore[attr-defined]
            elif kind is timezone:
                offset = zone.utcoffset(None)  # type: ignore[attr-defined]
                form = ["o", offset.days, offset.seconds, offset.microseconds,
                        zone.tzname(None)]  # type: ignore[attr-defined]
            else:
                form = ["r", repr(zone)]
            self._zones[id(zone)] = found = (zone, form)
        return found[1]

    def _pickled(self, value: Any) -> bytes | None:
        global _reads
        outer, _reads = _reads, None
        parts, pickler = self._parts, self._pickler
        parts.clear()
        pickler.clear_memo()
        try:
            pickler.dump(value)
        except Exception:  # pickle's errors, recursion: no stable form
            return None
        finally:
            _reads = outer
        data = b"".join(parts)
        if len(data) > _SMALL_DUMP:
            self._pickler = self._new_pickler()
        return hashlib.sha256(data).digest()


class Numbering:
    """A number for each (object, field) pair of a site model, the same in every process
    forked from the one that made it, so page workers number their pages' reads themselves:
    the object's place among the index's objects, shifted left, plus the field's place in its
    dataclass (from 1; no pair is 0). A fresh save keeps these numbers as they are (gaps
    allowed); reads of other names (not a field, not code) go by name (`PageRecord.extra`)."""

    def __init__(self, objects: Mapping[str, object]):
        self.shift = max(len(_fields(kind)) for kind in TRACKED).bit_length()
        self.keys = list(objects)
        # The first number past every (object, field) pair: names that are no field of their
        # object are numbered from here by the save that keeps them.
        self.end = len(self.keys) << self.shift
        places: dict[type, tuple[dict[str, int], frozenset[str], tuple[str, ...]]] = {}
        for kind in {type(obj) for obj in objects.values()}:
            names = _fields(kind)
            places[kind] = ({name: n for n, name in enumerate(names, 1)}, _code_names(kind),
                            ("", *names), ("", *map(json.dumps, names)))
        shift = self.shift
        # id of object -> (its first number, its fields' places, its code names, its key)
        self.slots = {id(obj): (n << shift, *places[type(obj)][:2], key)
                      for n, (key, obj) in enumerate(objects.items())}
        # Per object, by field place: the field's name, and its name as JSON.
        self.names = [places[type(obj)][2] for obj in objects.values()]
        self.quoted = [places[type(obj)][3] for obj in objects.values()]

    def pair(self, number: int) -> tuple[str, str]:
        """The (object key, field) pair numbered `number` (below `end`)."""
        place = number >> self.shift
        return self.keys[place], self.names[place][number & ((1 << self.shift) - 1)]


class _NoForm(Exception):
    """A value with no stable form (a lambda, an open file)."""


class _Pickler(pickle.Pickler):
    """Pickles a value with the site model's tracked objects replaced by their keys, and
    dataclasses and datetimes in a short form: for values `ModelIndex._form` does not know.
    (Equal values that share their parts differently pickle differently: a page renders that
    need not, never the other way round.)"""

    def __init__(self, file: Any, key_of: dict[int, str]):
        super().__init__(file, protocol=5)
        self.key_of = key_of

    def reducer_override(self, obj: Any) -> Any:
        # Called for objects other than the built-in containers and scalars.
        kind = type(obj)
        if kind in _TRACKED_SET:
            key = self.key_of.get(id(obj))
            if key is not None:
                return _tracked, (key,)
        if kind is datetime:
            return _datetime, (obj.isoformat(), repr(obj.tzinfo))
        shape = _SHAPES.get(kind, _MISSING)
        if shape is _MISSING:
            shape = _SHAPES[kind] = _shape(kind)
        if shape is not None:
            return _dataclass, (shape[0], _field_values(obj))
        return NotImplemented


def _shape(kind: type) -> tuple[str, bool, Any] | None:
    """How a fingerprint shows an instance of `kind`: its class's name, whether its forms are
    remembered (see ModelIndex._form), and a function giving an instance's field values in
    order (read past the recording hook); None when `kind` is not a dataclass."""
    if not dataclasses.is_dataclass(kind):
        return None
    params = getattr(kind, "__dataclass_params__", None)
    # Instances worth remembering by id: the articles' parts, shared by many articles and
    # pages (tags, topics, bylines). A page's own (its info, its neighbours, its feed's
    # entries) and an edition's sections are seen once.
    shared = bool(params and params.frozen) and kind.__module__ in _SHARED_MODULES
    names = _fields(kind)
    if len(names) > 1 and "__slots__" not in kind.__dict__:
        by_name = operator.itemgetter(*names)
        fields = lambda obj, get=object.__getattribute__: by_name(get(obj, "__dict__"))  # noqa: E731
    else:
        fields = _field_values
    return f"{kind.__module__}.{kind.__qualname__}", shared, fields


def _field_values(obj: object) -> tuple:
    """The values of a dataclass instance's fields in order, read past the recording hook."""
    names = _fields(type(obj))
    try:
        return operator.itemgetter(*names)(object.__getattribute__(obj, "__dict__")) if len(
            names) > 1 else tuple(object.__getattribute__(obj, name) for name in names)
    except (KeyError, AttributeError):  # a field set past __init__'s reach, or slots
        return tuple(object.__getattribute__(obj, name) for name in names)


def _tracked(key: str) -> str:
    """Stands for a tracked object in a fingerprint's pickle (never unpickled)."""
    return key


def _datetime(text: str, zone: str) -> str:
    """Stands for a datetime in a fingerprint's pickle (never unpickled)."""
    return text + zone


def _dataclass(name: str, values: tuple) -> tuple:
    """Stands for a dataclass instance in a fingerprint's pickle (never unpickled)."""
    return name, values


def _fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def _code_names(kind: type) -> frozenset[str]:
    """The names whose reads on a `kind` run code (see `_is_code`): any other name gives data."""
    found = _CODE_NAMES.get(kind)
    if found is None:
        found = _CODE_NAMES[kind] = frozenset(name for name in dir(kind) if _is_code(kind, name))
    return found


def _is_code(kind: type, name: str) -> bool:
    """Whether reading `name` on a `kind` runs code (a property or method) rather than giving
    stored data: what such a read gives is decided by the reads the code makes, which are
    recorded in their own right."""
    found = _CODE.get((kind, name))
    if found is None:
        attribute = getattr(kind, name, None)
        found = _CODE[(kind, name)] = (isinstance(attribute, (property, types.FunctionType))
                                       and name not in _fields(kind))
    return found


@dataclass(frozen=True)
class PageRecord:
    """What one page read when it was rendered, and what it wrote: the (object key, field)
    pairs it read as their numbers in the build's `Numbering` (an array's bytes), and any
    other data name it read by name. Made in the page workers, with the fingerprints they
    already know, so the process saving the records need not work them out again."""

    path: str
    context: bytes | None  # of template, page info and context; None: always render
    ids: bytes             # array(_IDS) of the numbers of the pairs it read
    output: str            # the writer's digest of the file's bytes
    extra: tuple[tuple[str, str], ...] = ()  # pairs read that are no field: (key, name)
    # For each object the page owns (see `make_record`), what its row in fresh records holds
    # from this page's reads: (the number of its first pair, the fingerprint of all its
    # fields, the numbers of the pairs of it the page read (array(_IDS) bytes), those pairs
    # with their fingerprints as the row's JSON holds them, without the brackets).
    rows: tuple[tuple[int, bytes | None, bytes, str], ...] = ()

    def pairs(self, numbering: Numbering) -> list[tuple[str, str]]:
        """The (object key, attribute) pairs the page read."""
        return [*map(numbering.pair, array(_IDS, self.ids)), *self.extra]


def article_inputs(sources: Iterable[Any], published: Iterable[Article], config: Config,
                   settings: MarkdownSettings) -> dict[str, bytes]:
    """What each published article's fields are made from, beyond what every record is keyed
    on (`code_key`: the code, layouts and config.yaml), by path: the digest of its file's bytes
    and what else the two caches its fields come from are keyed on (`models.check_context`
    for its front matter's check, with the time zone's rules and the slug packages;
    `cache.settings_digest` for its rendered body, with the Markdown extensions' packages),
    and the path and URL of every published article (`site.link_content` rewrites links to
    their files).

    `sources` are the content's (with their `digest`), `published` the articles as
    link_content was given them. An article whose source has no digest has no inputs."""
    published = tuple(published)
    common = hashlib.sha256(check_context(config))
    common.update(settings_digest(settings).encode() + b"\0")
    common.update(json.dumps([[a.path, a.url] for a in published]).encode(
        "utf-8", "surrogatepass"))
    prefix = common.digest()
    wanted = {a.path for a in published}
    return {source.rel: prefix + source.digest for source in sources
            if source.digest and source.rel in wanted}


def job_digest(index: ModelIndex, template: str, info: object,
               context: Mapping[str, Any],
               basis: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None) -> bytes | None:
    """The digest of a page's template, page info and context; None when part of it has no
    stable form."""
    return index.job_fingerprint(template, info, context, basis)


def make_record(index: ModelIndex, path: str, context: bytes | None,
                reads: set[tuple[int, str]], output: str, owned: Iterable[object] = ()
                ) -> PageRecord:
    """A rendered page's record, from the reads it made. Reads of objects outside the index
    need no record (whatever reached them was itself recorded or is in the context), nor do
    reads of properties and methods (what they give is decided by the reads they made).

    For the objects `owned` by the page (its job's basis: its article, its list page; each
    is one page's own), the record carries what their rows in fresh records hold from this
    page's reads (`PageRecord.rows`): the fingerprints of the fields it read and of all their
    fields, made by the worker that renders the page (the latter was made for its context
    digest already) instead of one by one in the process that saves the records."""
    numbering = index.numbering()
    slots = numbering.slots.get
    ids = array(_IDS)
    extra = []
    for obj, name in reads:
        slot = slots(obj)
        if slot is not None:
            place = slot[1].get(name)
            if place is not None:
                ids.append(slot[0] + place)
            elif name not in slot[2]:
                extra.append((slot[3], name))
    rows = []
    for obj in owned:
        slot = slots(id(obj))
        if slot is None:
            continue
        first, key = slot[0], slot[3]
        place = first >> numbering.shift
        names, quoted = numbering.names[place], numbering.quoted[place]
        last = first + len(names)
        mine = array(_IDS, [n for n in ids if first < n < last])
        rows.append((first, index.object_value(key), mine.tobytes(), ",".join([
            _pair_json(n, quoted[n - first], index.field_value(obj, names[n - first]))
            for n in mine])))
    return PageRecord(path, context, ids.tobytes(), output, tuple(extra), tuple(rows))


def _pair_json(n: int, name: str, fingerprint: bytes | None) -> str:
    """A pair as a row's JSON keeps it: `[number, name, fingerprint as hex or null]`, with
    `name` already JSON."""
    if fingerprint is None:
        return f"[{n},{name},null]"
    return f'[{n},{name},"{fingerprint.hex()}"]'


def code_key(layout_dirs: Iterable[Path], config_bytes: bytes) -> str:
    """A digest of everything but the site model that decides how a page renders: the
    generator's code, the layouts, config.yaml, and the versions of what renders them."""
    digest = hashlib.blake2b(digest_size=16)
    lines = [PAGES_FORMAT, generator.__version__, sys.version]
    lines += [f"{dist} {package_version(dist)}"
              for dist in ("jinja2", "markupsafe", "babel", "markdown", "nh3")]
    sources = sorted(Path(generator.__file__).parent.glob("*.py"))
    for path in sources:
        digest.update(path.read_bytes())
    for directory in layout_dirs:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                lines.append(path.relative_to(directory).as_posix())
                digest.update(path.read_bytes())
    digest.update(config_bytes)
    digest.update("\n".join(lines).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class PageRecords:
    """The page records of one output folder, kept in `<site>/.cache/pages-<id>.sqlite3`:
    each page's context digest, output digest and the ids of the (object, attribute) pairs it
    read; each object read, with the fingerprint of all its fields (a shortcut past checking
    its pairs one by one) and its pairs with the fingerprint of each one's value when it was
    last read.

    An object's pairs are stored in its own row as JSON and decoded only when needed: for an
    object whose fingerprint changed, or one a page rendered by this build read. A rebuild
    after an edit so reads fifteen thousand rows, not two hundred thousand.

    Records are used only when they were written by the same code and layouts (`code_key`)
    for the output folder as it is now (the digest of its manifest)."""

    def __init__(self, path: Path | None, pages: dict[str, tuple[bytes | None, array, str]],
                 objects: dict[str, tuple[bytes | None, str, bytes | None]], next_id: int,
                 valid: bool):
        self.path = path
        self.pages = pages
        # key -> (fingerprint of its fields, its pairs as JSON, what it was made from then)
        self.objects = objects
        self.valid = valid
        self._next = next_id
        self._changed: set[int] | None = None
        # Pairs decoded or added so far: (object key, attribute) -> id, per object its pairs
        # (id -> attribute), and each decoded pair's stored fingerprint.
        self._numbers: dict[tuple[str, str], int] = {}
        self._by_key: dict[str, dict[int, str]] = {}
        self._stored: dict[int, bytes | None] = {}
        self._rendered: list[tuple[str, bytes | None, bytes, str]] = []

    @staticmethod
    def path_for(site_dir: Path, output_dir: Path) -> Path:
        """Where the records for one output folder are kept."""
        name = hashlib.blake2b(str(output_dir.resolve()).encode(), digest_size=8).hexdigest()
        return site_dir / ".cache" / f"pages-{name}.sqlite3"

    @classmethod
    def disabled(cls) -> PageRecords:
        """No records, and nothing is saved."""
        return cls(None, {}, {}, 1, False)

    @classmethod
    def load(cls, path: Path, code: str, manifest: str | None) -> PageRecords:
        """The records at `path` if they match `code` and the output's `manifest` digest;
        else none (and a later save starts afresh). Never raises on a bad file."""
        if manifest is None or not path.is_file():
            return cls(path, {}, {}, 1, False)
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error:
            return cls(path, {}, {}, 1, False)
        try:
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if (meta.get("format") != PAGES_FORMAT or meta.get("code") != code
                    or meta.get("manifest") != manifest):
                return cls(path, {}, {}, 1, False)
            next_id, count = int(meta["next"]), int(meta["pairs"])
            pages = {}
            # A value of another type than save() writes is never equal to a page's context
            # or file digest: that page renders.
            for page, context, deps, output in db.execute(
                    "SELECT path, context, deps, output FROM pages"):
                ids = array(_IDS, deps)
                if ids and max(ids) >= next_id:
                    return cls(path, {}, {}, 1, False)  # a page read a pair the file lacks
                pages[page] = (context, ids, output)
            objects, stored = {}, 0
            for key, fp, n, pairs, made in db.execute(
                    "SELECT key, fp, n, pairs, made FROM objects"):
                objects[str(key)] = (bytes(fp) if fp is not None else None, str(pairs),
                                     bytes(made) if made is not None else None)
                stored += int(n)
            if stored != count:
                return cls(path, {}, {}, 1, False)  # pairs are missing: rows were lost
            return cls(path, pages, objects, next_id, True)
        except (sqlite3.Error, ValueError, TypeError, KeyError):
            return cls(path, {}, {}, 1, False)
        finally:
            db.close()

    def _open(self, key: str) -> list[tuple[int, str, bytes | None]]:
        """The stored pairs of object `key` (none if it has no row), now numbered in
        `_numbers`; ValueError when its row is not what save() writes."""
        mine = self._by_key.setdefault(key, {})
        row = self.objects.get(key)
        if row is None:
            return []
        pairs = []
        for item in json.loads(row[1]):
            n, attr, fp = item
            if type(n) is not int or type(attr) is not str or not (
                    fp is None or type(fp) is str) or not 0 < n < self._next:
                raise ValueError("not a pair")
            pair = (n, sys.intern(attr), bytes.fromhex(fp) if fp is not None else None)
            self._numbers[(key, pair[1])] = n
            self._stored[n] = pair[2]
            mine[n] = pair[1]
            pairs.append(pair)
        return pairs

    def changed_pairs(self, index: ModelIndex) -> set[int] | None:
        """The recorded pairs whose value is not what it was (computed once per build): for
        each object made from the same inputs as when its row was saved, or whose fields all
        fingerprint as before, none of its pairs; for the others
        (and objects that are gone), each pair compared on its own. None when a changed
        object's row cannot be read: no page can be trusted then."""
        if self._changed is not None or not self.valid:
            return self._changed
        changed = {0}  # no pair has the number 0: a page naming it (a damaged row) renders
        try:
            inputs = index.inputs
            for key, (stored, _, made) in self.objects.items():
                # Made from the same inputs (see article_inputs): the same fields, so the
                # same fingerprint, without hashing an article's HTML again.
                if stored is not None and made is not None and made == inputs(key):
                    index.known_value(key, stored)
                    continue
                if stored is not None and stored == index.object_value(key):
                    continue
                obj = index.objects.get(key)
                for n, name, fingerprint in self._open(key):
                    if obj is None or fingerprint is None:
                        changed.add(n)
                    elif _is_code(type(obj), name):
                        continue  # decided by the reads the code made, checked themselves
                    elif index.value(key, name) != fingerprint:
                        changed.add(n)
        except (ValueError, TypeError, RecursionError):
            self.valid = False
            return None
        self._changed = changed
        return changed

    def unchanged(self, index: ModelIndex, path: str, context: bytes | None,
                  intact: Mapping[str, str]) -> bool:
        """Whether the page at `path` would render as it did: same context, same value for
        every pair it read, and its file still intact in the output folder."""
        record = self.pages.get(path)
        if (record is None or record[0] is None or context is None or record[0] != context
                or intact.get(path) != record[2] or index.ambiguous):
            return False
        changed = self.changed_pairs(index)
        return changed is not None and changed.isdisjoint(record[1])

    def add(self, record: PageRecord) -> None:
        """Keep a just-rendered page's record until save(), as the worker made it (its pairs
        numbered by the build's `Numbering`): a big site's pages make a million reads of two
        hundred thousand pairs, which the save numbers for the stored records only when it
        adds to them."""
        self._rendered.append(record)

    @property
    def rendered(self) -> int:
        """How many pages were added since loading."""
        return len(self._rendered)

    def save(self, index: ModelIndex | None, produced: set[str], code: str,
             manifest: str | None) -> None:
        """Keep the records of pages still produced, with those added and the current
        fingerprint of every pair they read; an error only loses the speed-up, never the build."""
        if self.path is None or index is None:
            return
        try:
            self._save(index, produced, code, manifest)
        except (OSError, sqlite3.Error, ValueError, TypeError, RecursionError, OverflowError):
            try:
                self.path.unlink()
            except OSError:
                pass

    def _number(self, numbering: Numbering) -> list[tuple[str, bytes | None, bytes, str]]:
        """The rendered pages' rows with their pairs in the stored records' numbers: a pair
        the records hold keeps its number, a new one gets the next. A stored row that cannot
        be read makes the records invalid (then they are saved afresh)."""
        numbers = self._numbers
        pages = []
        for record in self._rendered:
            ids = array(_IDS)
            for pair in record.pairs(numbering):
                n = numbers.get(pair)
                if n is None:
                    key = pair[0]
                    if key not in self._by_key and key in self.objects:
                        try:
                            self._open(key)
                        except (ValueError, TypeError, RecursionError):
                            self.valid = False  # saved afresh
                        n = numbers.get(pair)
                    if n is None:
                        n = numbers[pair] = self._next
                        self._by_key.setdefault(key, {})[n] = pair[1]
                        self._next += 1
                ids.append(n)
            pages.append((record.path, record.context, ids.tobytes(), record.output))
        return pages

    def _fresh(self, index: ModelIndex) -> tuple[list[tuple], list[tuple]]:
        """The object rows and page rows of records made afresh from the rendered pages
        alone, every pair keeping its number in this build's `Numbering` (no renumbering:
        numbers may have gaps), an owned object's row taken as its page's worker made it
        (`PageRecord.rows`) with any pair of it other pages read added."""
        numbering = index.numbering()
        end, shift, keys = numbering.end, numbering.shift, numbering.keys
        rendered = self._rendered
        read = set(array(_IDS, b"".join([record.ids for record in rendered])))
        owned: dict[int, tuple[int, bytes | None, bytes, str]] = {}
        twice: set[int] = set()
        extras: dict[tuple[str, str], int] = {}
        pages = []
        for record in rendered:
            for row in record.rows:
                place = row[0] >> shift
                if place in owned:
                    twice.add(place)  # two pages' rows for one object: made here instead
                owned[place] = row
            if record.extra:
                ids = array(_IDS, record.ids)
                for pair in record.extra:
                    n = extras.get(pair)
                    if n is None:
                        n = extras[pair] = end + len(extras) + 1
                    ids.append(n)
                pages.append((record.path, record.context, ids.tobytes(), record.output))
            else:
                pages.append((record.path, record.context, record.ids, record.output))
        for place in twice:
            del owned[place]
        covered = array(_IDS, b"".join([row[2] for row in owned.values()]))
        # key -> [fingerprint of all its fields, how many pairs, the pairs' JSON]
        rows: dict[str, list[Any]] = {
            keys[place]: [row[1], len(row[2]) // _IDS_SIZE, [row[3]] if row[3] else []]
            for place, row in owned.items()}

        def add(key: str, pairs: list[str]) -> None:
            found = rows.get(key)
            if found is None:
                rows[key] = [index.object_value(key), len(pairs), pairs]
            else:
                found[1] += len(pairs)
                found[2] += pairs

        value = index.value
        for place, group in itertools.groupby(sorted(read.difference(covered)),
                                              shift.__rrshift__):
            key, names, quoted, first = (keys[place], numbering.names[place],
                                         numbering.quoted[place], place << shift)
            add(key, [_pair_json(n, quoted[n - first], value(key, names[n - first],
                                                              remember=False)) for n in group])
        for (key, name), n in extras.items():
            add(key, [_pair_json(n, json.dumps(name), value(key, name, remember=False))])
        self._next = (end + len(extras) if extras else max(read, default=0)) + 1
        return [(key, fingerprint, count, f"[{','.join(texts)}]", index.inputs(key))
                for key, (fingerprint, count, texts) in rows.items() if count], pages

    def _changed_rows(self, index: ModelIndex, pages: list[tuple[str, bytes | None, bytes, str]]
                      ) -> tuple[list[tuple], list[tuple[bytes, str]]]:
        """The object rows to write when the stored records are kept, and the inputs of rows
        left as they are (see `article_inputs`)."""
        read: set[int] = set()
        for _, _, ids, _ in pages:
            read.update(array(_IDS, ids))
        # The rows of the objects the rendered pages read: a pair they read has the value
        # they rendered with, now; one only pages not rendered read keeps the value it had.
        # A row whose pairs and fingerprint are as stored is left as it is.
        rows = []
        for key, mine in sorted(self._by_key.items()):
            if not any(n in read for n in mine):
                continue
            fingerprint = index.object_value(key)
            stored = self.objects.get(key)
            dirty = stored is None or stored[0] != fingerprint
            pairs: list[list[Any]] = []
            for n, attr in sorted(mine.items()):
                if n in read:
                    value = index.value(key, attr, remember=False)
                    dirty = dirty or n not in self._stored or self._stored[n] != value
                else:
                    value = self._stored.get(n)
                pairs.append([n, attr, value.hex() if value is not None else None])
            if dirty:
                rows.append((key, fingerprint, len(pairs),
                             json.dumps(pairs, separators=(",", ":")), index.inputs(key)))
        # A row left as it is whose object is made from other inputs now but fingerprints as
        # stored gets the new inputs (its fingerprint still describes the pages that read it),
        # so the next build trusts it again.
        written = {row[0] for row in rows}
        made = [(now, key) for key, (stored, _, then) in self.objects.items()
                if key not in written and (now := index.inputs(key)) is not None and now != then
                and stored is not None and stored == index.object_value(key)]
        return rows, made

    def _save(self, index: ModelIndex, produced: set[str], code: str,
              manifest: str | None) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Start afresh when the old records cannot be used or every page rendered anyway, so
        # pairs no page reads any more do not pile up.
        fresh = not self.valid or len(self._rendered) >= len(produced)
        if not fresh:
            pages = self._number(index.numbering())
            fresh = not self.valid
        made: list[tuple[bytes, str]] = []
        if fresh:
            self.path.unlink(missing_ok=True)
            rows, pages = self._fresh(index)
        else:
            rows, made = self._changed_rows(index, pages)
        db = sqlite3.connect(self.path)
        try:
            if fresh:
                # A new file: pages of 16 KB instead of 4 take about a quarter less CPU to
                # write 20 MB of rows, and read as fast.
                db.execute("PRAGMA page_size = 16384")
            with db:
                db.executescript(
                    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);"
                    "CREATE TABLE IF NOT EXISTS pages (path TEXT PRIMARY KEY, context BLOB,"
                    " deps BLOB, output TEXT);"
                    "CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, fp BLOB,"
                    " n INTEGER, pairs TEXT, made BLOB);")
                # An object's stored fingerprint must be that of the values the pages reading
                # its fields rendered with: those just rendered have the current ones.
                db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", rows)
                db.executemany("UPDATE objects SET made = ? WHERE key = ?", made)
                if not fresh:
                    db.executemany("DELETE FROM pages WHERE path = ?",
                                   [(p,) for p in self.pages if p not in produced])
                db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?)", pages)
                count = db.execute("SELECT coalesce(sum(n), 0) FROM objects").fetchone()[0]
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               [("format", PAGES_FORMAT), ("code", code),
                                ("manifest", manifest or ""), ("next", str(self._next)),
                                ("pairs", str(count))])
        finally:
            db.close()


def plan_pages(jobs: list[PageJob], records: PageRecords, index: ModelIndex | None,
               intact: Mapping[str, str]) -> tuple[list[OutputFile], list[PageJob]]:
    """The pages that need not render again (as `same` files for the writer), and the jobs
    that must render."""
    if index is None or not records.pages:
        return [], list(jobs)
    records.changed_pairs(index)  # first: it knows the fingerprints of unchanged articles
    same: list[OutputFile] = []
    render: list[PageJob] = []
    for job in jobs:
        path = job.path
        context = (job_digest(index, job.template, job.info, job.context, job.basis)
                   if path in records.pages else None)
        if records.unchanged(index, path, context, intact):
            same.append(OutputFile(path, b"", same=True))
        else:
            render.append(job)
    return same, render
