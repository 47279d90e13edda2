"""why a feed's last body was no feed

Revision ID: 0005
Revises: 0004

With the error kept beside the body's hash (and its validators), the same
body again, or a 304 for it, repeats the failure without reading the body again.

Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feeds", sa.Column("body_error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("feeds", "body_error")
