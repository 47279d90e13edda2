"""alerts list, alerts test, alerts run."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click

from monitor.alerts.channels import ChannelError, send
from monitor.alerts.cycle import run_alerts
from monitor.alerts.outbox import requeue_failed, rule_statuses
from monitor.alerts.render import render_event
from monitor.cli.base import AppContext, cli, pass_app
from monitor.config import AlertRuleSettings
from monitor.errors import InputError, MonitorError
from monitor.pipeline import worker_name
from monitor.store.session import require_current, transaction


@cli.group()
def alerts() -> None:
    """Alert rules: list them, send a sample, run one evaluate-and-send cycle."""


def _filter_summary(rule: AlertRuleSettings) -> str:
    parts = []
    for name in ("topics", "frames", "publishers", "source_types", "countries", "languages"):
        values = getattr(rule, name)
        if values:
            parts.append(f"{name}={','.join(values)}")
    if rule.query:
        parts.append(f"query={rule.query!r}")
    if rule.min_score:
        parts.append(f"min_score={rule.min_score:g}")
    if rule.kind != "match":
        parts.insert(0, f"label={rule.label} window={rule.window_hours:g}h")
    return " ".join(parts) or "-"


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
@pass_app
def list_rules(app: AppContext, as_json: bool) -> None:
    """The configured rules with their alerts so far and the outbox backlog."""
    require_current(app.engine)
    rules = app.settings.alerts.rules
    with transaction(app.engine) as session:
        statuses = rule_statuses(session, rules)
    if as_json:
        for status in statuses:
            row: dict[str, Any] = asdict(status)
            for key in ("last_event_at", "next_digest_at"):
                row[key] = row[key].isoformat() if row[key] else None
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not statuses:
        click.echo("no alert rules configured (see [alerts] in docs/configuration.md)")
    for rule, status in zip(rules, statuses, strict=True):
        last = f"{status.last_event_at:%Y-%m-%d %H:%M}" if status.last_event_at else "never"
        click.echo(
            f"{rule.name}: {rule.kind}, {rule.delivery}"
            f"{'' if rule.enabled else ' (disabled)'} → {', '.join(rule.channels)}; "
            f"{status.events} alerts, last {last}; "
            f"{status.pending} pending, {status.failed} failed"
        )
        click.echo(f"  filter: {_filter_summary(rule)}")


def sample_payload(rule: AlertRuleSettings) -> dict[str, Any]:
    """A made-up item that shows how the rule's messages look."""
    return {
        "type": "item",
        "item_id": 0,
        "title": f"Sample alert for rule {rule.name}",
        "publisher": "Discourse Monitor",
        "source_type": "media",
        "country": "INT",
        "language": "en",
        "published_at": datetime.now(UTC).isoformat(),
        "url": "https://example.org/discourse-monitor/sample",
        "labels": [
            {
                "kind": "topic" if label in rule.topics else "frame",
                "id": label,
                "name": label,
                "score": 1.0,
                "snippet": "a sample of the words that matched",
            }
            for label in (*rule.topics, *rule.frames)
        ],
    }


@alerts.command("test")
@click.argument("rule_name", metavar="RULE")
@pass_app
def test_rule(app: AppContext, rule_name: str) -> None:
    """Send a sample message through the rule's channels now (not through the outbox)."""
    rules = {r.name: r for r in app.settings.alerts.rules}
    if rule_name not in rules:
        known = ", ".join(rules) or "none configured"
        raise InputError(f"no alert rule named {rule_name!r} (rules: {known})")
    rule = rules[rule_name]
    channels = {c.name: c for c in app.settings.alerts.channels}
    message = render_event(rule.name, sample_payload(rule))
    failed = 0
    for name in rule.channels:
        try:
            send(channels[name], message)
            click.echo(f"{name}: sent")
        except ChannelError as exc:
            failed += 1
            click.echo(f"{name}: failed: {exc}")
    if failed:
        raise MonitorError(f"{failed} of {len(rule.channels)} channels failed")


@alerts.command("run")
@click.option("--retry-failed", is_flag=True, help="First give failed messages new attempts.")
@pass_app
def run_once(app: AppContext, retry_failed: bool) -> None:
    """One evaluate-and-send cycle: spikes and shifts, due digests, then delivery."""
    require_current(app.engine)
    if retry_failed:
        with transaction(app.engine) as session:
            requeued = requeue_failed(session, now=datetime.now(UTC))
        click.echo(f"{requeued} failed messages queued again")
    report = run_alerts(app.settings, app.engine, worker=worker_name())
    click.echo(report.summary())
    for error in report.delivery.errors[:20]:
        click.echo(f"  not delivered: {error}")
