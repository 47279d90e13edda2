"""Evaluate alert rules against the store and fill the outbox.

`alert_new_items` runs inside the fetch transaction that stores a feed's new
items, so an item and its alerts are committed together or not at all.
`evaluate_windows` (spikes, shifts) and `queue_due_digests` run on the
worker's alert tick, each rule in its own transaction. `run_alerts` is one
evaluate-and-send cycle: windows, digests, then delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerts.outbox import (
    enqueue,
    insert_event,
    lock_digest_cursor,
    unqueued_events,
)
from monitor.alerts.render import render_digest, render_event
from monitor.alerts.rules import (
    Candidate,
    LabelScore,
    detect_shift,
    detect_spike,
    distinctive_terms,
    matches,
    next_digest_at,
    shift_threshold,
    snippet,
    window_bounds,
)
from monitor.alerts.sender import DeliveryReport, deliver_due
from monitor.config import AlertRuleSettings, Settings
from monitor.export.query import ItemFilter, filtered
from monitor.store.models import Item, Source, Tag
from monitor.store.session import transaction

log = logging.getLogger(__name__)

_EXAMPLES = 3
#: ids per IN list, well below every backend's limit on bound parameters
_CHUNK = 500


@dataclass
class AlertsReport:
    events: int = 0
    digests: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    def summary(self) -> str:
        return (
            f"alerts: {self.events} new from spike/shift rules, {self.digests} digests queued; "
            f"{self.delivery.summary()}"
        )


def run_alerts(
    settings: Settings, engine: Engine, *, worker: str, now: datetime | None = None
) -> AlertsReport:
    """One evaluate-and-send cycle; what the scheduler runs every `alerts.tick_seconds`."""
    at = now or datetime.now(UTC)
    report = AlertsReport()
    report.events = evaluate_windows(settings, engine, now=at)
    report.digests = queue_due_digests(settings, engine, now=at)
    report.delivery = deliver_due(settings, engine, worker=worker, now=now)
    return report


# --- match rules: new items, in the storing transaction ----------------------------------


def alert_new_items(
    session: Session, settings: Settings, item_ids: Sequence[int], *, now: datetime
) -> int:
    """Fire the match rules on the items this transaction created; returns events made.

    Only items first stored at `now` count: an update of an older story is not
    news, and an item is one story however many feeds carried it.
    """
    rules = [r for r in settings.alerts.rules if r.enabled and r.kind == "match"]
    if not rules or not item_ids:
        return 0
    items = [c for c in load_candidates(session, settings, item_ids) if c.fetched_at == now]
    fired = 0
    for rule in rules:
        for loaded in items:
            if matches(rule, loaded.candidate):
                fired += fire(
                    session,
                    rule,
                    kind="match",
                    dedupe_key=f"item:{loaded.candidate.item_id}",
                    payload=loaded.payload,
                    now=now,
                    item_id=loaded.candidate.item_id,
                )
    return fired


def fire(
    session: Session,
    rule: AlertRuleSettings,
    *,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    item_id: int | None = None,
) -> int:
    """Record an event (once per rule and key) and, for immediate rules, its messages."""
    immediate = rule.delivery == "immediate"
    event_id = insert_event(
        session,
        rule=rule.name,
        kind=kind,
        dedupe_key=dedupe_key,
        payload=payload,
        now=now,
        item_id=item_id,
        queued=immediate,
    )
    if event_id is None:
        return 0
    if immediate:
        message = render_event(rule.name, payload)
        for channel in rule.channels:
            enqueue(
                session,
                message_key=f"event:{event_id}:{channel}",
                rule=rule.name,
                channel=channel,
                message=message,
                now=now,
                event_id=event_id,
            )
    return 1


@dataclass(frozen=True)
class Loaded:
    candidate: Candidate
    payload: dict[str, Any]
    published_at: datetime
    fetched_at: datetime


def load_candidates(session: Session, settings: Settings, item_ids: Sequence[int]) -> list[Loaded]:
    """Items with their publisher and labels, as filters and messages need them."""
    rows: list[tuple[Item, Source]] = []
    tags: dict[int, list[Tag]] = {}
    for start in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[start : start + _CHUNK]
        rows += session.execute(
            select(Item, Source).join(Source, Source.id == Item.source_id).where(Item.id.in_(chunk))
        )
        for tag in session.scalars(select(Tag).where(Tag.item_id.in_(chunk))):
            tags.setdefault(tag.item_id, []).append(tag)
    names = {x.id: x.name for x in (*settings.tagging.topics, *settings.tagging.frames)}
    loaded = []
    for item, source in rows:
        item_tags = tags.get(item.id, [])
        candidate = Candidate(
            item_id=item.id,
            title=item.title,
            text=f"{item.summary_text}\n{item.content_text}",
            publisher=source.name,
            source_type=source.source_type,
            country=source.country,
            language=item.language,
            labels={t.label: LabelScore(t.kind, t.score, t.is_positive) for t in item_tags},
        )
        payload = item_payload(item, source, item_tags, names)
        loaded.append(Loaded(candidate, payload, item.published_at, item.fetched_at))
    loaded.sort(key=lambda x: x.candidate.item_id)
    return loaded


def item_payload(
    item: Item, source: Source, tags: Sequence[Tag], names: dict[str, str]
) -> dict[str, Any]:
    """What a message says about an item: frozen into the event when the rule fires."""
    fields = {"title": item.title, "summary": item.summary_text, "content": item.content_text}
    labels = []
    positive = sorted(
        (t for t in tags if t.is_positive), key=lambda t: (t.kind != "topic", -t.score, t.label)
    )
    for tag in positive:
        quote = ""
        for evidence in tag.evidence:
            if evidence.get("kind") == "rule":
                text = fields.get(str(evidence.get("field")), "")
                quote = snippet(text, int(evidence.get("start", 0)), int(evidence.get("end", 0)))
                break
        labels.append(
            {
                "kind": tag.kind,
                "id": tag.label,
                "name": names.get(tag.label, tag.label),
                "score": round(tag.score, 3),
                "snippet": quote,
            }
        )
    return {
        "type": "item",
        "item_id": item.id,
        "title": item.title,
        "publisher": source.name,
        "source_type": source.source_type,
        "country": source.country,
        "language": item.language,
        "published_at": item.published_at.isoformat(),
        "url": item.canonical_url or item.url or "",
        "labels": labels,
    }


# --- spike and shift rules: windows, on the alert tick ------------------------------------


def evaluate_windows(settings: Settings, engine: Engine, *, now: datetime) -> int:
    fired = 0
    for rule in settings.alerts.rules:
        if rule.enabled and rule.kind in ("spike", "shift"):
            with transaction(engine) as session:
                fired += evaluate_window_rule(session, settings, rule, now=now)
    return fired


def window_population(
    session: Session, settings: Settings, rule: AlertRuleSettings, since: datetime, until: datetime
) -> list[Loaded]:
    """Items published in [since, until) that pass the rule's filters."""
    publishers = stored_publishers(session, rule.publishers)
    if rule.publishers and not publishers:
        return []  # none of the rule's publishers is stored yet
    sources = ItemFilter(
        publishers=publishers,
        source_types=rule.source_types,
        countries=tuple(c.upper() for c in rule.countries),
        languages=tuple(lang.lower() for lang in rule.languages),
    )
    query = filtered(
        select(Item.id)
        .join(Source, Source.id == Item.source_id)
        .where(Item.published_at >= since, Item.published_at < until),
        sources,
    )
    ids = list(session.scalars(query).all())
    return [x for x in load_candidates(session, settings, ids) if matches(rule, x.candidate)]


