"""monitor feeds …: list, add, enable, disable, import-opml, export-opml."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.cli.base import AppContext, cli, pass_app
from monitor.cli.run import feed_record
from monitor.config import SOURCE_TYPES, FeedSettings
from monitor.errors import InputError
from monitor.feeds.decide import clamp_interval
from monitor.opml import (
    PUBLISHER_FROM,
    ImportDefaults,
    PublisherFrom,
    normalise_country,
    normalise_language,
    parse_opml,
    plan_import,
    render_opml,
)
from monitor.store.feeds import FeedRow, add_feed, feed_rows, find_feed, set_enabled
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
    spec = FeedSettings(
        url=url,
        publisher=publisher,
        source_type=source_type,
        country=_option("--country", normalise_country, country),
        language=_option("--language", normalise_language, language),
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


@feeds.command("import-opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--publisher-from",
    type=click.Choice(PUBLISHER_FROM),
    default="text",
    show_default=True,
    help="Publisher for outlines without a publisher attribute: the outline's text, "
    "its title, or the folder it sits in.",
)
@click.option(
    "--source-type",
    type=click.Choice(SOURCE_TYPES),
    default="media",
    show_default=True,
    help="For outlines without a sourceType attribute.",
)
@click.option("--country", default="", help="For outlines without a country attribute.")
@click.option("--language", default="", help="For outlines without a language attribute.")
@pass_app
def import_opml(
    app: AppContext,
    file: Path,
    publisher_from: PublisherFrom,
    source_type: str,
    country: str,
    language: str,
) -> None:
    """Add the feeds of an OPML subscription list that are not yet present (one transaction)."""
    require_current(app.engine)
    defaults = ImportDefaults(
        publisher_from=publisher_from,
        source_type=source_type,
        country=_option("--country", normalise_country, country),
        language=_option("--language", normalise_language, language),
    )
    document = parse_opml(file.read_bytes())
    with transaction(app.engine) as session:
        present = {url for row in feed_rows(session) for url in _urls(row)}
        plan = plan_import(document, defaults, present_urls=present)
        interval = clamp_interval(None, app.settings.fetch)
        for spec in plan.to_add:
            add_feed(session, spec, interval_seconds=interval)
    for skipped in plan.already_present:
        click.echo(f"  skipped {skipped}")
    for skipped in plan.invalid:
        click.echo(f"  invalid {skipped}")
    click.echo(
        f"imported {len(plan.to_add)} feeds from {file}; "
        f"{len(plan.already_present)} already present, {len(plan.invalid)} invalid"
    )


@feeds.command("export-opml")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@pass_app
def export_opml(app: AppContext, output: Path | None) -> None:
    """Write every feed as OPML 2.0, in folders by source type, with our metadata."""
    require_current(app.engine)
    with transaction(app.engine) as session:
        specs = [_feed_settings(row) for row in feed_rows(session)]
    document = render_opml(specs, title="Discourse Monitor feeds", created_at=datetime.now(UTC))
    if output is None:
        click.echo(document, nl=False)
        return
    output.write_text(document, encoding="utf-8")
    click.echo(f"exported {len(specs)} feeds to {output}")


def _option(name: str, normalise: Callable[[str], str], value: str) -> str:
    try:
        return normalise(value)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def _urls(row: FeedRow) -> tuple[str, str]:
    return row.feed.url, row.feed.original_url


def _feed_settings(row: FeedRow) -> FeedSettings:
    return FeedSettings(
        url=row.feed.url,
        publisher=row.source.name,
        source_type=row.source.source_type,
        country=row.source.country,
        language=row.feed.language,
        verified=row.feed.verified,
        full_text=row.feed.full_text,
        title=row.feed.title,
        enabled=row.feed.enabled,
    )
