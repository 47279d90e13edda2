"""item_counts stays equal to a count from scratch through every way items and tags change.

Both databases; real writes: a fetch cycle against a loopback feed server, a feed
that changes an item's date and language, a retag, an import (with exported tags),
an analyst correction and deletions. Also the migration: its backfill, its
downgrade, and that the schema it builds is the models' schema.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, delete, select, update

from alembic import command
from dashboards.queries import store_correction
from monitor.config import FeedSettings
from monitor.history.importer import import_file
from monitor.pipeline import run_cycle
from monitor.store.counts import counts_from_scratch, rebuild_counts
from monitor.store.feeds import add_feed
from monitor.store.models import Base, Item, ItemCount, Tag
from monitor.store.session import (
    SCHEMA_REVISION,
    _alembic_config,
    current_revision,
    transaction,
)
from monitor.store.tags import tag_items
from monitor.tagging.tagger import Tagger
from tests.conftest import make_settings, seed_dashboard

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXPORTED = """\
title,url,published,publisher,source_type,country,language,nato_membership,nato_membership_score,neutrality,neutrality_score,sovereign_choice,sovereign_choice_score,tagger_version
Allies weigh Ukraine's path to NATO,https://example.org/e1,2026-11-20T08:00:00Z,Example Times,media,GB,en,true,0.91,false,0.10,true,0.80,exported-1
"""  # noqa: E501


def rss(*entries: tuple[str, str, str, str]) -> bytes:
    """entries: (guid, title, description, RFC 822 date)"""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title>"
        f"<link>https://example.org/{guid}</link><description>{text}</description>"
        f"<pubDate>{day}</pubDate></item>"
        for guid, title, text, day in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


def stored_counts(engine: Engine) -> list[tuple[str, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ItemCount.topic,
                ItemCount.frame,
                ItemCount.source_id,
                ItemCount.day,
                ItemCount.language,
                ItemCount.items,
            ).where(ItemCount.items != 0)
        )
        return sorted(tuple(str(v) for v in row) for row in rows)


def fresh_counts(engine: Engine) -> list[tuple[str, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(counts_from_scratch(engine.dialect.name))
        return sorted(tuple(str(v) for v in row) for row in rows)


def assert_exact(engine: Engine) -> list[tuple[str, ...]]:
    stored = stored_counts(engine)
    assert stored == fresh_counts(engine)
    return stored


def on_topic(counts: list[tuple[str, ...]]) -> int:
    """Items on some topic, counted in the all-sources rows."""
    return sum(int(row[5]) for row in counts if row[0] and not row[1] and row[2] == "0")


def test_counts_stay_exact_through_fetch_update_retag_import_correction_and_delete(
    engine, feed_server, tmp_path
):
    settings = make_settings()
    first = (
        ("a", "Can Ukraine join NATO?", "Allies discuss NATO membership.", "Tue, 24 Nov 2026"),
        ("b", "Austria's neutrality at 70", "A neutral state and its army.", "Mon, 23 Nov 2026"),
        ("c", "Grain harvest report", "Wheat and barley.", "Mon, 23 Nov 2026"),
    )
    path = "/feed.xml"
    url = feed_server.add(path, rss(*((g, t, d, f"{day} 10:00:00 GMT") for g, t, d, day in first)))
    with transaction(engine) as session:
        spec = FeedSettings(
            url=url, publisher="One", source_type="think_tank", country="US", language="en"
        )
        add_feed(session, spec, interval_seconds=3600)
    run_cycle(settings, engine, now=NOW, include_not_due=True)
    counts = assert_exact(engine)
    assert on_topic(counts) >= 2

    # the feed moves one story to another day and changes another one's words
    moved = (
        ("a", "Can Ukraine join NATO?", "Allies debate NATO membership.", "Sat, 21 Nov 2026"),
        ("b", "Austria's neutrality at 70", "A neutral state.", "Mon, 23 Nov 2026"),
        ("c", "Grain harvest report", "Wheat, barley and NATO accession.", "Mon, 23 Nov 2026"),
    )
    feed_server.add(path, rss(*((g, t, d, f"{day} 10:00:00 GMT") for g, t, d, day in moved)))
    run_cycle(settings, engine, now=NOW + timedelta(hours=2), include_not_due=True)
    assert_exact(engine)

    with transaction(engine) as session:
        ids = list(session.scalars(select(Item.id).order_by(Item.id)))
        tag_items(session, Tagger(settings.tagging), ids)
    assert_exact(engine)

    exported = tmp_path / "exported.csv"
    exported.write_text(EXPORTED, encoding="utf-8")
    assert import_file(settings, engine, exported).new == 1
    assert import_file(settings, engine, Path(__file__).parent / "data/import/good.csv").new == 4
    assert_exact(engine)

    store_correction(engine, item_id=ids[0], kind="topic", label="neutrality", applies=True,
                     analyst="ana")  # fmt: skip
    with engine.begin() as conn:
        # a direct edit of one tag, then of an item's language
        conn.execute(update(Tag).where(Tag.item_id == ids[2], Tag.kind == "topic").values(
            is_positive=True))  # fmt: skip
        conn.execute(update(Item).where(Item.id == ids[1]).values(language="de"))
    assert_exact(engine)

    with engine.begin() as conn:
        conn.execute(delete(Tag).where(Tag.item_id == ids[1]))
        conn.execute(delete(Item).where(Item.id.in_([ids[0], ids[2]])))
    counts = assert_exact(engine)
    assert sum(int(row[5]) for row in counts if not row[0] and row[2] == "0") == 6


def test_rebuild_writes_the_same_counts_and_drops_rows_at_zero(engine):
    seed_dashboard(engine)
    with engine.begin() as conn:
        conn.execute(delete(Tag).where(Tag.item_id <= 30))
        zeros = conn.scalar(select(ItemCount.items).where(ItemCount.items == 0).limit(1))
    assert zeros == 0
    before = assert_exact(engine)
    with engine.begin() as conn:
        rebuild_counts(conn)
        assert conn.scalar(select(ItemCount.items).where(ItemCount.items == 0).limit(1)) is None
    assert stored_counts(engine) == before


def test_migration_backfills_counts_from_stored_items_and_downgrades_cleanly(engine):
    seed_dashboard(engine)
    expected = assert_exact(engine)
    config = _alembic_config(engine)
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
    assert stored_counts(engine) == expected


def test_the_schema_revision_the_code_expects_is_the_newest_migration(engine):
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    assert SCHEMA_REVISION == head == current_revision(engine)


def test_migrated_schema_matches_the_models(engine):
    def ours(name: str | None, _kind: str, _parent: object) -> bool:
        # full-text search lives outside the models: SQLite's FTS5 tables, PostgreSQL's index
        return not (name or "").startswith(("items_fts", "ix_items_search"))

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": ours}
        )
        assert compare_metadata(context, Base.metadata) == []
