"""Alerts wired to the store: fetch cycles fire match rules, the tick fires spikes and shifts,
and the `monitor alerts` commands."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.alerts.cycle import run_alerts
from monitor.cli import cli
from monitor.config import FeedSettings
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed, get_or_create_source
from monitor.store.models import AlertEvent, AlertOutbox, Item, Tag
from monitor.store.session import transaction
from monitor.tagging.train import load_tagger
from tests.alertservers import channels
from tests.conftest import make_settings
from tests.test_pipeline import rss

pytestmark = pytest.mark.usefixtures("webhook_secret")

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tagger():
    return load_tagger(make_settings().tagging)


NEUTRAL = (
    "n1",
    "Kremlin demands Ukrainian neutrality in exchange for a ceasefire",
    "https://example.org/neutrality?utm_source=rss",
)
OTHER = ("o1", "Harvest festival opens in Lviv", "https://example.org/harvest")


def test_publishing_a_matching_item_sends_one_email_and_one_webhook(
    engine, feed_server, mailbox, hooks, tagger
):
    rule = {
        "name": "neutrality-desk",
        "kind": "match",
        "topics": ["neutrality"],
        "query": "neutral*",
        "channels": ["mail", "hook"],
    }
    settings = make_settings(
        str(engine.url), alerts={"channels": channels(mailbox, hooks), "rules": [rule]}
    )
    one = feed_server.add("/one.xml", rss(OTHER))
    with transaction(engine) as session:
        for url, publisher in ((one, "Wire One"), (feed_server.url("/two.xml"), "Wire Two")):
            spec = FeedSettings(
                url=url, publisher=publisher, source_type="media", country="UA", language="en"
            )
            add_feed(session, spec, interval_seconds=3600)
    feed_server.add("/two.xml", rss(OTHER))
    run_cycle(settings, engine, now=NOW, include_not_due=True, tagger=tagger)
    assert run_alerts(settings, engine, worker="w", now=NOW).delivery.sent == 0

    # the story is published, in both feeds (a syndicated copy)
    later = NOW + timedelta(hours=1)
    feed_server.add("/one.xml", rss(NEUTRAL, OTHER))
    feed_server.add("/two.xml", rss(NEUTRAL, OTHER))
    run_cycle(settings, engine, now=later, include_not_due=True, tagger=tagger)
    assert run_alerts(settings, engine, worker="w", now=later).delivery.sent == 2

    (mail,) = mailbox.wait_for(1)
    assert "Kremlin demands Ukrainian neutrality" in mail["Subject"]
    assert "https://example.org/neutrality" in mail.get_body(("plain",)).get_content()
    (hook,) = hooks.received
    assert hook.signature_ok()
    assert hook.data["events"][0]["labels"][0]["id"] == "neutrality"

    # a further cycle, with the story seen again and edited, sends nothing new
    feed_server.add("/one.xml", rss(NEUTRAL, OTHER, extra="<description>edited</description>"))
    even_later = later + timedelta(hours=1)
    run_cycle(settings, engine, now=even_later, include_not_due=True, tagger=tagger)
    assert run_alerts(settings, engine, worker="w", now=even_later).delivery.sent == 0
    assert len(mailbox.wait_for(1, timeout=0.3)) == 1 and len(hooks.received) == 1
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(AlertEvent)) == 1


def add_items(session, count, *, at, label, positive, on_topic=True, title="Coverage"):
    source = get_or_create_source(session, "Wire", "media", "UA")
    for n in range(count):
        item = Item(
            source_id=source.id,
            title=f"{title} {n}",
            published_at=at,
            fetched_at=at,
            content_hash=f"{at.isoformat()}-{label}-{title}-{n}",
        )
        session.add(item)
        session.flush()
        tags = [("topic", "neutrality", on_topic), ("frame", label, positive)]
        for kind, tag_label, is_positive in tags:
            session.add(
                Tag(
                    item_id=item.id,
                    kind=kind,
                    label=tag_label,
                    score=0.9 if is_positive else 0.1,
                    is_positive=is_positive,
                    tagger_version="t",
                )
            )


def test_spike_rule_fires_once_for_its_window(engine, mailbox, hooks):
    rule = {
        "name": "spike",
        "kind": "spike",
        "label": "neutrality_as_settlement",
        "window_hours": 24.0,
        "baseline_windows": 4,
        "publishers": ["WIRE"],  # stored as Wire: names match ignoring case, as in match rules
        "channels": ["hook"],
    }
    settings = make_settings(
        str(engine.url), alerts={"channels": channels(mailbox, hooks), "rules": [rule]}
    )
    with transaction(engine) as session:
        for day, count in ((4, 3), (3, 4), (2, 2), (1, 3)):
            add_items(
                session,
                count,
                at=NOW - timedelta(days=day),
                label="neutrality_as_settlement",
                positive=True,
            )
        add_items(
            session, 4, at=NOW - timedelta(hours=2), label="neutrality_as_settlement", positive=True
        )
    assert run_alerts(settings, engine, worker="w", now=NOW).events == 0
    with transaction(engine) as session:
        add_items(
            session,
            12,
            at=NOW - timedelta(hours=1),
            label="neutrality_as_settlement",
            positive=True,
            title="Late",
        )
    report = run_alerts(settings, engine, worker="w", now=NOW)
    assert (report.events, report.delivery.sent) == (1, 1)
    assert run_alerts(settings, engine, worker="w", now=NOW + timedelta(hours=1)).events == 0
    data = hooks.received[0].data
    assert data["kind"] == "spike" and data["events"][0]["latest"] == 16
    assert "Spike: Neutrality as settlement, 16 items" in data["text"]


def test_shift_rule_names_distinctive_terms_and_examples(sqlite_engine, mailbox, hooks):
    rule = {
        "name": "shift",
        "kind": "shift",
        "label": "neutrality_as_capitulation",
        "window_hours": 24.0,
        "baseline_windows": 4,
        "channels": ["mail"],
    }
    settings = make_settings(
        str(sqlite_engine.url), alerts={"channels": channels(mailbox, hooks), "rules": [rule]}
    )
    label = "neutrality_as_capitulation"
    with transaction(sqlite_engine) as session:
        for day in range(1, 5):
            at = NOW - timedelta(days=day)
            add_items(session, 3, at=at, label=label, positive=True, title="Neutrality debate")
            add_items(session, 27, at=at, label=label, positive=False, title="Neutrality debate")
            add_items(session, 5, at=at, label=label, positive=True, on_topic=False)
        at = NOW - timedelta(hours=3)
        add_items(session, 15, at=at, label=label, positive=True, title="Surrender ultimatum")
        add_items(session, 15, at=at, label=label, positive=False, title="Neutrality debate")
    report = run_alerts(settings, sqlite_engine, worker="w", now=NOW)
    assert report.events == 1, report
    (mail,) = mailbox.wait_for(1)
    plain = mail.get_body(("plain",)).get_content()
    assert "rose to 50% from 10%" in mail["Subject"]
    assert "15 of 30 on-topic items" in plain
    assert "Distinctive terms: surrender, ultimatum" in plain
    assert plain.count("Surrender ultimatum") == 3  # three examples


def test_shift_in_a_filling_window_waits_for_the_final_look(engine, mailbox, hooks):
    # 20% of on-topic items carry the frame for four days, then 13 of 30 (43%): p ≈ 0.008
    rule = {
        "name": "shift",
        "kind": "shift",
        "label": "neutrality_as_capitulation",
        "window_hours": 24.0,
        "baseline_windows": 4,
        "p_value": 0.01,
        "countries": ["ua"],  # stored as UA
        "channels": ["hook"],
    }
    settings = make_settings(
        str(engine.url), alerts={"channels": channels(mailbox, hooks), "rules": [rule]}
    )
    label = "neutrality_as_capitulation"
    with transaction(engine) as session:
        for day in range(1, 5):
            add_items(session, 6, at=NOW - timedelta(days=day), label=label, positive=True)
            add_items(session, 24, at=NOW - timedelta(days=day), label=label, positive=False)
        add_items(session, 13, at=NOW - timedelta(hours=2), label=label, positive=True)
        add_items(session, 17, at=NOW - timedelta(hours=2), label=label, positive=False)
    # while the window fills, each tick is one more look: only p < 0.001 fires
    assert run_alerts(settings, engine, worker="w", now=NOW).events == 0
    tomorrow = NOW + timedelta(days=1)
    report = run_alerts(settings, engine, worker="w", now=tomorrow)
    assert (report.events, report.delivery.sent) == (1, 1)
    assert run_alerts(settings, engine, worker="w", now=tomorrow + timedelta(hours=1)).events == 0
    (event,) = hooks.received[0].data["events"]
    assert event["window_start"] == "2026-11-26T00:00:00+00:00"
    assert event["headline"] == (
        "Shift: the share of Neutrality as capitulation rose to 43% from 20%"
    )


def test_cli_lists_rules_sends_a_test_and_runs_a_cycle(tmp_path, mailbox, hooks):
    db = tmp_path / "m.db"
    mail, hook = channels(mailbox, hooks)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n[alerts]\n'
        f"[[alerts.channels]]\n{_toml(mail)}\n[[alerts.channels]]\n{_toml(hook)}\n"
        '[[alerts.rules]]\nname = "desk"\nkind = "match"\nquery = "neutral*"\n'
        'channels = ["mail", "hook"]\n'
    )
    runner = CliRunner()
    base = ["--config", str(config)]
    assert runner.invoke(cli, [*base, "init"]).exit_code == 0

    listed = runner.invoke(cli, [*base, "alerts", "list"])
    assert listed.exit_code == 0
    assert "desk: match, immediate → mail, hook; 0 alerts, last never" in listed.output
    as_json = runner.invoke(cli, [*base, "alerts", "list", "--json"])
    assert json.loads(as_json.output.splitlines()[0])["name"] == "desk"

    tested = runner.invoke(cli, [*base, "alerts", "test", "desk"])
    assert tested.exit_code == 0, tested.output
    assert "mail: sent" in tested.output and "hook: sent" in tested.output
    assert len(mailbox.wait_for(1)) == 1 and hooks.received[0].signature_ok()

    unknown = runner.invoke(cli, [*base, "alerts", "test", "nope"])
    assert unknown.exit_code == 2 and "no alert rule named 'nope'" in unknown.output

    ran = runner.invoke(cli, [*base, "alerts", "run"])
    assert ran.exit_code == 0 and "0 messages sent" in ran.output
    with transaction_for(db) as session:
        assert session.scalar(select(func.count()).select_from(AlertOutbox)) == 0

    hooks.down = True
    failing = runner.invoke(cli, [*base, "alerts", "test", "desk"])
    assert failing.exit_code == 1 and "hook: failed: channel hook: HTTP 503" in failing.output


def _toml(table):
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())


def transaction_for(db):
    from monitor.store.session import make_engine

    return transaction(make_engine(f"sqlite:///{db}"))
