"""Outbox delivery against real loopback receivers: SMTP, webhooks, Apprise; retries, restarts,
digests, and two worker processes sharing one outbox on PostgreSQL."""

import multiprocessing
import ssl
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.alerts.channels import ChannelError, send_webhook
from monitor.alerts.cycle import fire, queue_due_digests
from monitor.alerts.outbox import claim_due_messages, recent_alerts, recent_failures
from monitor.alerts.render import Message
from monitor.alerts.sender import deliver_due
from monitor.config import AlertChannelSettings
from monitor.store.models import AlertAttempt, AlertEvent, AlertOutbox
from monitor.store.session import make_engine, transaction
from tests.alertservers import MailBox, WebhookReceiver, channels
from tests.conftest import make_settings

pytestmark = pytest.mark.usefixtures("webhook_secret")

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def settings_for(url, mailbox, hooks, rules=None, **alerts):
    rule = {"name": "desk", "kind": "match", "query": "neutrality", "channels": ["mail", "hook"]}
    values = {
        "channels": channels(mailbox, hooks),
        "rules": rules or [rule],
        "backoff_seconds": 60.0,
        **alerts,
    }
    return make_settings(url, alerts=values)


def payload(
    n=1, topic=("neutrality", "Neutrality"), frame=("sovereign_choice", "Sovereign choice")
):
    return {
        "type": "item",
        "item_id": n,
        "title": f"Austria debates neutrality, part {n}",
        "publisher": "Der Standard",
        "source_type": "media",
        "country": "AT",
        "language": "en",
        "published_at": "2026-11-26T09:30:00+00:00",
        "url": f"https://example.org/story/{n}",
        "labels": [
            {
                "kind": "topic",
                "id": topic[0],
                "name": topic[1],
                "score": 0.91,
                "snippet": "…Vienna weighs its permanent neutrality…",
            },
            {"kind": "frame", "id": frame[0], "name": frame[1], "score": 0.66, "snippet": ""},
        ],
    }


def fire_items(engine, settings, count, rule_index=0, start=1):
    rule = settings.alerts.rules[rule_index]
    with transaction(engine) as session:
        for n in range(start, start + count):
            fire(session, rule, kind="match", dedupe_key=f"item:{n}", payload=payload(n), now=NOW)


def outbox_statuses(engine):
    with transaction(engine) as session:
        rows = session.execute(
            select(AlertOutbox.status, func.count()).group_by(AlertOutbox.status)
        ).all()
        return {status: count for status, count in rows}


def test_email_has_plain_and_html_parts_and_webhook_is_signed(sqlite_engine, mailbox, hooks):
    settings = settings_for(str(sqlite_engine.url), mailbox, hooks)
    fire_items(sqlite_engine, settings, 1)

    report = deliver_due(settings, sqlite_engine, worker="w", now=NOW)

    assert (report.sent, report.retrying) == (2, 0)
    (mail,) = mailbox.wait_for(1)
    assert mail["Subject"] == "[desk] Austria debates neutrality, part 1 — Der Standard"
    assert mail["To"] == "desk@example.org"
    plain = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    for text in (plain, html):
        assert "Der Standard, 2026-11-26" in text
        assert "https://example.org/story/1" in text
        assert "Neutrality" in text and "Sovereign choice" in text
        assert "Vienna weighs its permanent neutrality" in text
    assert '<a href="https://example.org/story/1">Austria debates neutrality, part 1</a>' in html
    (hook,) = hooks.received
    assert hook.signature_ok()
    assert not hook.signature_ok("another secret")
    assert hook.data["rule"] == "desk" and hook.data["events"][0]["item_id"] == 1
    assert "<https://example.org/story/1|Austria debates neutrality, part 1>" in hook.data["text"]


