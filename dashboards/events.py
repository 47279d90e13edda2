"""Key events drawn on time charts, so a shift can be read against what happened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class KeyEvent:
    day: date
    label: str


DEFAULT_EVENTS: tuple[KeyEvent, ...] = (
    KeyEvent(date(2008, 4, 3), "Bucharest summit"),
    KeyEvent(date(2022, 2, 24), "Full-scale invasion"),
    KeyEvent(date(2022, 3, 29), "Istanbul talks"),
    KeyEvent(date(2023, 7, 11), "Vilnius summit"),
    KeyEvent(date(2024, 7, 10), "Washington summit"),
    KeyEvent(date(2025, 12, 4), "US National Security Strategy"),
)


def key_events(
    override: Iterable[KeyEvent | Mapping[str, str] | tuple[str, str]] | None = None,
) -> tuple[KeyEvent, ...]:
    """The events to draw: the defaults, or `override` (dicts with date and label, or pairs)."""
    if override is None:
        return DEFAULT_EVENTS
    events = []
    for entry in override:
        if isinstance(entry, KeyEvent):
            events.append(entry)
        elif isinstance(entry, Mapping):
            events.append(KeyEvent(date.fromisoformat(entry["date"]), entry["label"]))
        else:
            day, label = entry
            events.append(KeyEvent(date.fromisoformat(day), label))
    return tuple(sorted(events, key=lambda e: e.day))


def events_between(
    events: Iterable[KeyEvent], start: date | None, end: date | None
) -> list[KeyEvent]:
    return [
        e for e in events if (start is None or e.day >= start) and (end is None or e.day <= end)
    ]
