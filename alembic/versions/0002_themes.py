"""themes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:57:20.153568
"""

from __future__ import annotations

import sqlalchemy as sa

import monitor.store.models
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "themes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fit_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=False),
        sa.Column("top_terms", sa.JSON(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("fitted_at", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themes")),
    )
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_themes_fit_id"), ["fit_id"], unique=False)

    op.create_table(
        "theme_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("period_start", monitor.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_theme_counts_theme_id_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_counts")),
        sa.UniqueConstraint("theme_id", "period_start", name="uq_theme_counts_period"),
    )
    with op.batch_alter_table("theme_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_theme_counts_theme_id"), ["theme_id"], unique=False)

    op.create_table(
        "item_themes",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_themes_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_item_themes_theme_id_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_themes")),
    )
    with op.batch_alter_table("item_themes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_themes_theme_id"), ["theme_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("item_themes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_themes_theme_id"))

    op.drop_table("item_themes")
    with op.batch_alter_table("theme_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_theme_counts_theme_id"))

    op.drop_table("theme_counts")
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_themes_fit_id"))

    op.drop_table("themes")