def test_same_item_alerts_once_per_rule_and_once_for_each_rule(sqlite_engine, mailbox, hooks):
    rules = [
        {"name": "desk", "kind": "match", "query": "neutrality", "channels": ["mail"]},
        {"name": "chat", "kind": "match", "query": "neutrality", "channels": ["hook"]},
    ]
    settings = settings_for(str(sqlite_engine.url), mailbox, hooks, rules=rules)
    for _ in range(2):  # a restart re-evaluating the same items
        fire_items(sqlite_engine, settings, 1, rule_index=0)
        fire_items(sqlite_engine, settings, 1, rule_index=1)
    deliver_due(settings, sqlite_engine, worker="w", now=NOW)
    assert len(mailbox.wait_for(1)) == 1 and len(hooks.received) == 1


def _self_signed(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_logs_in_with_credentials_from_the_environment(
    sqlite_engine, hooks, tmp_path, monkeypatch, security
):
    cert, context = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
    monkeypatch.setenv("TEST_SMTP_USER", "editor")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "hunter2")
    box = MailBox(
        credentials=("editor", "hunter2"), tls_context=context, implicit_tls=security == "ssl"
    )
    with box:
        settings = settings_for(str(sqlite_engine.url), box, hooks)
        mail_channel = {
            **channels(box, hooks)[0],
            "security": security,
            "username_env": "TEST_SMTP_USER",
            "password_env": "TEST_SMTP_PASSWORD",
        }
        settings = make_settings(
            str(sqlite_engine.url),
            alerts={
                "channels": [mail_channel],
                "rules": [{"name": "desk", "kind": "match", "query": "x", "channels": ["mail"]}],
            },
        )
        fire_items(sqlite_engine, settings, 1)
        report = deliver_due(settings, sqlite_engine, worker="w", now=NOW)
        assert report.sent == 1, report.errors
        assert len(box.wait_for(1)) == 1

    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    with MailBox(
        credentials=("editor", "hunter2"), tls_context=context, implicit_tls=security == "ssl"
    ):
        fire_items(sqlite_engine, settings, 1, start=2)
    report = deliver_due(settings, sqlite_engine, worker="w", now=NOW)
    assert report.retrying == 1 and "SMTP" in report.errors[0]


def test_apprise_urls_deliver_through_apprise(sqlite_engine, mailbox, hooks, monkeypatch):
    monkeypatch.setenv("TEST_APPRISE_URL", f"json://127.0.0.1:{hooks.port}/apprise")
    settings = make_settings(
        str(sqlite_engine.url),
        alerts={
            "channels": [
                {"name": "chat", "type": "apprise", "apprise_urls": ["env:TEST_APPRISE_URL"]}
            ],
            "rules": [{"name": "desk", "kind": "match", "query": "x", "channels": ["chat"]}],
        },
    )
    fire_items(sqlite_engine, settings, 1)
    report = deliver_due(settings, sqlite_engine, worker="w", now=NOW)
    assert report.sent == 1, report.errors
    (hook,) = hooks.received
    assert hook.data["title"] == "[desk] Austria debates neutrality, part 1 — Der Standard"
    assert "https://example.org/story/1" in hook.data["message"]


def test_channel_down_then_up_delivers_everything_exactly_once(engine, mailbox, hooks):
    settings = settings_for(str(engine.url), mailbox, hooks)
    fire_items(engine, settings, 3)
    hooks.down = True

    first = deliver_due(settings, engine, worker="w", now=NOW)
    assert (first.sent, first.retrying) == (3, 3)  # mail went out, the webhook refused
    # still down at the first retry (backoff 60 s), and nothing is due before it
    assert deliver_due(settings, engine, worker="w", now=NOW + timedelta(seconds=59)).sent == 0
    second = deliver_due(settings, engine, worker="w", now=NOW + timedelta(seconds=61))
    assert second.retrying == 3
    with transaction(engine) as session:
        due = session.scalars(
            select(AlertOutbox.next_attempt_at).where(AlertOutbox.status == "pending")
        ).all()
    assert set(due) == {NOW + timedelta(seconds=61 + 120)}  # the pause doubled

    hooks.down = False
    third = deliver_due(settings, engine, worker="w", now=NOW + timedelta(seconds=200))
    assert third.sent == 3
    assert deliver_due(settings, engine, worker="w", now=NOW + timedelta(days=1)).sent == 0
    assert len(mailbox.wait_for(3)) == 3
    assert sorted(h.data["events"][0]["item_id"] for h in hooks.received) == [1, 2, 3]
    assert hooks.refused == 6
    assert outbox_statuses(engine) == {"sent": 6}
    with transaction(engine) as session:
        attempts = session.scalar(select(func.count()).select_from(AlertAttempt))
        failures = recent_failures(session)
        alerts = recent_alerts(session)
    assert attempts == 3 + 3 * 3  # every attempt is logged
    assert len(failures) == 6 and failures[0].error == "channel hook: HTTP 503"
    assert {a.deliveries["hook"] for a in alerts} == {"sent"}


