"""PostgreSQL's search index reads a summary that repeats the content once

Revision ID: 0007
Revises: 0006

A feed without a summary has its content copied there: a quarter of the text
of the benchmark's items was such a copy, and PostgreSQL's 'simple' text search
parsed and indexed it twice as each item was stored. The same items match;
inserting the 2,960 items of the benchmark's first fetch took the writer
0.23–0.45 s less (2.96–3.25 s before, 2.72–2.80 s after, three runs each way,
alternating). monitor.store.search.search_vector writes the same expression,
which the index is used for only while the two agree. SQLite's FTS5 table keeps
the items' own values: its external content must equal the items'.

Upgrading builds the index again from every item's text: 1.7 s for those 2,960
items here, so about ten minutes for a million items as long, while `monitor
init` runs.

Create Date: 2026-12-08 03:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = """
CREATE INDEX ix_items_search ON items USING gin (
    to_tsvector('simple'::regconfig, {text})
)"""
_ONCE = (
    "title || ' ' || CASE WHEN summary_text = content_text THEN '' ELSE summary_text END"
    " || ' ' || content_text"
)
_TWICE = "title || ' ' || summary_text || ' ' || content_text"


def upgrade() -> None:
    _index(_ONCE)


def downgrade() -> None:
    _index(_TWICE)


def _index(text: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_items_search")
    op.execute(_INDEX.format(text=text))
