"""Engine, sessions and schema upgrades: the only place that knows database URLs."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"
#: the schema revision this code works with: the newest migration in alembic/versions.
#: Written here so that a worker checks it without loading Alembic (a test keeps it true)
SCHEMA_REVISION = "0007"


def make_engine(url: str, *, busy_timeout: float = 30.0) -> Engine:
    """An engine with the settings the monitor relies on.

    SQLite runs in WAL mode (readers never block the writer) with a busy
    timeout, and every transaction starts with BEGIN IMMEDIATE so two writers
    queue for the lock instead of failing on upgrade.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"'database.url' is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with session_factory(engine).begin() as session:
        yield session


T = TypeVar("T")

#: PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race
#: with another worker's (say, over the same item_counts rows) and can simply run again
_LOST_RACE = frozenset({"40P01", "40001"})


def in_transaction(engine: Engine, work: Callable[[Session], T], *, attempts: int = 4) -> T:
    """`work(session)` in one transaction, run again from the start if PostgreSQL aborted
    it for a deadlock or a serialization failure; anything else is raised at once."""
    for attempt in range(1, attempts + 1):
        try:
            with transaction(engine) as session:
                return work(session)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in _LOST_RACE or attempt == attempts:
                raise
            time.sleep(random.uniform(0, 0.05 * attempt))  # apart, so they do not meet again
    raise AssertionError("unreachable")


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to head; returns (revision before, head)."""
    from alembic import command

    before = current_revision(engine)
    try:
        command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise StoreError(f"cannot upgrade the database: {exc.orig}") from None
    return before, SCHEMA_REVISION


def current_revision(engine: Engine) -> str | None:
    """The schema revision Alembic recorded in the database; None for an empty database."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            revision: str | None = conn.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar()
            return revision
    except OperationalError as exc:
        raise StoreError(f"cannot open the database {engine.url!r}: {exc.orig}") from None


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that `monitor init` has not brought to head."""
    current = current_revision(engine)
    if current != SCHEMA_REVISION:
        found = "an empty database" if current is None else f"schema revision {current}"
        raise StoreError(f"found {found}; run `monitor init` to create or upgrade it")