def test_message_is_marked_failed_after_max_attempts(sqlite_engine, mailbox, hooks):
    settings = settings_for(str(sqlite_engine.url), mailbox, hooks, max_attempts=2)
    fire_items(sqlite_engine, settings, 1)
    hooks.down = True
    deliver_due(settings, sqlite_engine, worker="w", now=NOW)
    report = deliver_due(settings, sqlite_engine, worker="w", now=NOW + timedelta(hours=1))
    assert report.failed == 1
    assert outbox_statuses(sqlite_engine) == {"sent": 1, "failed": 1}


def test_restart_between_evaluation_and_delivery_loses_and_doubles_nothing(engine, mailbox, hooks):
    settings = settings_for(str(engine.url), mailbox, hooks)
    fire_items(engine, settings, 2)
    # a worker leases the messages, then dies before sending any
    with transaction(engine) as session:
        leased = claim_due_messages(session, worker="dead", now=NOW, limit=10, lease_seconds=300)
    assert len(leased) == 4
    engine.dispose()

    restarted = make_engine(str(engine.url))
    try:
        fire_items(restarted, settings, 2)  # the restarted worker re-evaluates the same items
        during_lease = deliver_due(
            settings, restarted, worker="new", now=NOW + timedelta(seconds=10)
        )
        assert during_lease.sent == 0
        after_lease = deliver_due(
            settings, restarted, worker="new", now=NOW + timedelta(seconds=301)
        )
        assert after_lease.sent == 4
        assert deliver_due(settings, restarted, worker="new", now=NOW + timedelta(days=1)).sent == 0
    finally:
        restarted.dispose()
    assert len(mailbox.wait_for(2)) == 2 and len(hooks.received) == 2
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(AlertEvent)) == 2


