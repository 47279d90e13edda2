"""The Dash app factory: `create_app(settings, engine)` for `monitor serve` / `monitor up`.

Pages live in dashboards/pages (one module each: register_page, layout(), its
callbacks). `app.server` is a plain Flask app; other blueprints (the read API)
can be registered on it.
"""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, dcc, html
from flask import Flask
from sqlalchemy import Engine

from dashboards.context import build_context, install
from dashboards.events import KeyEvent
from monitor.config import Settings

PACKAGE = Path(__file__).resolve().parent


def create_app(
    settings: Settings, engine: Engine, *, events: tuple[KeyEvent, ...] | None = None
) -> Dash:
    """Build the dashboard on its own Flask server, reading `engine`'s database."""
    server = Flask("dashboards")
    install(server, build_context(settings, engine, events))
    app = Dash(
        "dashboards",
        server=server,  # type: ignore[arg-type]  # Dash accepts a Flask app here
        use_pages=True,
        pages_folder=str(PACKAGE / "pages"),
        assets_folder=str(PACKAGE / "assets"),
        title="Discourse Monitor",
        suppress_callback_exceptions=True,
    )
    app.layout = _layout
    return app


def _layout() -> html.Div:
    pages = sorted(dash.page_registry.values(), key=lambda p: p["order"])
    return html.Div(
        [
            html.Header(
                [
                    html.A("Discourse Monitor", href="/", className="brand"),
                    html.Nav(
                        [
                            dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
                            for page in pages
                        ],
                        id="nav",
                    ),
                ],
                className="topbar",
            ),
            html.Main(dash.page_container, className="content"),
        ]
    )
