"""Filters over item metadata: a small expression language, parsed into a typed tree (never
evaluated as Python), rendered as a Milvus boolean expression and as a Python predicate that
agree on every input.

Grammar (keywords lower case)::

    filter     := disjunct ("or" disjunct)*
    disjunct   := term ("and" term)*
    term       := "(" filter ")" | KEY OP literal | KEY "in" "[" literal ("," literal)* "]"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    literal    := STRING | NUMBER        STRING: "..." with \\" and \\\\ escapes
    KEY        := [A-Za-z_][A-Za-z0-9_]*  NUMBER: -?digits[.digits][e[+-]digits]

A comparison on a key the item does not have is false, ``!=`` included (Milvus 2.3.5 and Milvus
Lite disagree there, so ``!=`` is sent as ``exists k and k != v``); ``<``, ``<=``, ``>``, ``>=``
compare numbers with numbers and strings with strings (else false); ``!=`` is true for a value
of another type. ``in`` is sent as ``==`` joined by ``or`` (Lite refuses ``in`` on JSON keys).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from textal.errors import TextalError

#: The metadata key ingest writes: when the item was stored, in whole seconds since the epoch
#: (UTC). A number, so that ``>=`` compares it the same way in Milvus and in Python.
INGESTED_AT = "ingested_at"

Value = str | int | float
_OPS = ("==", "!=", "<=", ">=", "<", ">")
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|<|>)
    |(?P<punct>[()\[\],])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "in"}


@dataclass(frozen=True)
class Compare:
    """``key op value`` on one metadata key."""

    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class AnyOf:
    """``key in [values]``."""

    key: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class And:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Filter, ...]


Filter = Compare | AnyOf | And | Or


def parse_filter(text: str) -> Filter:
    """The tree of ``text``; ``TextalError`` naming the problem and its column otherwise."""
    tokens = _tokenize(text)
    parser = _Parser(text, tokens)
    tree = parser.disjunction()
    if parser.pos < len(tokens):
        parser.fail("unexpected", tokens[parser.pos])
    return tree


def since_filter(when: str) -> Compare:
    """Items ingested at or after ``when``: an ISO date or date and time; UTC unless it names
    an offset."""
    try:
        moment = datetime.fromisoformat(when.strip())
    except ValueError:
        raise TextalError(
            f"--since {when!r} is not a date or time: give e.g. 2026-12-01 or 2026-12-01T08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Compare(INGESTED_AT, ">=", math.ceil(moment.timestamp()))


def from_options(text: str | None, since: str | None) -> Filter | None:
    """The filter of ``--filter TEXT`` and ``--since WHEN`` (either may be ``None``), as the CLI
    and the HTTP API take them."""
    return both(
        parse_filter(text) if text is not None else None,
        since_filter(since) if since is not None else None,
    )


def both(first: Filter | None, second: Filter | None) -> Filter | None:
    """The filter that holds where both hold (either may be ``None``: no restriction)."""
    if first is None or second is None:
        return first or second
    return And((first, second))


def filter_text(tree: Filter) -> str:
    """``tree`` in the filter language, canonical (one spelling per tree, compound parts in
    parentheses): ``parse_filter(filter_text(t)) == t``. What the ledger records with a round."""
    if isinstance(tree, And | Or):
        joiner = " and " if isinstance(tree, And) else " or "
        return joiner.join(
            f"({filter_text(p)})" if isinstance(p, And | Or) else filter_text(p) for p in tree.parts
        )
    if isinstance(tree, AnyOf):
        return f"{tree.key} in [{', '.join(_text_literal(v) for v in tree.values)}]"
    return f"{tree.key} {tree.op} {_text_literal(tree.value)}"


def _text_literal(value: Value) -> str:
    """A literal as :func:`parse_filter` reads it back (strings are JSON strings there)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def to_milvus(tree: Filter, field: str) -> str:
    """A Milvus boolean expression over the JSON field ``field``, fully parenthesised."""
    if isinstance(tree, And | Or):
        joiner = " and " if isinstance(tree, And) else " or "
        return "(" + joiner.join(to_milvus(p, field) for p in tree.parts) + ")"
    if isinstance(tree, AnyOf):
        return to_milvus(Or(tuple(Compare(tree.key, "==", v) for v in tree.values)), field)
    ref = f"{field}[{_literal(tree.key)}]"
    test = f"({ref} {tree.op} {_literal(tree.value)})"
    return f"((exists {ref}) and {test})" if tree.op == "!=" else test