def test_digest_groups_by_topic_and_frame_and_holds_everything_since_the_last(
    engine, mailbox, hooks
):
    rules = [
        {
            "name": "morning",
            "kind": "match",
            "query": "neutrality",
            "channels": ["mail", "hook"],
            "delivery": "daily",
            "digest_time": "08:00",
            "time_zone": "Europe/Kyiv",
        },
    ]
    settings = settings_for(str(engine.url), mailbox, hooks, rules=rules)
    rule = settings.alerts.rules[0]
    start = datetime(
        2026, 11, 26, 7, 0, tzinfo=UTC
    )  # 09:00 in Kyiv: next digest tomorrow 06:00 UTC
    assert queue_due_digests(settings, engine, now=start) == 0
    with transaction(engine) as session:
        fire(session, rule, kind="match", dedupe_key="item:1", payload=payload(1), now=start)
        fire(
            session,
            rule,
            kind="match",
            dedupe_key="item:2",
            payload=payload(2, frame=("neutrality_as_settlement", "Neutrality as settlement")),
            now=start,
        )
        fire(
            session,
            rule,
            kind="match",
            dedupe_key="item:3",
            payload=payload(3, topic=("nato_membership", "NATO membership")),
            now=start,
        )
    # nothing goes out before the digest time
    assert queue_due_digests(settings, engine, now=start + timedelta(hours=22)) == 0
    assert deliver_due(settings, engine, worker="w", now=start + timedelta(hours=22)).sent == 0

    due = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert queue_due_digests(settings, engine, now=due) == 1
    assert queue_due_digests(settings, engine, now=due) == 0  # the cursor moved on
    assert deliver_due(settings, engine, worker="w", now=due).sent == 2
    (mail,) = mailbox.wait_for(1)
    plain = mail.get_body(preferencelist=("plain",)).get_content()
    assert "3 alerts" in mail["Subject"]
    headings = [line for line in plain.splitlines() if line.startswith("== ")]
    assert headings == [
        "== NATO membership · Sovereign choice (1) ==",
        "== Neutrality · Neutrality as settlement (1) ==",
        "== Neutrality · Sovereign choice (1) ==",
    ]
    assert (
        "<h2>Neutrality · Sovereign choice (1)</h2>"
        in mail.get_body(preferencelist=("html",)).get_content()
    )
    assert [e["item_id"] for e in hooks.received[0].data["events"]] == [1, 2, 3]

    # the next digest holds only what came after the first
    with transaction(engine) as session:
        fire(session, rule, kind="match", dedupe_key="item:4", payload=payload(4), now=due)
    with transaction(engine) as session:  # the Alerts page: sent in the digest, or waiting
        assert [a.deliveries for a in recent_alerts(session)] == [{"*": "digest"}] + [
            {"mail": "sent", "hook": "sent"}
        ] * 3
    next_due = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert queue_due_digests(settings, engine, now=next_due) == 1
    deliver_due(settings, engine, worker="w", now=next_due)
    assert [e["item_id"] for e in hooks.received[1].data["events"]] == [4]
    assert "1 alert" in mailbox.wait_for(2)[1]["Subject"]


def _worker_process(url, settings_raw, worker, result_queue):
    from monitor.alerts.cycle import run_alerts
    from monitor.config import settings_from_dict

    settings = settings_from_dict(settings_raw)
    engine = make_engine(url)
    try:
        report = run_alerts(settings, engine, worker=worker, now=NOW)
        result_queue.put((worker, report.delivery.sent, report.delivery.errors))
    finally:
        engine.dispose()


def test_two_worker_processes_share_the_outbox_without_duplicates(postgres_url, mailbox, hooks):
    engine = make_engine(postgres_url)
    from monitor.store.session import upgrade

    upgrade(engine)
    hooks.delay = 0.01  # let the workers overlap
    raw_alerts = {
        "channels": channels(mailbox, hooks),
        "rules": [{"name": "desk", "kind": "match", "query": "x", "channels": ["mail", "hook"]}],
        "batch_size": 3,
    }
    settings = make_settings(postgres_url, alerts=raw_alerts)
    fire_items(engine, settings, 20)
    raw = {"database": {"url": postgres_url}, "alerts": raw_alerts}

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_worker_process, args=(postgres_url, raw, f"w{i}", results))
        for i in range(2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
    reports = [results.get(timeout=5) for _ in workers]

    assert sum(sent for _, sent, _ in reports) == 40
    assert all(not errors for _, _, errors in reports)
    ids = sorted(h.data["events"][0]["item_id"] for h in hooks.received)
    assert ids == list(range(1, 21))  # every webhook exactly once
    subjects = sorted(m["Subject"] for m in mailbox.wait_for(20))
    assert len(subjects) == 20 and len(set(subjects)) == 20
    assert outbox_statuses(engine) == {"sent": 40}
    engine.dispose()


def test_a_webhook_that_redirects_is_a_failure_and_nothing_is_posted_again():
    with WebhookReceiver() as target, WebhookReceiver(redirect_to=target.url()) as moved:
        channel = AlertChannelSettings(name="hook", type="webhook", url=moved.url(), timeout=3.0)
        message = Message(subject="s", text="t", html="<p>t</p>", data={"text": "t"})
        with pytest.raises(ChannelError, match="channel hook: HTTP 302"):
            send_webhook(channel, message, {})
    assert target.received == []
