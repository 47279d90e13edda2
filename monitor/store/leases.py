"""Leases: a worker claims due rows (feeds to fetch, alert messages to send) for a while."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from monitor.store.models import AlertOutbox, Feed

Leased = TypeVar("Leased", Feed, AlertOutbox)


def claim(
    session: Session,
    model: type[Leased],
    *,
    due: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    limit: int,
    worker: str,
    now: datetime,
    lease_seconds: float,
) -> list[Leased]:
    """Lease up to `limit` rows that are `due` to this worker, in `order_by` order.

    One UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING: on
    PostgreSQL concurrent workers skip each other's rows; SQLite serialises
    writers, so the same statement is safe there too. A row whose lease expired
    (its worker died) is due again.
    """
    free = or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)
    chosen = (
        select(model.id)
        .where(*due, free)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.scalars(
        update(model)
        .where(model.id.in_(chosen.scalar_subquery()))
        .values(lease_owner=worker, lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(model.id)
    ).all()
    if not claimed:
        return []
    return list(session.scalars(select(model).where(model.id.in_(claimed)).order_by(*order_by)))
