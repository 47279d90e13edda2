"""Full-text search over items' title, summary and content: one meaning on every backend.

SQLite searches the FTS5 table `items_fts` (tokenizer unicode61, diacritics
kept); PostgreSQL a GIN index over the 'simple' tsvector of the same three
fields, a summary that repeats the content read once (items come in six
languages, so no stemming and no stop words). Both split text into runs of
letters and digits and fold case.

A query is a list of words, never syntax: quotes, AND, OR, NOT, -, : and
parentheses are separators like any punctuation, so no input can fail to parse.
Every word must occur as a whole word; a word ending in `*` also matches the
longer words it begins (`україн*` finds України and Україною). Whole words by
default because FTS5 must expand a prefix against every row it checks, which
makes a frequent prefix slow to test row by row.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    case,
    false,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import NullType

from monitor.store.models import Item

#: words read from one query; more are ignored
MAX_WORDS = 8
#: a word and whether it ends in '*'
_WORD = re.compile(r"([^\W_]+)(\*?)")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
_FTS = table("items_fts", literal_column("rowid"))
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def search_words(text: str) -> list[str]:
    """The words of a query, lower-cased, in order, without repeats; a prefix keeps its '*'."""
    words = dict.fromkeys(word.lower() + star for word, star in _WORD.findall(text))
    return list(words)[:MAX_WORDS]


def text_matches(text: str, *, many: bool = False) -> ColumnElement[bool]:
    """A WHERE clause over `Item`: every word of `text` is in its title, summary or content.

    A query without words matches nothing. The clause is written for the backend
    when the statement is compiled. `many` tells SQLite to test each item it
    walks against the set of matches instead of fetching every match (see
    `has_many_matches`); PostgreSQL's planner makes that choice itself.
    """
    words = search_words(text)
    return _TextMatch(words, many) if words else false()


def has_many_matches(conn: Connection, text: str, at_least: int) -> bool:
    """Whether at least `at_least` items match (SQLite; always False elsewhere).

    SQLite drives a query from the matches when it can: right for a rare word,
    but for a word in half the items it would fetch and sort them all to show
    the newest fifty. Counting up to a bound is cheap and tells which case it is.
    """
    words = search_words(text)
    if conn.dialect.name != "sqlite" or not words:
        return False
    found: Select[Any] = select(literal_column("1")).select_from(_FTS).where(_fts_match(words))
    count = conn.scalar(select(func.count()).select_from(found.limit(at_least).subquery()))
    return bool(count and count >= at_least)


def in_id_order(query: _Query, text: str, dialect: str) -> tuple[_Query, ColumnElement[int]]:
    """Restrict `query` to the items matching `text`, and the column to page them by id.

    For keyset pages (`id > last ORDER BY id LIMIT n`). On SQLite the FTS5 table
    is joined and its rowid is the column: FTS5 hands out matches in rowid order
    from any rowid on, so each page reads one page of matches, where a WHERE
    clause would collect every match again for every page.
    """
    words = search_words(text)
    if dialect != "sqlite" or not words:
        return query.where(text_matches(text)), Item.__table__.c.id
    joined = query.join(_FTS, _FTS.c.rowid == Item.id).where(_fts_match(words))
    return joined, _FTS.c.rowid


def _fts_match(words: list[str]) -> ColumnElement[bool]:
    return literal_column("items_fts").op("MATCH")(fts5_query(words))


class _TextMatch(ColumnElement[Any]):
    inherit_cache = False  # the words are not part of a cache key
    # untyped: a Boolean would be compared with 1 on SQLite, which hides the IN from the planner
    type = NullType()

    def __init__(self, words: list[str], many: bool) -> None:
        self.words = words
        self.many = many


@compiles(_TextMatch, "sqlite")
def _sqlite_match(element: _TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    matching = select(_FTS.c.rowid).where(_fts_match(element.words))
    # '+ 0' keeps SQLite from looking each match up by id
    item_id = Item.id + literal_column("0") if element.many else Item.id
    return compiler.process(item_id.in_(matching), **kw)


@compiles(_TextMatch, "postgresql")
def _postgresql_match(element: _TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    query = func.to_tsquery(_SIMPLE, tsquery(element.words))
    return compiler.process(search_vector().op("@@")(query), **kw)


def fts5_query(words: list[str]) -> str:
    """An FTS5 query: each word a quoted string, a prefix when it ends in '*'; all required."""
    # words are letters and digits (and a final '*'), so quoting needs no escapes
    return " ".join(f'"{word.rstrip("*")}"' + ("*" if word.endswith("*") else "") for word in words)


def tsquery(words: list[str]) -> str:
    """A PostgreSQL tsquery: each word a quoted lexeme, a prefix when it ends in '*'; ANDed."""
    return " & ".join(
        f"'{word.rstrip('*')}'" + (":*" if word.endswith("*") else "") for word in words
    )


def search_vector() -> ColumnElement[Any]:
    """The indexed tsvector; the text must match the index of migration 0007 to use it.

    A summary that repeats the content is read once: it matches the same items.
    Written with literals, as the index is: PostgreSQL uses an expression index only
    for a query that states the very same expression.
    """
    space = literal_column("' '", String)
    summary = case(
        (Item.summary_text == Item.content_text, literal_column("''", String)),
        else_=Item.summary_text,
    )
    return func.to_tsvector(_SIMPLE, Item.title + space + summary + space + Item.content_text)