def stored_publishers(session: Session, names: Sequence[str]) -> tuple[str, ...]:
    """The stored source names that `names` name, ignoring case as `matches` does."""
    wanted = {name.casefold() for name in names}
    if not wanted:
        return ()
    return tuple(n for n in session.scalars(select(Source.name)) if n.casefold() in wanted)


def _has(loaded: Loaded, label: str, min_score: float) -> bool:
    score = loaded.candidate.labels.get(label)
    return score is not None and score.is_positive and score.score >= min_score


def _on_topic(loaded: Loaded) -> bool:
    return any(s.kind == "topic" and s.is_positive for s in loaded.candidate.labels.values())


def evaluate_window_rule(
    session: Session, settings: Settings, rule: AlertRuleSettings, *, now: datetime
) -> int:
    """Test the window that closed last, then the current window so far.

    The closed window gets the final look, with the items that arrived after it
    closed; the current one interim looks, one per tick while it fills (see
    `shift_threshold`). Both fire under the window's own key, so once at most.
    """
    starts = window_bounds(now, rule.window_hours, rule.baseline_windows + 1)
    edges = [*starts, starts[-1] + timedelta(hours=rule.window_hours)]
    population = window_population(session, settings, rule, edges[0], now + timedelta(seconds=1))
    if rule.kind == "shift":
        population = [x for x in population if _on_topic(x)]
    fired = 0
    for end, final in ((len(edges) - 2, True), (len(edges) - 1, False)):
        payload = window_alert(
            settings,
            rule,
            population,
            edges[end - rule.baseline_windows - 1 : end + 1],
            final=final,
        )
        if payload is not None:
            fired += fire(
                session,
                rule,
                kind=rule.kind,
                dedupe_key=f"{rule.label}:{payload['window_start']}",
                payload=payload,
                now=now,
            )
    return fired


