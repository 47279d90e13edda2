"""backfill, import: older items from a feed's archives or from files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import click

from monitor.cli.base import AppContext, cli, pass_app
from monitor.errors import FetchError, ImportFailed
from monitor.history.backfill import PageResult, backfill_feed
from monitor.history.importer import FORMATS, check_file, format_of, store_file
from monitor.store.session import require_current

#: files smaller than this import too fast to need a progress bar
_PROGRESS_MIN_BYTES = 1_000_000


class Advance(Protocol):
    def __call__(self, steps: int, note: str | None = None) -> None: ...


def _ignore(steps: int, note: str | None = None) -> None:
    pass


@contextmanager
def progress(length: int, label: str, *, show: bool = True) -> Iterator[Advance]:
    """A progress bar on a terminal; nothing when stdout is a file or a pipe."""
    if not (show and sys.stdout.isatty()):
        yield _ignore
        return
    with click.progressbar(length=length, label=label, item_show_func=lambda note: note) as bar:

        def advance(steps: int, note: str | None = None) -> None:
            bar.update(steps, note)

        yield advance


@cli.command()
@click.argument("feed_ref", metavar="FEED")
@click.option("--restart", is_flag=True, help="Start again from the feed's newest page.")
@pass_app
def backfill(app: AppContext, feed_ref: str, restart: bool) -> None:
    """Store a feed's older items (FEED is an id or URL).

    Follows RFC 5005 archive links (prev-archive) page by page; a feed without
    them is asked for WordPress-style pages (?paged=2, ?paged=3, …) until a page
    is missing, empty or repeats. At most backfill.max_pages pages per run, with
    backfill.delay_seconds between two pages.

    Each page is committed with the address of the next, so a run that stops
    (an error, or max_pages) resumes there next time; --restart starts over.
    Exits 1 when a page cannot be fetched or read (the pages before it are kept).
    """
    require_current(app.engine)
    settings = app.settings

    max_pages = settings.backfill.max_pages
    with progress(max_pages, "backfill") as advance:

        def on_page(page: PageResult) -> None:
            advance(1, f"page {page.number}: {page.counts.new} new")

        report = backfill_feed(settings, app.engine, feed_ref, restart=restart, on_page=on_page)
        if report.done:  # the archive ended before max_pages
            advance(max_pages - report.pages)
    if report.done and report.pages == 0 and not report.error:
        click.echo(f"feed {report.feed_id}: backfill already complete; --restart starts over")
        return
    click.echo(report.summary())
    if report.error:
        raise FetchError(f"backfill of feed {report.feed_id} stopped at {report.error}")


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    help="File format (default: from the name: .csv, .jsonl or .ndjson).",
)
@click.option("--strict", is_flag=True, help="Store nothing if any row is rejected.")
@pass_app
def import_(app: AppContext, path: Path, file_format: str | None, strict: bool) -> None:
    """Load historical items from a CSV (UTF-8, header row) or JSONL file.

    \b
    Fields: title, published (ISO 8601; no offset means UTC) and publisher are
    required; url, summary, content, source_type (default media), country,
    language (ISO 639-1; detected when absent) and guid are optional.

    Every row is checked first and each rejected row is listed with its line
    number; then the accepted rows are stored in one transaction, all or
    nothing. Rows already in the store (same URL, or same title from the same
    publisher) are counted as already stored, not stored twice.

    \b
    Exit codes:
      0  every row was accepted (new or already stored)
      1  some rows were rejected: without --strict the other rows were stored,
         with --strict nothing was; or storing failed and nothing was stored
      2  the file cannot be read as the given format (e.g. an unknown column)
    """
    require_current(app.engine)
    chosen = file_format or format_of(path)
    size = path.stat().st_size
    show = size >= _PROGRESS_MIN_BYTES
    with progress(size, "checking", show=show) as advance:
        report = check_file(path, file_format=chosen, on_progress=lambda n: advance(n))
    for rejected in report.rejected:
        click.echo(str(rejected), err=True)
    if strict and report.rejected:
        raise ImportFailed(
            f"{len(report.rejected)} of {report.rows} rows rejected; nothing stored (--strict)"
        )
    with progress(size, "storing", show=show) as advance:
        store_file(app.settings, app.engine, path, report, on_progress=lambda n: advance(n))
    click.echo(report.summary())
    if report.rejected:
        sys.exit(1)