def predicate(tree: Filter) -> Callable[[dict], bool]:
    """A function of an item's metadata that is true where :func:`to_milvus` matches."""
    return lambda metadata: _holds(tree, metadata)


def _holds(tree: Filter, metadata: dict) -> bool:
    if isinstance(tree, And):
        return all(_holds(p, metadata) for p in tree.parts)
    if isinstance(tree, Or):
        return any(_holds(p, metadata) for p in tree.parts)
    if tree.key not in metadata:
        return False
    stored = metadata[tree.key]
    if isinstance(tree, AnyOf):
        return any(_same_kind(stored, v) and stored == v for v in tree.values)
    if tree.op == "!=":
        return not (_same_kind(stored, tree.value) and stored == tree.value)
    if not _same_kind(stored, tree.value):
        return False
    if tree.op == "==":
        return bool(stored == tree.value)
    return bool(
        {
            "<": stored < tree.value,
            "<=": stored <= tree.value,
            ">": stored > tree.value,
            ">=": stored >= tree.value,
        }[tree.op]
    )


def _same_kind(stored: object, value: Value) -> bool:
    if isinstance(value, str):
        return isinstance(stored, str)
    return isinstance(stored, int | float) and not isinstance(stored, bool)


def _literal(value: Value) -> str:
    return quote(value) if isinstance(value, str) else repr(value)


def quote(value: str) -> str:
    """A string literal that the filter parsers of Milvus and of Milvus Lite read as ``value``.

    Lite's parser knows only the escapes ``\\\\ \\" \\' \\n \\r \\t``; other characters go as
    they are."""
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        value = value.replace(raw, escaped)
    return f'"{value}"'


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            if not text[pos:].strip():
                break
            column = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            raise TextalError(
                f"filter {text!r}: unexpected character {text[column - 1]!r} at column {column}"
            )
        kind = match.lastgroup
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens of one filter."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0

    def fail(self, what: str, token: _Token | None) -> None:
        where = f"{token.text!r} at column {token.column}" if token else "the end"
        raise TextalError(f"filter {self.text!r}: {what} {where}")

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, text: str | None = None, kind: str | None = None, *, want: str) -> _Token:
        token = self.peek()
        if token is None or (text and token.text != text) or (kind and token.kind != kind):
            self.fail(f"expected {want}, got", token)
        assert token is not None  # fail() raised otherwise
        self.pos += 1
        return token

    def disjunction(self) -> Filter:
        return self.joined("or", self.conjunction, Or)

    def conjunction(self) -> Filter:
        return self.joined("and", self.term, And)

    def joined(self, word: str, part: Callable[[], Filter], node: type[And] | type[Or]) -> Filter:
        """``part (word part)*``: one part as it is, several under ``node``."""
        parts = [part()]
        while (token := self.peek()) and token.text == word:
            self.pos += 1
            parts.append(part())
        return parts[0] if len(parts) == 1 else node(tuple(parts))

    def term(self) -> Filter:
        token = self.peek()
        if token is not None and token.text == "(":
            self.pos += 1
            inner = self.disjunction()
            self.take(")", want="')'")
            return inner
        key = self.take(kind="name", want="a metadata key")
        if key.text in _KEYWORDS:
            self.fail("expected a metadata key, got", key)
        token = self.peek()
        if token is not None and token.text == "in":
            self.pos += 1
            self.take("[", want="'['")
            values = [self.literal()]
            while (token := self.peek()) and token.text == ",":
                self.pos += 1
                values.append(self.literal())
            self.take("]", want="']'")
            return AnyOf(key.text, tuple(values))
        op = self.take(kind="op", want=f"one of {' '.join(_OPS)} or in after {key.text!r}")
        return Compare(key.text, op.text, self.literal())

    def literal(self) -> Value:
        token = self.peek()
        if token is None or token.kind not in ("string", "number"):
            self.fail("expected a quoted string or a number, got", token)
        assert token is not None
        self.pos += 1
        if token.kind == "string":
            try:
                return str(json.loads(token.text))
            except ValueError:
                self.fail("bad escape or control character in the string", token)
        number = float(token.text)
        if not math.isfinite(number):
            self.fail("number out of range:", token)
        return int(token.text) if re.fullmatch(r"-?\d+", token.text) else number
