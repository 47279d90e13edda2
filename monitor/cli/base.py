"""The `monitor` command group and what every command shares."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from monitor.config import Settings, load_settings
from monitor.errors import MonitorError
from monitor.store.session import make_engine


@dataclass
class AppContext:
    config_path: str | None
    _settings: Settings | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            db = self.settings.database
            self._engine = make_engine(db.url, busy_timeout=db.sqlite_busy_timeout)
        return self._engine


class MonitorGroup(click.Group):
    """Turns expected failures into one line on stderr and a meaningful exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.echo(f"monitor: error: {_one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except OperationalError as exc:
            click.echo(f"monitor: error: database unavailable: {_first_line(exc.orig)}", err=True)
            sys.exit(1)
        except SQLAlchemyError as exc:
            click.echo(f"monitor: error: database error: {_first_line(exc)}", err=True)
            sys.exit(1)


def _one_line(exc: object) -> str:
    """Driver messages span lines (psycopg adds hints); the CLI promises one."""
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip())


def _first_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@click.group(cls=MonitorGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="MONITOR_CONFIG",
    help="Configuration file (default: ./config.toml; env MONITOR_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="discourse-monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Discourse Monitor: follow how NATO membership, neutrality and security
    guarantees are discussed across government, think-tank and media feeds."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = AppContext(config_path)


pass_app = click.make_pass_decorator(AppContext)
