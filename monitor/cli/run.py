"""init, fetch, run, up, status."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import click

from monitor.cli.base import AppContext, cli, pass_app
from monitor.feeds.decide import clamp_interval
from monitor.pipeline import run_cycle
from monitor.pool import start_fork_server
from monitor.scheduler import run_worker
from monitor.store.feeds import feed_rows, item_total, sync_configured_feeds
from monitor.store.session import require_current, transaction, upgrade


def prepare(app: AppContext, *, migrate: bool) -> None:
    """Bring the schema to head (or insist it is) and load the configured feeds."""
    if migrate:
        upgrade(app.engine)
    else:
        require_current(app.engine)
    with transaction(app.engine) as session:
        sync_configured_feeds(
            session, app.settings.feeds, interval_seconds=clamp_interval(None, app.settings.fetch)
        )


@cli.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the database or upgrade it to the latest schema (safe to repeat)."""
    before, head = upgrade(app.engine)
    with transaction(app.engine) as session:
        report = sync_configured_feeds(
            session, app.settings.feeds, interval_seconds=clamp_interval(None, app.settings.fetch)
        )
    state = "created" if before is None else ("up to date" if before == head else "upgraded")
    click.echo(
        f"database {state} at schema revision {head} ({app.engine.url.render_as_string()}); "
        f"configured feeds: {report.added} added, {report.updated} updated"
    )


@cli.command()
@click.option("--all", "fetch_all", is_flag=True, help="Fetch every enabled feed now, due or not.")
@pass_app
def fetch(app: AppContext, fetch_all: bool) -> None:
    """Run one fetch cycle over due feeds, print a summary and exit.

    Exits 0 even when some feeds fail: their status lines say why.
    """
    prepare(app, migrate=False)
    report = run_cycle(app.settings, app.engine, include_not_due=fetch_all)
    click.echo(report.summary())
    for failure in report.failures[:50]:
        click.echo(f"  failed: {failure}")
    if len(report.failures) > 50:
        click.echo(f"  … and {len(report.failures) - 50} more (see `monitor status`)")


@cli.command()
@pass_app
def run(app: AppContext) -> None:
    """Run the worker until SIGTERM or SIGINT, then finish in-flight feeds and exit."""
    prepare(app, migrate=False)
    click.echo(
        f"worker started; checking due feeds every {app.settings.scheduler.tick_seconds:g} s"
    )
    run_worker(app.settings, app.engine, on_cycle=click.echo)
    click.echo("worker stopped")


@cli.command()
@click.option("--host", help="Listen address (default: dashboard.host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: dashboard.port).")
@pass_app
def up(app: AppContext, host: str | None, port: int | None) -> None:
    """Create or upgrade the database, monitor the configured feeds and serve the dashboard.

    Ctrl-C or SIGTERM stops the server, then lets the worker finish in-flight feeds.
    """
    prepare(app, migrate=True)
    # from this, the main thread, the fork server inherits Ctrl-C ignored (the worker
    # thread would start it deaf only once it runs)
    start_fork_server()
    stop = threading.Event()
    serving = threading.Event()

    def on_ctrl_c(_signum: int, _frame: FrameType | None) -> None:
        # until the server runs, Ctrl-C only sets the event: raised while the web stack
        # loads, a KeyboardInterrupt can be caught by a library, or leave an import lock
        # held that the worker thread then waits on forever
        stop.set()
        if serving.is_set():
            raise KeyboardInterrupt

    def still_wanted() -> bool:
        serving.set()
        return not stop.is_set()

    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_ctrl_c)
    worker = threading.Thread(
        target=run_worker,
        args=(app.settings, app.engine),
        kwargs={"stop": stop, "on_cycle": click.echo},
        name="worker",
    )
    host, port = host or app.settings.dashboard.host, port or app.settings.dashboard.port
    # from the worker's start on, a Ctrl-C anywhere must stop it: left running, it would
    # keep the process alive after the main thread ended
    try:
        worker.start()
        click.echo(
            f"monitoring {len(app.settings.feeds)} configured feeds into "
            f"{app.engine.url.render_as_string()}; dashboard at http://{host}:{port}/ "
            f"(API at /api/v1/); Ctrl-C stops"
        )
        _serve(app, host, port, still_wanted)
    except KeyboardInterrupt:
        pass  # Ctrl-C as the server starts: stopped like Ctrl-C once it runs
    finally:
        stop.set()
        if worker.ident is not None:
            worker.join()
        signal.signal(signal.SIGINT, previous)
    click.echo("stopped")


@cli.command("serve")
@click.option("--host", help="Listen address (default: dashboard.host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: dashboard.port).")
@pass_app
def serve_command(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the dashboard and the read API (/api/v1, OpenAPI at /api/v1/openapi.json)."""
    require_current(app.engine)
    host, port = host or app.settings.dashboard.host, port or app.settings.dashboard.port
    click.echo(f"dashboard at http://{host}:{port}/, API at /api/v1/ (Ctrl-C stops)")
    _serve(app, host, port)


def _serve(
    app: AppContext, host: str, port: int, still_wanted: Callable[[], bool] = lambda: True
) -> None:
    """Load the web stack, then serve unless `still_wanted()`, asked once it is loaded, says no."""
    # imported here: the web stack (Dash, pandas, pyarrow) stays out of `monitor run`
    from monitor.web import build_server, serve

    server = build_server(app.settings, app.engine)
    if still_wanted():
        serve(server, host, port)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Per-feed status, item counts and totals."""
    require_current(app.engine)
    with transaction(app.engine) as session:
        rows = feed_rows(session)
        total_items = item_total(session)
    feeds = [feed_record(row.feed, row.source, row.items) for row in rows]
    by_status: dict[str, int] = {}
    for feed in feeds:
        by_status[feed["status"]] = by_status.get(feed["status"], 0) + 1
    totals = {"feeds": len(feeds), "items": total_items, "feeds_by_status": by_status}
    if as_json:
        click.echo(json.dumps({"feeds": feeds, "totals": totals}, indent=2, ensure_ascii=False))
        return
    for feed in feeds:
        click.echo(f"[{feed['id']:>4}] {feed['publisher']} · {feed['url']}")
        click.echo(f"       {feed['items']} items · {feed['status_line']}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    click.echo(f"{len(feeds)} feeds ({summary}); {total_items} items")


def feed_record(feed: Any, source: Any, items: int) -> dict[str, Any]:
    """A feed as plain data for --json output and listings."""
    return {
        "id": feed.id,
        "url": feed.url,
        "publisher": source.name,
        "source_type": source.source_type,
        "country": source.country,
        "language": feed.language,
        "verified": feed.verified,
        "enabled": feed.enabled,
        "status": feed.status,
        "status_line": feed.status_line,
        "items": items,
        "failure_score": feed.failure_score,
        "last_checked_at": _iso(feed.last_checked_at),
        "last_success_at": _iso(feed.last_success_at),
        "next_check_at": _iso(feed.next_check_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
