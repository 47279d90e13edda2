"""Counts of a topic's items per week or month and the share of each frame, with intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from monitor.export.query import ItemFilter, filtered
from monitor.store.models import Item, Source, Tag

#: the 97.5th percentile of the standard normal: a two-sided 95% interval
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval: sane at shares near 0 or 1 and for small counts."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def period_start(moment: datetime, period: str) -> date:
    day = moment.date()
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


@dataclass
class _Bucket:
    items: int = 0
    frames: dict[str, int] = field(default_factory=dict)


def topic_series(
    session: Session,
    selection: ItemFilter,
    *,
    topic: str,
    period: str,
    frame_ids: list[str],
) -> list[dict[str, Any]]:
    """One entry per period that has items: item count and every frame's share.

    Shares are of the topic's items in the period; an item may carry several
    frames, so shares need not sum to 1. Rows are streamed, one per (item,
    positive frame): memory grows with the number of periods only.
    """
    selection = replace(selection, topics=(topic,))
    query = filtered(
        select(Item.id, Item.published_at, Tag.label)
        .select_from(Item)
        .join(Source, Item.source_id == Source.id)
        .outerjoin(
            Tag, and_(Tag.item_id == Item.id, Tag.kind == "frame", Tag.is_positive.is_(True))
        )
        .order_by(Item.id),
        selection,
    )
    buckets: dict[date, _Bucket] = {}
    last_id = None
    for item_id, published_at, frame in session.execute(query).yield_per(5000):
        bucket = buckets.setdefault(period_start(published_at, period), _Bucket())
        if item_id != last_id:
            bucket.items += 1
            last_id = item_id
        if frame is not None:
            bucket.frames[frame] = bucket.frames.get(frame, 0) + 1
    series = []
    for start in sorted(buckets):
        bucket = buckets[start]
        frames = []
        for frame_id in frame_ids:
            count = bucket.frames.get(frame_id, 0)
            low, high = wilson_interval(count, bucket.items)
            frames.append(
                {
                    "frame": frame_id,
                    "count": count,
                    "share": count / bucket.items,
                    "low": low,
                    "high": high,
                }
            )
        series.append({"period_start": start.isoformat(), "items": bucket.items, "frames": frames})
    return series
