"""What callbacks need (settings, engines, legends), kept on the Flask server.

Callbacks run inside a Flask request, so they find it through `current_app`;
nothing is loaded at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event

from dashboards.events import KeyEvent, key_events
from dashboards.figures import Legend
from monitor.config import Settings

EXTENSION = "dashboards"


@dataclass(frozen=True)
class DashboardContext:
    settings: Settings
    #: writes (analyst corrections) go through the monitor's engine
    engine: Engine
    #: reads; on SQLite a twin engine whose transactions do not take the write lock
    reader: Engine
    legend: Legend
    topics: tuple[str, ...]
    frames: tuple[str, ...]
    events: tuple[KeyEvent, ...]


def read_engine(engine: Engine) -> Engine:
    """An engine for reading the same database.

    The monitor's SQLite engine starts every transaction with BEGIN IMMEDIATE so
    writers queue; a dashboard read would then wait for, and block, the fetcher.
    Reads here use SQLite's default deferred transactions in WAL mode instead.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return engine
    reader = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        # aggregates touch many pages: map the file and keep a larger page cache
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    return reader


def build_context(
    settings: Settings, engine: Engine, events: tuple[KeyEvent, ...] | None = None
) -> DashboardContext:
    labels = (*settings.tagging.topics, *settings.tagging.frames)
    return DashboardContext(
        settings=settings,
        engine=engine,
        reader=read_engine(engine),
        legend=Legend(
            names={label.id: label.name for label in labels},
            colors={label.id: label.color for label in labels if label.color},
        ),
        topics=tuple(t.id for t in settings.tagging.topics),
        frames=tuple(f.id for f in settings.tagging.frames),
        events=events if events is not None else key_events(),
    )


def install(server: Flask, context: DashboardContext) -> None:
    server.extensions[EXTENSION] = context


def current() -> DashboardContext:
    context: DashboardContext = current_app.extensions[EXTENSION]
    return context
