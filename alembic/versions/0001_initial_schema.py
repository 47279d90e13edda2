"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 06:20:29.719426
"""

from __future__ import annotations

import sqlalchemy as sa

import monitor.store.models
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
    )
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("original_url", sa.String(length=2000), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("full_text", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("next_check_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_checked_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_success_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_new_item_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("failure_score", sa.Float(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_line", sa.Text(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column(
            "lease_expires_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("backfill_next_url", sa.String(length=2000), nullable=True),
        sa.Column("backfill_done", sa.Boolean(), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_feeds_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_feeds_url")),
    )
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feeds_next_check_at"), ["next_check_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_feeds_original_url"), ["original_url"], unique=False)
        batch_op.create_index(batch_op.f("ix_feeds_source_id"), ["source_id"], unique=False)

    op.create_table(
        "fetch_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("started_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("bytes_received", sa.Integer(), nullable=False),
        sa.Column("entries_seen", sa.Integer(), nullable=False),
        sa.Column("items_new", sa.Integer(), nullable=False),
        sa.Column("items_updated", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_fetch_events_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_events")),
    )
    with op.batch_alter_table("fetch_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fetch_events_feed_id"), ["feed_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fetch_events_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("guid", sa.String(length=2000), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("canonical_url", sa.String(length=2000), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.String(length=500), nullable=False),
        sa.Column("summary_html", sa.Text(), nullable=False),
        sa.Column("summary_text", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("content_text", sa.Text(), nullable=False),
        sa.Column("content_method", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=500), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("language_source", sa.String(length=16), nullable=False),
        sa.Column("published_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_is_fallback", sa.Boolean(), nullable=False),
        sa.Column("fetched_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name=op.f("fk_items_feed_id_feeds")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_items_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("canonical_url", name=op.f("uq_items_canonical_url")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_feed_id"), ["feed_id"], unique=False)
        batch_op.create_index("ix_items_published_at", ["published_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_source_id"), ["source_id"], unique=False)
        batch_op.create_index("ix_items_source_title", ["source_id", "title_key"], unique=False)

    op.create_table(
        "analyst_labels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("applies", sa.Boolean(), nullable=False),
        sa.Column("analyst", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_analyst_labels_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyst_labels")),
    )
    with op.batch_alter_table("analyst_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyst_labels_item_id"), ["item_id"], unique=False)

    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=500), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name=op.f("fk_entries_feed_id_feeds")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_entries_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint("feed_id", "entry_key", name="uq_entries_feed_key"),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entries_item_id"), ["item_id"], unique=False)

    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("is_positive", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("tagger_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_tags_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint(
            "item_id", "label", "tagger_version", name="uq_tags_item_label_version"
        ),
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tags_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_tags_label_positive", ["label", "is_positive"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index("ix_tags_label_positive")
        batch_op.drop_index(batch_op.f("ix_tags_item_id"))

    op.drop_table("tags")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_item_id"))

    op.drop_table("entries")
    with op.batch_alter_table("analyst_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyst_labels_item_id"))

    op.drop_table("analyst_labels")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_source_title")
        batch_op.drop_index(batch_op.f("ix_items_source_id"))
        batch_op.drop_index("ix_items_published_at")
        batch_op.drop_index(batch_op.f("ix_items_feed_id"))

    op.drop_table("items")
    with op.batch_alter_table("fetch_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fetch_events_started_at"))
        batch_op.drop_index(batch_op.f("ix_fetch_events_feed_id"))

    op.drop_table("fetch_events")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feeds_source_id"))
        batch_op.drop_index(batch_op.f("ix_feeds_original_url"))
        batch_op.drop_index(batch_op.f("ix_feeds_next_check_at"))

    op.drop_table("feeds")
    op.drop_table("sources")
