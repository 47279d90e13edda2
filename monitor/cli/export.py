"""export, serve: datasets with a datasheet, and the read API."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.base import AppContext, cli, pass_app
from monitor.errors import InputError
from monitor.export import FORMATS
from monitor.export.query import make_filter
from monitor.store.session import require_current


@cli.command("export")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    help="File format (default: from the name: .csv, .jsonl, .parquet).",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The data file; the datasheet goes beside it.",
)
@click.option("--since", metavar="YYYY-MM-DD", help="First UTC day of publication (included).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last UTC day of publication (included).")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="ID",
    help="Items positive for this topic; repeat for any of several.",
)
@click.option(
    "--frame",
    "frames",
    multiple=True,
    metavar="ID",
    help="Items positive for this frame; repeat for any of several.",
)
@click.option(
    "--min-score",
    type=float,
    metavar="0..1",
    help="With --topic/--frame: their score must reach it instead of being "
    "positive; alone: some topic's score must reach it.",
)
@click.option("--publisher", "publishers", multiple=True, help="Publisher name (repeatable).")
@click.option(
    "--source-type",
    "source_types",
    multiple=True,
    help="government, think_tank, intergovernmental or media (repeatable).",
)
@click.option("--country", "countries", multiple=True, help="Country code (repeatable).")
@click.option("--language", "languages", multiple=True, help="ISO 639-1 code (repeatable).")
@click.option(
    "--query",
    help="Case-insensitive substring of the title or summary (a plain "
    "LIKE, not a ranked full-text search; on SQLite only ASCII letters fold case).",
)
@click.option("--with-content", is_flag=True, help="Add the full text column.")
@click.option(
    "--raw", is_flag=True, help="CSV: keep cells that start with = + - @ tab or CR as they are."
)
@pass_app
def export_(
    app: AppContext,
    file_format: str | None,
    output: Path,
    since: str | None,
    until: str | None,
    topics: tuple[str, ...],
    frames: tuple[str, ...],
    min_score: float | None,
    publishers: tuple[str, ...],
    source_types: tuple[str, ...],
    countries: tuple[str, ...],
    languages: tuple[str, ...],
    query: str | None,
    with_content: bool,
    raw: bool,
) -> None:
    """Export stored items with their tags and analyst labels, and a datasheet.

    Items are written in id order, streamed in chunks (memory stays bounded).
    Beside OUTPUT go OUTPUT.datasheet.json and OUTPUT.datasheet.md: the query,
    row count, export time, schema revision, tagger versions, codebook, a
    SHA-256 of the configuration and of the data file, and every column's
    meaning. The same data and filters give a byte-identical data file.

    CSV is RFC 4180 UTF-8 with CRLF line ends. A text cell starting with
    = + - @ tab or CR gets a leading single quote so spreadsheets do not run
    it as a formula; --raw turns that off.
    """
    # imported here: the Parquet writer's pyarrow stays out of the other commands
    from monitor.export.dataset import export_dataset
    from monitor.export.writers import sniff_path

    chosen = file_format or sniff_path(output)
    if chosen is None:
        raise InputError(f"{output}: cannot tell the format from the name; use --format")
    require_current(app.engine)
    selection = make_filter(
        app.settings, since=since, until=until, topics=topics, frames=frames,
        min_score=min_score, publishers=publishers, source_types=source_types,
        countries=countries, languages=languages, query=query,
    )  # fmt: skip
    result = export_dataset(
        app.settings,
        app.engine,
        selection,
        output,
        file_format=chosen,
        with_content=with_content,
        raw=raw,
    )
    click.echo(f"{result.path}: {result.rows} items ({chosen}, sha256 {result.sha256[:12]}…)")
    click.echo(f"datasheet: {result.datasheet_json} and {result.datasheet_md}")
