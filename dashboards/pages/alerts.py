"""Alerts: each configured rule and how it fares, the latest alerts, and failed deliveries."""

from __future__ import annotations

from typing import Any

import dash
from dash import html
from sqlalchemy.orm import Session

from dashboards import components as ui
from dashboards import ids
from dashboards.context import current
from monitor.alerts.outbox import (
    FailedAttempt,
    RecentAlert,
    RuleStatus,
    recent_alerts,
    recent_failures,
    rule_statuses,
)

dash.register_page(
    __name__, path="/alerts", name="Alerts", order=7, title="Alerts · Discourse Monitor"
)

#: rows shown in each of the two lists
RECENT = 50
NO_RULES = "No alert rules: rules are configured in config.toml [[alerts.rules]]."
NO_ALERTS = "No alerts yet; rules are configured in config.toml [[alerts.rules]]."
NO_FAILURES = "No failed deliveries."


def layout(**_query: Any) -> html.Div:
    """Read once per page load: alerts change at the pace of fetch cycles, not of clicks."""
    c = current()
    with Session(c.reader) as session:
        rules = rule_statuses(session, c.settings.alerts.rules)
        alerts = recent_alerts(session, limit=RECENT)
        failures = recent_failures(session, limit=RECENT)
    return html.Div(
        [
            ui.header(
                "Alerts",
                "The alert rules from config.toml with how many alerts each raised, "
                "its outbox backlog and next digest; the latest alerts with how each "
                "channel fared; and the delivery attempts that failed.",
            ),
            _card(
                "Rules", rules_table(rules) if rules else ui.empty_state(NO_RULES), ids.ALERTS_RULES
            ),
            _card(
                "Recent alerts",
                alerts_table(alerts) if alerts else ui.empty_state(NO_ALERTS),
                ids.ALERTS_RECENT,
            ),
            _card(
                "Failed deliveries",
                failures_table(failures) if failures else ui.empty_state(NO_FAILURES),
                ids.ALERTS_FAILURES,
            ),
        ]
    )


def _card(title: str, body: Any, id_: str) -> html.Div:
    return html.Div([html.H2(title), html.Div(body, id=id_)], className="card")


def _table(head: tuple[str, ...], rows: list[list[Any]]) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
        ],
        className="table",
    )


def rule_state(rule: RuleStatus) -> str:
    """One word for the rule: off, failing (messages gave up), backlog, or ok."""
    if not rule.enabled:
        return "off"
    if rule.failed:
        return "failing"
    if rule.pending:
        return "backlog"
    return "ok"


def rules_table(rules: list[RuleStatus]) -> html.Table:
    head = ("rule", "kind", "delivery", "channels", "status", "alerts", "last alert (UTC)",
            "pending", "failed", "next digest (UTC)")  # fmt: skip
    return _table(
        head,
        [
            [
                r.name,
                r.kind,
                r.delivery,
                ", ".join(r.channels),
                rule_state(r),
                r.events,
                ui.iso_minute(r.last_event_at),
                r.pending,
                r.failed,
                ui.iso_minute(r.next_digest_at) if r.delivery != "immediate" else "—",
            ]
            for r in rules
        ],
    )


def alerts_table(alerts: list[RecentAlert]) -> html.Table:
    return _table(
        ("raised (UTC)", "rule", "kind", "alert", "deliveries"),
        [
            [
                ui.iso_minute(a.created_at),
                a.rule,
                a.kind,
                html.A(a.headline or a.url, href=a.url, target="_blank", rel="noopener")
                if a.url
                else a.headline or "—",
                _deliveries(a.deliveries),
            ]
            for a in alerts
        ],
    )


def _deliveries(deliveries: dict[str, str]) -> str:
    if not deliveries:
        return "none"
    if set(deliveries) == {"*"}:
        return f"waiting for the {deliveries['*']}"
    return ", ".join(f"{channel}: {status}" for channel, status in sorted(deliveries.items()))


def failures_table(failures: list[FailedAttempt]) -> html.Table:
    return _table(
        ("attempted (UTC)", "rule", "channel", "message", "error", "attempts", "now"),
        [
            [
                ui.iso_minute(f.attempted_at),
                f.rule,
                f.channel,
                f.subject,
                f.error,
                f.attempts,
                f.status,
            ]
            for f in failures
        ],
    )
