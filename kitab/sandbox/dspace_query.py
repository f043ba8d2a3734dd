"""The subset of Solr's standard query syntax that DSpace discovery passes through, evaluated
without Solr.

Metadata fields are matched the way DSpace's Solr indexes them: tokenized, lower-cased text, so
``dc.identifier.other:"kitab:12"`` is a *phrase* match that also finds ``kitab 12`` and
``x-kitab-12``. That imprecision is real DSpace behaviour the connector must guard against, so it
is kept on purpose. ``search.resourceid`` and ``handle`` are exact string fields; ``lastModified``
is a date field queried with ranges.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kitab.sandbox.dspace_errors import ApiError

WORD = re.compile(r"\w+")
STRING_FIELDS = frozenset(
    {
        "search.resourceid",
        "search.resourcetype",
        "search.uniqueid",
        "handle",
        "withdrawn",
        "discoverable",
        "archived",
        "location.coll",
        "location.comm",
        "location",
        "latestVersion",
    }
)
DATE_FIELDS = frozenset({"lastModified"})
DEFAULT_FIELD = "search_text"
SOLR_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$")


def tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


@dataclass
class Document:
    """What discovery indexes about one object."""

    strings: dict[str, set[str]]
    texts: dict[str, list[str]]  # field -> raw values (tokenized on demand)
    dates: dict[str, datetime]

    def text_values(self, field: str) -> list[str]:
        if field == DEFAULT_FIELD:
            return [v for values in self.texts.values() for v in values]
        return self.texts.get(field, [])


Predicate = Callable[[Document], bool]


@dataclass
class Query:
    matches: Predicate
    candidates: set[str] | None  # None: every object may match


def parse(text: str | None, lookup: Callable[[str, str], set[str]] | None = None) -> Query:
    """Parse a discovery ``query``. ``lookup(field, token)`` narrows the objects to look at.

    Raises ApiError 422 for what Solr would refuse to parse.
    """
    text = (text or "").strip()
    if not text or text == "*:*":
        return Query(lambda _doc: True, None)
    parser = _Parser(text, lookup)
    node = parser.expression()
    if parser.peek() is not None:
        parser.fail("unexpected " + repr(parser.peek()))
    return Query(node[0], node[1])


_LEX = re.compile(
    r"""\s*(?:
      (?P<lp>\() | (?P<rp>\)) |
      (?P<and>AND\b|&&) | (?P<or>OR\b|\|\|) | (?P<not>NOT\b) |
      (?P<sign>[-+])(?=\S) |
      (?P<field>[A-Za-z_][\w.]*|\*):(?!\s) |
      (?P<phrase>"(?:[^"\\]|\\.)*") |
      (?P<range>[\[{][^\]}]*[\]}]) |
      (?P<term>(?:[^\s()"\\:\[\]{}]|\\.)+)
    )""",
    re.VERBOSE,
)

Node = tuple[Predicate, set[str] | None]


class _Parser:
    def __init__(self, text: str, lookup: Callable[[str, str], set[str]] | None) -> None:
        self.text, self.lookup, self.pos = text, lookup, 0
        self.items = self._lex(text)

    def fail(self, why: str) -> None:
        raise ApiError(422, f"Cannot parse '{self.text}': {why}")

    def _lex(self, text: str) -> list[tuple[str, str]]:
        out, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _LEX.match(text, pos)
            if not match or match.end() == pos:
                self.fail(f"unexpected character at position {pos}")
            kind = match.lastgroup or ""
            out.append((kind, match.group(kind)))
            pos = match.end()
        return out

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def take(self) -> tuple[str, str]:
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expression(self) -> Node:
        left = self.conjunction()
        while self.peek() == "or":
            self.take()
            right = self.conjunction()
            left = _or(left, right)
        return left

    def conjunction(self) -> Node:
        left = self.unary()
        while self.peek() not in (None, "or", "rp"):
            if self.peek() == "and":
                self.take()
            right = self.unary()
            left = _and(left, right)
        return left

    def unary(self) -> Node:
        kind = self.peek()
        if kind == "not" or (kind == "sign" and self.items[self.pos][1] == "-"):
            self.take()
            inner = self.unary()
            return (lambda doc, p=inner[0]: not p(doc)), None
        if kind == "sign":
            self.take()
        return self.primary()

    def primary(self) -> Node:
        if self.peek() is None:
            self.fail("unexpected end of query")
        kind, value = self.take()
        if kind == "lp":
            node = self.expression()
            if self.peek() != "rp":
                self.fail("missing ')'")
            self.take()
            return node
        field = DEFAULT_FIELD
        if kind == "field":
            field = value
            if self.peek() not in ("phrase", "range", "term"):
                self.fail(f"no value after {field}:")
            kind, value = self.take()
        if kind not in ("phrase", "range", "term"):
            self.fail(f"unexpected {value!r}")
        if field == "*" and value == "*":
            return (lambda _doc: True), None
        if kind == "range":
            return self._range(field, value)
        return self._match(field, value, kind == "phrase")

    def _match(self, field: str, raw: str, phrase: bool) -> Node:
        text = raw[1:-1] if phrase else raw
        text = re.sub(r"\\(.)", r"\1", text)
        if field in STRING_FIELDS:
            pattern = text if not phrase else None

            def exact(doc: Document) -> bool:
                values = doc.strings.get(field, set())
                if pattern is not None and ("*" in pattern or "?" in pattern):
                    return any(fnmatch.fnmatchcase(v, pattern) for v in values)
                return text in values

            plain = "*" not in text and "?" not in text
            return exact, ({text} if field == "search.resourceid" and plain else None)
        if field in DATE_FIELDS:
            when = _solr_date(text, self)
            return (lambda doc: doc.dates.get(field) == when), None
        words = tokens(text) if phrase or not ("*" in text or "?" in text) else [text.lower()]
        if not words:
            return (lambda _doc: False), set()
        wildcard = not phrase and len(words) == 1 and ("*" in words[0] or "?" in words[0])

        def text_match(doc: Document) -> bool:
            for value in doc.text_values(field):
                have = tokens(value)
                if wildcard:
                    if any(fnmatch.fnmatchcase(t, words[0]) for t in have):
                        return True
                elif _contains_run(have, words):
                    return True
            return False

        candidates = None
        if self.lookup and field != DEFAULT_FIELD and not wildcard:
            lookup = self.lookup
            candidates = set.intersection(*(lookup(field, word) for word in set(words)))
        return text_match, candidates

    def _range(self, field: str, raw: str) -> Node:
        inclusive_low, inclusive_high = raw[0] == "[", raw[-1] == "]"
        parts = raw[1:-1].split()
        if len(parts) != 3 or parts[1] != "TO":
            self.fail(f"bad range {raw}")
        low_text, high_text = parts[0], parts[2]
        if field in DATE_FIELDS:
            low = None if low_text == "*" else _solr_date(low_text, self)
            high = None if high_text == "*" else _solr_date(high_text, self)

            def in_range(doc: Document) -> bool:
                when = doc.dates.get(field)
                return when is not None and _between(when, low, high, inclusive_low, inclusive_high)

            return in_range, None
        low_s = None if low_text == "*" else low_text.lower()
        high_s = None if high_text == "*" else high_text.lower()

        def in_text_range(doc: Document) -> bool:
            values: list[Any] = [t for v in doc.text_values(field) for t in tokens(v)]
            values += list(doc.strings.get(field, ()))
            return any(_between(v, low_s, high_s, inclusive_low, inclusive_high) for v in values)

        return in_text_range, None


def _between(value: Any, low: Any, high: Any, inc_low: bool, inc_high: bool) -> bool:
    if low is not None and (value < low or (value == low and not inc_low)):
        return False
    return not (high is not None and (value > high or (value == high and not inc_high)))


def _contains_run(have: list[str], words: list[str]) -> bool:
    n = len(words)
    return any(have[i : i + n] == words for i in range(len(have) - n + 1))


def _solr_date(text: str, parser: _Parser) -> datetime:
    match = SOLR_DATE.match(text.replace("\\", ""))
    if not match:
        parser.fail(f"Invalid Date String:'{text}'")
    y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
    micro = int((match.group(7) or ".0")[1:7].ljust(6, "0"))
    try:
        return datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC)
    except ValueError:
        parser.fail(f"Invalid Date String:'{text}'")
        raise  # unreachable: fail() raises


def _and(left: Node, right: Node) -> Node:
    lp, rp = left[0], right[0]
    if left[1] is None:
        cands = right[1]
    elif right[1] is None:
        cands = left[1]
    else:
        cands = left[1] & right[1]
    return (lambda doc: lp(doc) and rp(doc)), cands


def _or(left: Node, right: Node) -> Node:
    lp, rp = left[0], right[0]
    cands = None if left[1] is None or right[1] is None else left[1] | right[1]
    return (lambda doc: lp(doc) or rp(doc)), cands