def window_alert(
    settings: Settings,
    rule: AlertRuleSettings,
    population: Sequence[Loaded],
    bounds: Sequence[datetime],
    *,
    final: bool,
) -> dict[str, Any] | None:
    """The alert for the window [bounds[-2], bounds[-1]) against the windows before it, if any.

    `bounds`: the starts of the baseline windows, then the tested window's start and end.
    """
    start, end = bounds[-2], bounds[-1]
    baseline = [x for x in population if bounds[0] <= x.published_at < start]
    latest = [x for x in population if start <= x.published_at < end]
    latest_hits = [x for x in latest if _has(x, rule.label, rule.min_score)]
    names = {x.id: x.name for x in (*settings.tagging.topics, *settings.tagging.frames)}
    label_name = names.get(rule.label, rule.label)
    examples = [
        {k: x.payload[k] for k in ("title", "publisher", "published_at", "url")}
        for x in sorted(latest_hits, key=lambda x: -x.candidate.labels[rule.label].score)[
            :_EXAMPLES
        ]
    ]
    window = {
        "label": rule.label,
        "label_name": label_name,
        "window_start": start.isoformat(),
        "window_hours": rule.window_hours,
        "examples": examples,
    }
    if rule.kind == "spike":
        counts = [0] * rule.baseline_windows
        for x in baseline:
            if _has(x, rule.label, rule.min_score):
                index = next(i for i in range(len(bounds) - 2) if x.published_at < bounds[i + 1])
                counts[index] += 1
        spike = detect_spike(counts, len(latest_hits), k=rule.k, min_count=rule.min_count)
        if spike is None:
            return None
        return {
            **window,
            "type": "spike",
            "headline": (
                f"Spike: {label_name}, {spike.latest} items in the "
                f"{rule.window_hours:g} h from {start:%Y-%m-%d %H:%M} UTC"
            ),
            "detail": (
                f"{spike.latest} items in the window from {start:%Y-%m-%d %H:%M} UTC against "
                f"{spike.mean:.1f} ± {spike.sigma:.1f} per {rule.window_hours:g} h over the "
                f"previous {rule.baseline_windows} windows (threshold {spike.threshold:.1f})"
            ),
            "latest": spike.latest,
            "mean": round(spike.mean, 2),
            "sigma": round(spike.sigma, 2),
            "threshold": round(spike.threshold, 2),
        }
    baseline_hits = [x for x in baseline if _has(x, rule.label, rule.min_score)]
    shift = detect_shift(
        len(latest_hits),
        len(latest),
        len(baseline_hits),
        len(baseline),
        p_value=shift_threshold(rule.p_value, final=final),
        min_items=rule.min_items,
        direction=rule.direction,
    )
    if shift is None:
        return None
    terms = distinctive_terms(
        [x.candidate.title for x in latest_hits], [x.candidate.title for x in baseline]
    )
    return {
        **window,
        "type": "shift",
        "headline": (
            f"Shift: the share of {label_name} {shift.direction} to "
            f"{shift.latest_share:.0%} from {shift.baseline_share:.0%}"
        ),
        "detail": (
            f"{len(latest_hits)} of {len(latest)} on-topic items in the window from "
            f"{start:%Y-%m-%d %H:%M} UTC against {len(baseline_hits)} of "
            f"{len(baseline)} in the previous {rule.baseline_windows} windows "
            f"(z = {shift.z:.2f}, p = {shift.p_value:.4f})"
        ),
        "latest_share": round(shift.latest_share, 4),
        "baseline_share": round(shift.baseline_share, 4),
        "z": round(shift.z, 3),
        "p_value": shift.p_value,
        "terms": terms,
    }


# --- digests --------------------------------------------------------------------------------


def queue_due_digests(settings: Settings, engine: Engine, *, now: datetime) -> int:
    """Turn each due digest rule's waiting events into one message per channel."""
    queued = 0
    for rule in settings.alerts.rules:
        if not rule.enabled or rule.delivery == "immediate":
            continue
        with transaction(engine) as session:
            queued += queue_digest(session, rule, now=now)
    return queued


def queue_digest(session: Session, rule: AlertRuleSettings, *, now: datetime) -> int:
    cursor = lock_digest_cursor(session, rule, first_due_at=next_digest_at(rule, now))
    if cursor is None or cursor.next_due_at > now:
        return 0  # another worker holds it, or not yet due
    events = unqueued_events(session, rule.name)
    cursor.next_due_at = next_digest_at(rule, now)
    if not events:
        return 0
    since = cursor.last_sent_at
    period = (
        f"{since:%Y-%m-%d %H:%M} – {now:%Y-%m-%d %H:%M} UTC"
        if since
        else f"until {now:%Y-%m-%d %H:%M} UTC"
    )
    message = render_digest(rule.name, [e.payload for e in events], period=period)
    span = f"{events[0].id}-{events[-1].id}"
    for channel in rule.channels:
        enqueue(
            session,
            message_key=f"digest:{rule.name}:{span}:{channel}",
            rule=rule.name,
            channel=channel,
            message=message,
            now=now,
        )
    for event in events:
        event.queued_at = now
    cursor.last_event_id = events[-1].id
    cursor.last_sent_at = now
    return 1
