"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector): one meaning everywhere.

The Items page (`search_items`) and the export and API filter (`ItemFilter.query`
through `item_rows`) must find the same items for the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from dashboards.filters import ViewFilter
from dashboards.queries import search_items
from monitor.errors import InputError
from monitor.export.query import item_rows, make_filter
from monitor.store.models import Item, Source
from monitor.store.search import fts5_query, search_words, text_matches, tsquery
from monitor.store.session import transaction
from tests.conftest import make_settings

#: title, summary, content
ITEMS = {
    1: ("NATO summit in Vilnius", "Allies discuss Ukraine's membership.", ""),
    2: ("Гарантії безпеки для України", "Переговори у Стамбулі.", ""),
    3: ("Żołnierze NATO w Polsce", "Rozmowy o gwarancjach bezpieczeństwa.", ""),
    4: ("Grain exports", "Ships leave Odesa.", "The full article names NATO once."),
    5: ("Нейтралитет Австрии", "НАТО и нейтральные страны.", ""),
    6: ("Army reform", "A and B agree.", ""),
    # a feed without a summary has its content copied there
    7: (
        "Neutrality debate",
        "Vienna's model is raised once more.",
        "Vienna's model is raised once more.",
    ),
}


@pytest.fixture
def stored(engine: Engine) -> Engine:
    first = datetime(2024, 3, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Source).values(id=1, name="One", source_type="media", country="PL"))
        conn.execute(
            insert(Item),
            [
                {
                    "id": item_id,
                    "source_id": 1,
                    "title": title,
                    "summary_text": summary,
                    "content_text": content,
                    "language": "en",
                    "published_at": first + timedelta(days=item_id),
                    "content_hash": str(item_id),
                }
                for item_id, (title, summary, content) in ITEMS.items()
            ],
        )
    return engine


def page(engine: Engine, text: str) -> list[int]:
    return sorted(int(i) for i in search_items(engine, ViewFilter(), text=text)["id"])


def exported(engine: Engine, text: str) -> list[int]:
    selection = make_filter(make_settings(), query=text)
    with transaction(engine) as session:
        return sorted(row.id for row in item_rows(session, selection))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nato", [1, 3, 4]),  # title or content, any case
        ("NATO allies", [1]),  # every word
        ("україн", []),  # whole words…
        ("україн*", [2]),  # …unless it ends in '*'
        ("УКРАЇНИ", [2]),
        ("нато", [5]),  # Cyrillic НАТО is not Latin NATO
        ("żołnierze", [3]),
        ("zolnierze", []),  # diacritics are part of the word
        ("bezpieczeństwa gwarancj*", [3]),
        ("membership", [1]),  # from the summary
        ("a", [6]),
        ("a*", [1, 4, 6]),  # Allies, article, A
        ("raised vienna", [7]),  # a summary that repeats the content
    ],
)
def test_page_and_export_find_the_same_items(stored, text, expected):
    assert page(stored, text) == expected
    assert exported(stored, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"NATO', [1, 3, 4]),  # an unbalanced quote is punctuation
        ("nato AND", []),  # operators are words: no item has "and" next to NATO
        ("a AND", [6]),  # "A and B agree."
        ("NATO OR grain", []),  # every word: nothing has NATO, "or" and grain
        ("NEAR(nato", []),
        ("nato*", [1, 3, 4]),
        ("-nato", [1, 3, 4]),
        ("title:nato", []),  # no column filters either
        ("(nato) ^grain", [4]),
    ],
)
def test_search_syntax_in_a_query_is_read_as_words(stored, text, expected):
    assert page(stored, text) == expected
    assert exported(stored, text) == expected


def test_many_matches_give_the_same_page_newest_first(stored, monkeypatch):
    few = list(search_items(stored, ViewFilter(), text="nato")["id"])
    monkeypatch.setattr("dashboards.queries.MANY_MATCHES", 2)
    assert list(search_items(stored, ViewFilter(), text="nato")["id"]) == few == [4, 3, 1]


def test_a_query_without_words_matches_nothing_on_the_page_and_is_refused_by_the_export(stored):
    assert page(stored, '?! " * ()') == []
    with pytest.raises(InputError, match=r"^query: no word"):
        make_filter(make_settings(), query='?! " * ()')


def test_the_index_follows_edited_and_deleted_items(stored):
    with stored.begin() as conn:
        conn.execute(update(Item).where(Item.id == 4).values(title="Wheat exports"))
        conn.execute(delete(Item).where(Item.id == 1))
    assert page(stored, "grain") == []
    assert page(stored, "wheat") == [4]
    assert page(stored, "nato") == exported(stored, "nato") == [3, 4]


def test_a_search_reads_the_full_text_index(stored):
    """The index is used only for the expression it was built on: a query written
    otherwise still finds the items, by reading every one."""
    query = select(Item.id).where(text_matches("vienna"))
    sql = str(query.compile(dialect=stored.dialect, compile_kwargs={"literal_binds": True}))
    with stored.connect() as conn:
        if stored.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # six rows: else a scan is cheaper
            plan = conn.exec_driver_sql(f"EXPLAIN {sql}").scalars().all()
        else:
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        assert conn.execute(query).scalars().all() == [7]
    index = "ix_items_search" if stored.dialect.name == "postgresql" else "items_fts VIRTUAL TABLE"
    assert any(index in line for line in plan), plan


def test_words_are_runs_of_letters_and_digits_without_operators():
    assert search_words('"NATO" AND (Kyiv*) OR ne-ar_by 2024 nato **') == [
        "nato", "and", "kyiv*", "or", "ne", "ar", "by", "2024"
    ]  # fmt: skip
    assert len(search_words(" ".join(f"w{n}" for n in range(20)))) == 8
    assert fts5_query(["nato", "україн*"]) == '"nato" "україн"*'
    assert tsquery(["україн*", "a"]) == "'україн':* & 'a'"
