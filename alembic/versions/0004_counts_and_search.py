"""item counts kept by triggers, full-text search, indexes for the dashboard

Revision ID: 0004
Revises: 0003

`item_counts` holds items per (topic, frame, source, UTC day, language), each
count also under source 0 for all sources; row triggers on items and tags keep
it exact inside the writing transaction (see monitor.store.models.ItemCount).
Each positive tag adds itself and its pairs
with the item's positive tags of the other kind *already stored*, and a deleted
one removes the same; so rows written one after the other count every pair once.
SQLite fires row triggers as each row is written; PostgreSQL fires BEFORE row
triggers that way too (an AFTER row trigger would see the whole statement's
rows), which is why its triggers are BEFORE triggers.

Full-text search: an FTS5 table over items' title, summary and content on
SQLite (external content, kept by triggers), a GIN index over their 'simple'
tsvector on PostgreSQL. monitor.store.search queries both.

Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op
from monitor.store.counts import rebuild_counts

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_UPSERT = (
    "ON CONFLICT (topic, frame, source_id, day, language) "
    "DO UPDATE SET items = item_counts.items + excluded.items"
)
#: every count goes to the item's source and to source 0, all sources
_BOTH_SOURCES = "CROSS JOIN (SELECT 0 AS all_sources UNION ALL SELECT 1) AS s"


def _source(source_id: str) -> str:
    return f"CASE WHEN s.all_sources = 0 THEN 0 ELSE {source_id} END"


def _tag_pairs(tag: str) -> str:
    """The (topic, frame) pairs one positive tag row `tag` counts in: a topic alone, and
    with each positive tag of the other kind on its item. One text for both backends."""
    return f"""(
        SELECT {tag}.label AS topic, '' AS frame WHERE {tag}.kind = 'topic'
        UNION ALL
        SELECT {tag}.label, o.label FROM tags o
        WHERE {tag}.kind = 'topic' AND o.item_id = {tag}.item_id AND o.kind = 'frame'
          AND o.is_positive AND o.id <> {tag}.id
        UNION ALL
        SELECT o.label, {tag}.label FROM tags o
        WHERE {tag}.kind = 'frame' AND o.item_id = {tag}.item_id AND o.kind = 'topic'
          AND o.is_positive AND o.id <> {tag}.id
    ) AS c"""


def _item_pairs(item: str) -> str:
    """The (topic, frame) pairs item row `item` counts in: the total, each positive
    topic, and each positive topic with each positive frame."""
    return f"""(
        SELECT '' AS topic, '' AS frame
        UNION ALL
        SELECT t.label, '' FROM tags t
        WHERE t.item_id = {item}.id AND t.kind = 'topic' AND t.is_positive
        UNION ALL
        SELECT t.label, f.label FROM tags t
        JOIN tags f ON f.item_id = t.item_id AND f.kind = 'frame' AND f.is_positive
        WHERE t.item_id = {item}.id AND t.kind = 'topic' AND t.is_positive
    ) AS c"""


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_tag(row: str, sign: str) -> str:
    """Add (sign '') or remove (sign '-') one positive tag row and its pairs."""
    return f"""
    INSERT INTO item_counts (topic, frame, source_id, day, language, items)
    SELECT c.topic, c.frame, {_source("i.source_id")}, substr(i.published_at, 1, 10),
           i.language, {sign}count(*)
    FROM {_tag_pairs(row)} JOIN items i ON i.id = {row}.item_id {_BOTH_SOURCES}
    WHERE {row}.is_positive
    GROUP BY c.topic, c.frame, s.all_sources
    {_UPSERT};"""


def _sqlite_item(row: str, sign: str) -> str:
    """Add or remove an item with its positive tags and pairs at its day, source, language."""
    return f"""
    INSERT INTO item_counts (topic, frame, source_id, day, language, items)
    SELECT c.topic, c.frame, {_source(f"{row}.source_id")}, substr({row}.published_at, 1, 10),
           {row}.language, {sign}count(*)
    FROM {_item_pairs(row)} {_BOTH_SOURCES}
    WHERE true
    GROUP BY c.topic, c.frame, s.all_sources
    {_UPSERT};"""


_SQLITE_TRIGGERS = {
    "item_counts_tag_insert": f"""
    CREATE TRIGGER item_counts_tag_insert AFTER INSERT ON tags WHEN NEW.is_positive
    BEGIN {_sqlite_tag("NEW", "")} END""",
    "item_counts_tag_delete": f"""
    CREATE TRIGGER item_counts_tag_delete AFTER DELETE ON tags WHEN OLD.is_positive
    BEGIN {_sqlite_tag("OLD", "-")} END""",
    "item_counts_tag_update": f"""
    CREATE TRIGGER item_counts_tag_update
    AFTER UPDATE OF item_id, kind, label, is_positive ON tags
    WHEN OLD.is_positive OR NEW.is_positive
    BEGIN {_sqlite_tag("OLD", "-")} {_sqlite_tag("NEW", "")} END""",
    # a new item has no tags yet (they refer to it): it adds to the totals only
    "item_counts_item_insert": f"""
    CREATE TRIGGER item_counts_item_insert AFTER INSERT ON items BEGIN
        INSERT INTO item_counts (topic, frame, source_id, day, language, items)
        VALUES ('', '', 0, substr(NEW.published_at, 1, 10), NEW.language, 1),
               ('', '', NEW.source_id, substr(NEW.published_at, 1, 10), NEW.language, 1)
        {_UPSERT};
    END""",
    "item_counts_item_update": f"""
    CREATE TRIGGER item_counts_item_update
    AFTER UPDATE OF published_at, source_id, language ON items
    WHEN substr(OLD.published_at, 1, 10) IS NOT substr(NEW.published_at, 1, 10)
      OR OLD.source_id IS NOT NEW.source_id OR OLD.language IS NOT NEW.language
    BEGIN {_sqlite_item("OLD", "-")} {_sqlite_item("NEW", "")} END""",
    # the item's tags go first, each taking its counts with it; the cascade finds none
    "item_counts_item_delete": f"""
    CREATE TRIGGER item_counts_item_delete BEFORE DELETE ON items
    BEGIN DELETE FROM tags WHERE item_id = OLD.id; {_sqlite_item("OLD", "-")} END""",
    # full text: the external-content FTS5 table follows the items
    "items_fts_insert": """
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts (rowid, title, summary_text, content_text)
        VALUES (NEW.id, NEW.title, NEW.summary_text, NEW.content_text);
    END""",
    "items_fts_delete": """
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, summary_text, content_text)
        VALUES ('delete', OLD.id, OLD.title, OLD.summary_text, OLD.content_text);
    END""",
    "items_fts_update": """
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary_text, content_text ON items
    BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, summary_text, content_text)
        VALUES ('delete', OLD.id, OLD.title, OLD.summary_text, OLD.content_text);
        INSERT INTO items_fts (rowid, title, summary_text, content_text)
        VALUES (NEW.id, NEW.title, NEW.summary_text, NEW.content_text);
    END""",
}

# remove_diacritics 0: й is not и, ł is not l (PostgreSQL's 'simple' keeps them too)
_SQLITE_FTS = """
CREATE VIRTUAL TABLE items_fts USING fts5(
    title, summary_text, content_text,
    content='items', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
)"""


# --- PostgreSQL -------------------------------------------------------------------------

_PG_DAY = "(i.published_at AT TIME ZONE 'UTC')::date"

_PG_FUNCTIONS = {
    "item_counts_apply_tag(tags, integer)": f"""
    CREATE FUNCTION item_counts_apply_tag(t tags, sign integer) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO item_counts (topic, frame, source_id, day, language, items)
    SELECT c.topic, c.frame, {_source("i.source_id")}, {_PG_DAY}, i.language, sign * count(*)
    FROM {_tag_pairs("t")} JOIN items i ON i.id = t.item_id {_BOTH_SOURCES}
    GROUP BY c.topic, c.frame, i.id, s.all_sources
    {_UPSERT}
    $$""",
    "item_counts_apply_item(items, integer)": f"""
    CREATE FUNCTION item_counts_apply_item(i items, sign integer) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO item_counts (topic, frame, source_id, day, language, items)
    SELECT c.topic, c.frame, {_source("i.source_id")}, {_PG_DAY}, i.language, sign * count(*)
    FROM {_item_pairs("i")} {_BOTH_SOURCES}
    GROUP BY c.topic, c.frame, s.all_sources
    {_UPSERT}
    $$""",
    "item_counts_on_tag()": """
    CREATE FUNCTION item_counts_on_tag() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF OLD.is_positive THEN PERFORM item_counts_apply_tag(OLD, -1); END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF NEW.is_positive THEN PERFORM item_counts_apply_tag(NEW, 1); END IF;
            RETURN NEW;
        END IF;
        RETURN OLD;
    END $$""",
    "item_counts_on_item()": """
    CREATE FUNCTION item_counts_on_item() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            -- a new item has no tags yet (they refer to it): it adds to the totals only
            INSERT INTO item_counts (topic, frame, source_id, day, language, items)
            VALUES ('', '', 0, (NEW.published_at AT TIME ZONE 'UTC')::date, NEW.language, 1),
                   ('', '', NEW.source_id, (NEW.published_at AT TIME ZONE 'UTC')::date,
                    NEW.language, 1)
            ON CONFLICT (topic, frame, source_id, day, language)
            DO UPDATE SET items = item_counts.items + excluded.items;
            RETURN NEW;
        ELSIF TG_OP = 'UPDATE' THEN
            IF (OLD.published_at AT TIME ZONE 'UTC')::date
                   IS DISTINCT FROM (NEW.published_at AT TIME ZONE 'UTC')::date
               OR OLD.source_id IS DISTINCT FROM NEW.source_id
               OR OLD.language IS DISTINCT FROM NEW.language THEN
                PERFORM item_counts_apply_item(OLD, -1);
                PERFORM item_counts_apply_item(NEW, 1);
            END IF;
            RETURN NEW;
        END IF;
        -- the item's tags go first, each taking its counts with it; the cascade finds none
        DELETE FROM tags WHERE item_id = OLD.id;
        PERFORM item_counts_apply_item(OLD, -1);
        RETURN OLD;
    END $$""",
}

_PG_TRIGGERS = {
    "item_counts_tag ON tags": """
    CREATE TRIGGER item_counts_tag
    BEFORE INSERT OR DELETE OR UPDATE OF item_id, kind, label, is_positive ON tags
    FOR EACH ROW EXECUTE FUNCTION item_counts_on_tag()""",
    "item_counts_item ON items": """
    CREATE TRIGGER item_counts_item
    BEFORE INSERT OR DELETE OR UPDATE OF published_at, source_id, language ON items
    FOR EACH ROW EXECUTE FUNCTION item_counts_on_item()""",
}

#: the expression monitor.store.search queries: it must stay the same text
_PG_SEARCH_INDEX = """
CREATE INDEX ix_items_search ON items USING gin (
    to_tsvector('simple'::regconfig, title || ' ' || summary_text || ' ' || content_text)
)"""


def upgrade() -> None:
    op.drop_index("ix_items_published_at", table_name="items")
    op.create_index("ix_items_published_source", "items", ["published_at", "source_id", "language"])
    op.drop_index("ix_tags_label_positive", table_name="tags")
    op.create_index("ix_tags_label_positive_item", "tags", ["label", "is_positive", "item_id"])
    op.drop_index("ix_tags_item_id", table_name="tags")
    op.create_index(
        "ix_tags_item_kind_positive", "tags", ["item_id", "kind", "is_positive", "label"]
    )
    op.create_table(
        "item_counts",
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("frame", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "topic", "frame", "source_id", "day", "language", name=op.f("pk_item_counts")
        ),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(_SQLITE_FTS)
        op.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")
        for sql in _SQLITE_TRIGGERS.values():
            op.execute(sql)
    else:
        for sql in _PG_FUNCTIONS.values():
            op.execute(sql)
        for sql in _PG_TRIGGERS.values():
            op.execute(sql)
        op.execute(_PG_SEARCH_INDEX)
    rebuild_counts(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE items_fts")
    else:
        op.execute("DROP INDEX ix_items_search")
        for trigger in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
        for function in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}")
    op.drop_table("item_counts")
    op.drop_index("ix_tags_item_kind_positive", table_name="tags")
    op.create_index("ix_tags_item_id", "tags", ["item_id"])
    op.drop_index("ix_tags_label_positive_item", table_name="tags")
    op.create_index("ix_tags_label_positive", "tags", ["label", "is_positive"])
    op.drop_index("ix_items_published_source", table_name="items")
    op.create_index("ix_items_published_at", "items", ["published_at"])
