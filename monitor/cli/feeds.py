"""monitor feeds …: list, add, enable, disable."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from monitor.cli.base import AppContext, cli, pass_app
from monitor.cli.run import feed_record
from monitor.config import SOURCE_TYPES, FeedSettings
from monitor.errors import InputError
from monitor.feeds.decide import clamp_interval
from monitor.store.feeds import add_feed, feed_rows, find_feed, set_enabled
from monitor.store.session import require_current, transaction


@cli.group()
def feeds() -> None:
    """List and manage feeds."""


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def list_feeds(app: AppContext, as_json: bool) -> None:
    """Every feed with its publisher, type, country, language and status."""
    require_current(app.engine)
    with transaction(app.engine) as session:
        records = [feed_record(r.feed, r.source, r.items) for r in feed_rows(session)]
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    for r in records:
        flag = "" if r["enabled"] else " [disabled]"
        verified = "verified" if r["verified"] else "unverified"
        click.echo(
            f"[{r['id']:>4}] {r['publisher']} ({r['source_type']}, {r['country']}, "
            f"{r['language']}, {verified}){flag}\n       {r['url']}"
        )


@feeds.command("add")
@click.argument("url")
@click.option("--publisher", required=True, help="Who publishes the feed.")
@click.option("--source-type", type=click.Choice(SOURCE_TYPES), default="media", show_default=True)
@click.option("--country", default="", help="ISO 3166-1 alpha-2 code, or INT / EU.")
@click.option("--language", default="", help="ISO 639-1 code; detected per item when empty.")
@click.option("--full-text", is_flag=True, help="Also fetch each linked article's text.")
@pass_app
def add(
    app: AppContext,
    url: str,
    publisher: str,
    source_type: str,
    country: str,
    language: str,
    full_text: bool,
) -> None:
    """Add a feed by URL; it is fetched at the next cycle."""
    require_current(app.engine)
    if language and not (len(language) == 2 and language.isalpha()):
        raise InputError(f"--language must be an ISO 639-1 code such as 'en', not {language!r}")
    spec = FeedSettings(
        url=url,
        publisher=publisher,
        source_type=source_type,
        country=country.upper(),
        language=language.lower(),
        full_text=full_text,
    )
    with transaction(app.engine) as session:
        feed = add_feed(session, spec, interval_seconds=clamp_interval(None, app.settings.fetch))
        click.echo(f"added feed {feed.id}: {feed.url}")


@feeds.command()
@click.argument("feed_ref", metavar="FEED")
@pass_app
def enable(app: AppContext, feed_ref: str) -> None:
    """Enable a feed (by id or URL); it becomes due at once."""
    _set_enabled(app, feed_ref, True)


@feeds.command()
@click.argument("feed_ref", metavar="FEED")
@pass_app
def disable(app: AppContext, feed_ref: str) -> None:
    """Stop fetching a feed (by id or URL) until it is enabled again."""
    _set_enabled(app, feed_ref, False)


def _set_enabled(app: AppContext, feed_ref: str, enabled: bool) -> None:
    require_current(app.engine)
    with transaction(app.engine) as session:
        feed = find_feed(session, feed_ref)
        if feed is None:
            raise InputError(f"no feed with id or URL {feed_ref!r}")
        set_enabled(session, feed, enabled, now=datetime.now(UTC))
        click.echo(f"feed {feed.id} {'enabled' if enabled else 'disabled'}: {feed.url}")
