"""The Alerts page and the Items page's "Download dataset" link."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from dashboards.app import create_app
from dashboards.filters import ViewFilter, export_link
from monitor.alerts.outbox import enqueue, insert_event, record_attempt
from monitor.alerts.render import Message
from monitor.store.models import AlertOutbox
from monitor.store.session import transaction
from monitor.web import build_server
from tests.conftest import make_settings, seed_dashboard

NOW = datetime(2022, 7, 1, 12, 0, tzinfo=UTC)
CHANNELS = [
    {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/hook", "timeout": 1.0},
]
RULES = [
    {"name": "neutrality-desk", "kind": "match", "topics": ["neutrality"], "channels": ["hook"]},
    {"name": "quiet-rule", "kind": "match", "query": "harvest", "channels": ["hook"]},
]


def _alerts_text(app):
    alerts = sys.modules["dashboards.pages.alerts"]
    with app.server.test_request_context("/alerts"):
        return str(alerts.layout())


def test_alerts_page_lists_rules_recent_alerts_and_failed_deliveries(sqlite_engine):
    settings = make_settings(str(sqlite_engine.url), alerts={"channels": CHANNELS, "rules": RULES})
    with transaction(sqlite_engine) as session:
        event_id = insert_event(
            session,
            rule="neutrality-desk",
            kind="match",
            dedupe_key="item:1",
            payload={"title": "Kremlin demands neutrality", "url": "https://example.org/n"},
            now=NOW,
            queued=True,
        )
        message = Message("Neutrality alert", "text", "<p>html</p>", {"text": "text"})
        assert enqueue(
            session,
            message_key="neutrality-desk:item:1:hook",
            rule="neutrality-desk",
            channel="hook",
            message=message,
            now=NOW,
            event_id=event_id,
        )
    with transaction(sqlite_engine) as session:
        outbox_id = session.scalars(select(AlertOutbox.id)).one()
        status = record_attempt(
            session,
            outbox_id,
            worker="w",
            now=NOW + timedelta(minutes=1),
            error="connection refused",
            duration_ms=3,
            retry_at=NOW + timedelta(minutes=5),
            max_attempts=1,
        )
    assert status == "failed"
    text = _alerts_text(create_app(settings, sqlite_engine))
    assert "neutrality-desk" in text and "quiet-rule" in text
    assert "failing" in text  # the rule whose only message gave up
    assert "Kremlin demands neutrality" in text and "https://example.org/n" in text
    assert "hook: failed" in text
    assert "connection refused" in text and "Neutrality alert" in text
    assert "2022-07-01 12:01 UTC" in text
    assert "No alerts yet" not in text


def test_alerts_page_says_where_rules_live_before_any_alert(sqlite_engine):
    text = _alerts_text(create_app(make_settings(str(sqlite_engine.url)), sqlite_engine))
    assert "No alerts yet; rules are configured in config.toml [[alerts.rules]]." in text
    assert "No alert rules" in text and "No failed deliveries." in text


def test_export_link_maps_page_filters_onto_the_api_parameter_names():
    view = ViewFilter(
        start=date(2022, 1, 3),
        end=date(2022, 3, 31),
        source_types=("government",),
        countries=("RU", "UA"),
        languages=("ru",),
        publishers=("Kremlin",),
    )
    link = export_link(
        view,
        file_format="jsonl",
        text="NATO",
        labels=("nato_membership", "sovereign_choice"),
        topics=("nato_membership", "neutrality"),
    )
    assert link.href == (
        "/api/v1/export?format=jsonl&since=2022-01-03&until=2022-03-31&publisher=Kremlin"
        "&source_type=government&country=RU&country=UA&language=ru&query=NATO"
        "&topic=nato_membership&frame=sovereign_choice"
    )
    assert link.dropped == ()


def test_export_link_leaves_out_what_the_api_cannot_express_and_says_so():
    link = export_link(
        ViewFilter(),
        file_format="nonsense",
        text="join NATO",
        labels=("nato_membership", "neutrality"),
        topics=("nato_membership", "neutrality"),
    )
    # a search of several words means the same on the page and in the API, so it goes along
    assert link.href == "/api/v1/export?format=csv&query=join+NATO"
    assert link.dropped == ("labels (the export matches any of several, not all)",)


def test_items_page_download_link_serves_the_filtered_csv(sqlite_engine):
    seed_dashboard(sqlite_engine)
    server = build_server(make_settings(str(sqlite_engine.url)), sqlite_engine)
    items = sys.modules["dashboards.pages.items"]
    with server.test_request_context("/items"):
        href, note = items.update_export(
            "csv", "neutrality", ["neutrality"], "2022-01-03", "2022-01-09",
            ["government"], [], [], ["Kremlin"],
        )  # fmt: skip
    assert "ignores" not in note
    response = server.test_client().get(href)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    # one neutrality item per publisher per week; the first week, Kremlin only
    assert len(rows) == 1
    assert "Kremlin on neutrality week 0" in rows[0].values()
