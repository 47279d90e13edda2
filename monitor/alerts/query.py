"""A small boolean keyword query language for alert filters.

    query   := or
    or      := and ("OR" and)*
    and     := not (["AND"] not)*        adjacent terms are ANDed
    not     := "NOT" not | "-" not | atom
    atom    := "(" query ")" | '"a quoted phrase"' | word | stem*

Matching ignores case and respects word boundaries; a word ending in ``*``
matches any continuation (``neutral*`` finds "neutrality"); a phrase matches
its words in sequence. Operators are upper case so that "and" and "or" in a
quoted phrase or as plain words stay words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|(-)(?=\S)|([^\s()"]+))')
_WORD = re.compile(r"\w+\*?|\*", re.UNICODE)
_TEXT_WORD = re.compile(r"\w+", re.UNICODE)


class QueryError(ValueError):
    """The query cannot be parsed; the message says where."""


@dataclass(frozen=True)
class Term:
    #: lower-case words; the last may end in '*'
    words: tuple[str, ...]

    def matches(self, tokens: tuple[str, ...]) -> bool:
        n = len(self.words)
        return any(
            _words_match(self.words, tokens[start : start + n])
            for start in range(len(tokens) - n + 1)
        )


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Term | Not | And | Or


def _words_match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if len(words) != len(pattern):
        return False
    for want, got in zip(pattern, words, strict=True):
        if want.endswith("*"):
            if not got.startswith(want[:-1]):
                return False
        elif want != got:
            return False
    return True


def tokenize_text(text: str) -> tuple[str, ...]:
    """The words of a text as the query sees them."""
    return tuple(w.casefold() for w in _TEXT_WORD.findall(text))


def parse_query(query: str) -> Node:
    """Parse a query; raises QueryError with the position of the problem."""
    tokens = _lex(query)
    if not tokens:
        raise QueryError("the query is empty")
    parser = _Parser(tokens)
    node = parser.parse_or()
    if parser.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[parser.pos][1]!r} in query {query!r}")
    return node


def evaluate(node: Node, tokens: tuple[str, ...]) -> bool:
    if isinstance(node, Term):
        return node.matches(tokens)
    if isinstance(node, Not):
        return not evaluate(node.operand, tokens)
    if isinstance(node, And):
        return all(evaluate(o, tokens) for o in node.operands)
    return any(evaluate(o, tokens) for o in node.operands)


def query_matches(query: str, text: str) -> bool:
    return evaluate(parse_query(query), tokenize_text(text))


def _lex(query: str) -> list[tuple[str, str]]:
    if query.count('"') % 2:
        raise QueryError(f"unbalanced quote in query {query!r}")
    tokens: list[tuple[str, str]] = []
    pos = 0
    query = query.rstrip()
    while pos < len(query):
        found = _TOKEN.match(query, pos)
        if found is None:
            raise QueryError(f"cannot read the query {query!r} at position {pos}")
        opening, closing, phrase, minus, word = found.groups()
        if opening:
            tokens.append(("(", "("))
        elif closing:
            tokens.append((")", ")"))
        elif phrase is not None:
            tokens.append(("term", phrase))
        elif minus:
            tokens.append(("NOT", "-"))
        elif word in ("AND", "OR", "NOT"):
            tokens.append((word, word))
        else:
            tokens.append(("term", word))
        pos = found.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.peek() in ("AND", "NOT", "term", "("):
            if self.peek() == "AND":
                self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Node:
        if self.peek() == "NOT":
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        kind = self.peek()
        if kind is None:
            raise QueryError("the query ends where a word, phrase or '(' was expected")
        kind, value = self.take()
        if kind == "(":
            node = self.parse_or()
            if self.peek() != ")":
                raise QueryError("a '(' is not closed")
            self.take()
            return node
        if kind == "term":
            words = tuple(w.casefold() for w in _WORD.findall(value))
            if not words or any(w == "*" for w in words):
                raise QueryError(f"{value!r} has no word to search for")
            if any(w.endswith("*") for w in words[:-1]):
                raise QueryError(f"in {value!r} only the last word may end in '*'")
            return Term(words)
        raise QueryError(f"unexpected {value!r}; a word, phrase or '(' was expected")
