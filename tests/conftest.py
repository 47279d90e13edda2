"""Shared fixtures: real databases (SQLite, PostgreSQL), a real loopback feed server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from monitor.config import Settings, settings_from_dict
from monitor.store.session import make_engine, upgrade
from tests.alertservers import WEBHOOK_SECRET, MailBox, WebhookReceiver
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MONITOR_SHARED_DIR", REPO.parent / "shared"))
REALFEEDS = SHARED / "realfeeds"
POSTGRES_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no usable server
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {str(exc).splitlines()[0]}"


_PG_REASON = _postgres_reason()


def require_postgres() -> None:
    if _PG_REASON is None:
        return
    if os.environ.get("MONITOR_REQUIRE_POSTGRES"):
        pytest.fail(f"MONITOR_REQUIRE_POSTGRES is set but {_PG_REASON}")
    pytest.skip(_PG_REASON)


def require_corpus() -> Path:
    if REALFEEDS.is_dir():
        return REALFEEDS
    reason = f"shared corpus not found at {REALFEEDS}"
    if os.environ.get("MONITOR_REQUIRE_CORPUS"):
        pytest.fail(f"MONITOR_REQUIRE_CORPUS is set but {reason}")
    pytest.skip(reason)


@pytest.fixture
def corpus() -> Path:
    return require_corpus()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    require_postgres()
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret the webhook channel of `alertservers.channels` signs with."""
    monkeypatch.setenv("MONITOR_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)


@pytest.fixture
def mailbox() -> Iterator[MailBox]:
    """A real SMTP server (aiosmtpd) on loopback."""
    with MailBox() as box:
        yield box


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    """A real HTTP server on loopback that records webhook calls."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def make_settings(database_url: str = "sqlite://", **sections: dict[str, object]) -> Settings:
    """Settings for tests: short timeouts, no configured feeds unless given."""
    raw: dict[str, object] = {
        "database": {"url": database_url},
        "fetch": {
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "total_timeout": 5.0,
            "concurrency": 8,
        },
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}  # type: ignore[dict-item]
    return settings_from_dict(raw)


# --- dashboard fixtures (dashboards/, tests/test_dashboard_*.py) -----------------------

#: the seeded dashboard data: 24 weeks from this Monday, 3 publishers, 5 items each per week
DASHBOARD_FIRST_MONDAY = "2022-01-03"
DASHBOARD_WEEKS = 24
#: from this week on, half the NATO-membership items frame enlargement as provocation
DASHBOARD_SHIFT_WEEK = 12


def seed_dashboard(engine: Engine) -> None:
    """Items with full tag rows and known answers (see the constants above).

    Each week each publisher has 2 NATO-membership items (both `sovereign_choice`
    before the shift week; one `sovereign_choice`, one `enlargement_provocation`
    after), 1 neutrality item (`neutrality_as_settlement`) and 2 off-topic items.
    Titles before the shift speak of "accession", after it of "escalation".
    """
    from datetime import UTC, date, datetime, timedelta

    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from monitor.store.models import Feed, Item, Source
    from monitor.store.tags import replace_tags
    from monitor.tagging.tagger import TagResult

    settings = make_settings()
    topics = [t.id for t in settings.tagging.topics]
    frames = [f.id for f in settings.tagging.frames]
    publishers = [
        ("Kremlin", "government", "RU", "ru", "ok", "fetched 12 new items"),
        ("President of Ukraine", "government", "UA", "uk", "ok", "fetched 3 new items"),
        ("Example Institute", "think_tank", "DE", "en", "error", "HTTP 503; retry in 30 min"),
    ]
    now = datetime(2022, 7, 1, tzinfo=UTC)
    first = date.fromisoformat(DASHBOARD_FIRST_MONDAY)
    items: list[dict[str, object]] = []
    tagged: list[tuple[int, TagResult]] = []
    with engine.begin() as conn:
        for sid, (name, kind, country, language, status, line) in enumerate(publishers, 1):
            conn.execute(
                insert(Source).values(id=sid, name=name, source_type=kind, country=country)
            )
            conn.execute(
                insert(Feed).values(
                    id=sid,
                    url=f"https://feeds.example.org/{sid}.xml",
                    original_url=f"https://feeds.example.org/{sid}.xml",
                    source_id=sid,
                    language=language,
                    status=status,
                    status_line=line,
                    last_success_at=now - timedelta(hours=sid),
                    failure_score=float(sid - 1),
                    consecutive_failures=sid - 1,
                    next_check_at=now + timedelta(hours=1),
                )
            )
        item_id = 0
        for week in range(DASHBOARD_WEEKS):
            monday = first + timedelta(weeks=week)
            shifted = week >= DASHBOARD_SHIFT_WEEK
            for sid, (name, _k, _c, language, _s, _l) in enumerate(publishers, 1):
                plan = [
                    ("nato_membership", "sovereign_choice"),
                    (
                        "nato_membership",
                        "enlargement_provocation" if shifted else "sovereign_choice",
                    ),
                    ("neutrality", "neutrality_as_settlement"),
                    (None, None),
                    (None, None),
                ]
                for n, (topic, frame) in enumerate(plan):
                    item_id += 1
                    word = "escalation" if shifted else "accession"
                    title = (
                        f"{name} on whether Ukraine should join NATO: {word} week {week}"
                        if topic == "nato_membership"
                        else f"{name} on neutrality week {week}"
                        if topic
                        else f"{name} harvest report week {week} number {n}"
                    )
                    published = datetime(monday.year, monday.month, monday.day, 9 + n, tzinfo=UTC)
                    items.append(
                        {
                            "id": item_id,
                            "source_id": sid,
                            "feed_id": sid,
                            "title": title,
                            "title_key": title.lower(),
                            "summary_text": f"Summary of {title}.",
                            "language": language,
                            "published_at": published,
                            "url": f"https://example.org/{item_id}",
                            "canonical_url": f"https://example.org/{item_id}",
                            "content_hash": f"{item_id:064d}",
                            "fetched_at": published,
                        }
                    )
                    scores: dict[str, dict[str, float]] = {"topic": {}, "frame": {}}
                    for kind, labels, chosen in (
                        ("topic", topics, topic),
                        ("frame", frames, frame),
                    ):
                        for label in labels:
                            scores[kind][label] = 0.9 if label == chosen else 0.05
                    evidence = []
                    if topic and "join NATO" in title:
                        start = title.index("join NATO")
                        evidence = [
                            {
                                "label": topic,
                                "kind": "rule",
                                "rule": "en.join",
                                "text": "join NATO",
                                "field": "title",
                                "start": start,
                                "end": start + 9,
                            }
                        ]
                    tagged.append(
                        (
                            item_id,
                            TagResult(
                                topics=scores["topic"],
                                topic_labels=[topic] if topic else [],
                                frames=scores["frame"],
                                frame_labels=[frame] if frame else [],
                                evidence=evidence,
                                language=language,
                                tagger_version="test-1",
                            ),
                        )
                    )
        conn.execute(insert(Item), items)
        # stored as the tagger's results are
        replace_tags(Session(bind=conn), tagged, untagged={item_id for item_id, _ in tagged})


@pytest.fixture
def dashboard_engine(engine: Engine) -> Engine:
    """The `engine` (SQLite and PostgreSQL) holding the seeded dashboard data."""
    seed_dashboard(engine)
    return engine
