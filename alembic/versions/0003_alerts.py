"""alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:23:30.071086
"""

from __future__ import annotations

import sqlalchemy as sa

import monitor.store.models
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_digests",
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column(
            "last_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("next_due_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_alert_digests")),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("dedupe_key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_alert_events_item_id_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        sa.UniqueConstraint("rule", "dedupe_key", name="uq_alert_events_rule_key"),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_events_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_events_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_events_rule"), ["rule"], unique=False)
        batch_op.create_index("ix_alert_events_rule_queued", ["rule", "queued_at"], unique=False)

    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_key", sa.String(length=400), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column(
            "lease_expires_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", monitor.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["alert_events.id"],
            name=op.f("fk_alert_outbox_event_id_alert_events"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
        sa.UniqueConstraint("message_key", name=op.f("uq_alert_outbox_message_key")),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_alert_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_outbox_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_outbox_rule"), ["rule"], unique=False)

    op.create_table(
        "alert_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("attempted_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["alert_outbox.id"],
            name=op.f("fk_alert_attempts_outbox_id_alert_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_attempts")),
    )
    with op.batch_alter_table("alert_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_attempts_attempted_at"), ["attempted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alert_attempts_outbox_id"), ["outbox_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_attempts_outbox_id"))
        batch_op.drop_index(batch_op.f("ix_alert_attempts_attempted_at"))

    op.drop_table("alert_attempts")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_outbox_rule"))
        batch_op.drop_index(batch_op.f("ix_alert_outbox_event_id"))
        batch_op.drop_index("ix_alert_outbox_due")

    op.drop_table("alert_outbox")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_events_rule_queued")
        batch_op.drop_index(batch_op.f("ix_alert_events_rule"))
        batch_op.drop_index(batch_op.f("ix_alert_events_item_id"))
        batch_op.drop_index(batch_op.f("ix_alert_events_created_at"))

    op.drop_table("alert_events")
    op.drop_table("alert_digests")
