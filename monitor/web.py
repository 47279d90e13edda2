"""One web server for the dashboard and the read API (`monitor serve`, `monitor up`)."""

from __future__ import annotations

import contextlib
import signal
from types import FrameType

from flask import Flask
from sqlalchemy import Engine

from monitor.api import init_api
from monitor.config import Settings


def build_server(settings: Settings, engine: Engine) -> Flask:
    """The Dash app's Flask server with the /api/v1 blueprint mounted on it."""
    from dashboards.app import create_app
    from dashboards.events import key_events

    events = (
        key_events([{"date": e.date, "label": e.label} for e in settings.dashboard.events])
        if settings.dashboard.events
        else None
    )
    dash_app = create_app(settings, engine, events=events)
    server: Flask = dash_app.server
    init_api(server, settings, engine)
    return server


def serve(server: Flask, host: str, port: int) -> None:
    """Serve on waitress until SIGINT or SIGTERM."""
    import waitress

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        waitress.serve(server, host=host, port=port, threads=8)
