"""train, tag, eval, retag, themes."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click

from monitor.cli.base import AppContext, cli, pass_app
from monitor.errors import InputError, MonitorError
from monitor.store.session import (
    SCHEMA_REVISION,
    current_revision,
    require_current,
    transaction,
)
from monitor.store.tags import corrections_as_labeled, item_ids_to_retag, tag_items
from monitor.store.themes import on_topic_documents, replace_themes
from monitor.tagging.contract import read_items, tag_stream, to_input
from monitor.tagging.dataset import LabeledItem, labeled_from_record, load_labeled
from monitor.tagging.evaluate import evaluate, format_report
from monitor.tagging.tagger import Tagger
from monitor.tagging.themes import fit_themes
from monitor.tagging.train import MODEL_DIR, load_tagger, save_artifact, train_tagger


@cli.command()
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Artifact directory (default: tagging.model_dir, else the shipped model).",
)
@click.option(
    "--no-corrections", is_flag=True, help="Ignore analyst corrections stored in the database."
)
@pass_app
def train(app: AppContext, output: Path | None, no_corrections: bool) -> None:
    """Train the classifiers on the shipped labeled items plus analyst corrections.

    Deterministic: the same data, rules and libraries give the same model and
    tagger version. Prints the held-out test scores of the rules alone and of
    the combined tagger.
    """
    tagging = app.settings.tagging
    corrections = [] if no_corrections else _stored_corrections(app)
    trained = train_tagger(tagging, load_labeled(), corrections=corrections)
    directory = output or (Path(tagging.model_dir) if tagging.model_dir else MODEL_DIR)
    save_artifact(trained, directory)
    meta = trained.metadata
    test = meta["metrics"]["test"]
    click.echo(
        f"trained tagger {meta['tagger_version']} on {meta['items']['development']} items "
        f"(+{meta['corrections']} analyst corrections); saved to {directory}"
    )
    for name in ("rules_only", "combined"):
        click.echo(
            f"held-out test ({meta['items']['test']} items), {name.replace('_', ' ')}: "
            f"topic micro-F1 {test[name]['topics']['micro']['f1']:.3f}, "
            f"frame micro-F1 {test[name]['frames']['micro']['f1']:.3f}"
        )


def _stored_corrections(app: AppContext) -> list[LabeledItem]:
    try:
        if current_revision(app.engine) != SCHEMA_REVISION:
            return []
    except MonitorError:
        return []
    with transaction(app.engine) as session:
        return corrections_as_labeled(session)


def _open_in(path: str) -> IO[str]:
    return sys.stdin if path == "-" else Path(path).open(encoding="utf-8")


def _open_out(path: str) -> IO[str]:
    return sys.stdout if path == "-" else Path(path).open("w", encoding="utf-8")


@cli.command()
@click.option("--input", "input_path", required=True, help="JSONL items; '-' for stdin.")
@click.option("--output", "output_path", required=True, help="JSONL out; '-' for stdout.")
@pass_app
def tag(app: AppContext, input_path: str, output_path: str) -> None:
    """Tag items from JSONL (codebook contract); no database, no network."""
    tagger = load_tagger(app.settings.tagging)
    try:
        source = _open_in(input_path)
    except OSError as exc:
        raise InputError(f"cannot read {input_path}: {exc.strerror}") from None
    with source, _open_out(output_path) as sink:
        count = tag_stream(tagger, source, sink, name=input_path)
    if output_path != "-":
        click.echo(f"tagged {count} items with {tagger.version} into {output_path}", err=True)


@cli.command("eval")
@click.option("--gold", "gold_path", required=True, help="Gold JSONL ('-' for stdin).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--rules-only", is_flag=True, help="Score the keyword rules without the model.")
@pass_app
def eval_command(app: AppContext, gold_path: str, as_json: bool, rules_only: bool) -> None:
    """Precision, recall and F1 per label, micro/macro, per language, against a gold file."""
    tagging = app.settings.tagging
    tagger = Tagger(tagging) if rules_only else load_tagger(tagging)
    try:
        source = _open_in(gold_path)
    except OSError as exc:
        raise InputError(f"cannot read {gold_path}: {exc.strerror}") from None
    with source:
        records = [r for _n, r in read_items(source, gold_path)]
    gold = [labeled_from_record(r, gold_path) for r in records]
    results = tagger.tag_many([to_input(r) for r in records])
    report = evaluate(
        tagger.topic_ids,
        tagger.frame_ids,
        [(g.language or res.language, set(g.topic_labels), set(g.frame_labels))
         for g, res in zip(gold, results, strict=True)],
        [(set(r.topic_labels), set(r.frame_labels)) for r in results],
    )  # fmt: skip
    report["tagger_version"] = tagger.version
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"tagger {tagger.version}")
        click.echo(format_report(report))


@cli.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only items published on or after this date (YYYY-MM-DD).",
)
@pass_app
def retag(app: AppContext, since: datetime | None) -> None:
    """Re-tag stored items with the current tagger (after rules or model changed)."""
    require_current(app.engine)
    tagger = load_tagger(app.settings.tagging)
    since_utc = since.replace(tzinfo=UTC) if since else None
    with transaction(app.engine) as session:
        batches = list(item_ids_to_retag(session, since=since_utc, batch=500))
    total = 0
    with click.progressbar(batches, label="retagging", file=sys.stderr) as bar:
        for ids in bar:
            with transaction(app.engine) as session:
                total += tag_items(session, tagger, ids)
    click.echo(f"retagged {total} items with {tagger.version}")


@cli.command()
@pass_app
def themes(app: AppContext) -> None:
    """Refit the sub-themes of on-topic items (NMF) and their weekly counts."""
    require_current(app.engine)
    settings = app.settings.themes
    with transaction(app.engine) as session:
        documents = on_topic_documents(session, limit=settings.max_items)
    fit = fit_themes(
        documents, count=settings.count, top_terms=settings.top_terms, seed=settings.seed
    )
    with transaction(app.engine) as session:
        stored = replace_themes(session, fit, now=datetime.now(UTC))
        for theme in stored:
            click.echo(f"[{theme.position:>2}] {theme.items:>6} items · {theme.label}")
    if not stored:
        click.echo(f"{len(documents)} on-topic items: too few to discover themes yet")
