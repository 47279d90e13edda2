"""The read API under /api/v1: a Flask Blueprint any Flask server can mount.

    params.py    query parameters: one table for parsing and for the OpenAPI document
    routes.py    the blueprint: items, series, sources, export, openapi.json
    series.py    topic counts per period and frame shares with Wilson intervals
    openapi.py   the OpenAPI 3.1 document

The dashboard's Flask server mounts it with `init_api(server, settings, engine)`;
`create_app` builds a server holding nothing else (for `monitor serve` and tests).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from monitor.api.routes import EXTENSION, ApiContext, blueprint
from monitor.config import Settings


def init_api(app: Flask, settings: Settings, engine: Engine) -> None:
    """Mount the blueprint on `app` and give it the settings and the database."""
    app.extensions[EXTENSION] = ApiContext(settings, engine)
    app.register_blueprint(blueprint)


def create_app(settings: Settings, engine: Engine) -> Flask:
    """A Flask app serving only the API; HTTP errors answer in JSON too."""
    app = Flask("monitor.api")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep column order
    init_api(app, settings, engine)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        response: Response = jsonify({"error": f"{exc.code} {exc.name}: {exc.description}"})
        return response, exc.code or 500

    return app


__all__ = ["ApiContext", "blueprint", "create_app", "init_api"]
