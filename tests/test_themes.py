"""Theme discovery over stored on-topic items."""

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.store.feeds import get_or_create_source
from monitor.store.models import Item, ItemTheme, Tag, Theme, ThemeCount
from monitor.store.session import transaction
from monitor.store.themes import on_topic_documents, replace_themes
from monitor.tagging.dataset import load_labeled
from monitor.tagging.themes import fit_themes, week_start

START = datetime(2025, 1, 6, tzinfo=UTC)


def _store_labeled(engine, limit=160):
    on_topic = [i for i in load_labeled() if i.topic_labels and i.language == "en"][:limit]
    with transaction(engine) as session:
        source = get_or_create_source(session, "Test", "media", "US")
        for n, labeled in enumerate(on_topic):
            item = Item(
                source_id=source.id,
                title=labeled.title,
                summary_text=labeled.summary,
                language="en",
                published_at=START + timedelta(days=n % 50),
                content_hash=labeled.id,
            )
            session.add(item)
            session.flush()
            for topic in labeled.topic_labels:
                session.add(
                    Tag(
                        item_id=item.id,
                        kind="topic",
                        label=topic,
                        score=0.9,
                        is_positive=True,
                        tagger_version="t",
                    )
                )
        off = Item(
            source_id=source.id,
            title="Weather",
            summary_text="Rain",
            language="en",
            published_at=START,
            content_hash="off",
        )
        session.add(off)
    return len(on_topic)


def test_themes_are_fitted_from_on_topic_items_with_weekly_counts(sqlite_engine):
    stored = _store_labeled(sqlite_engine)
    with transaction(sqlite_engine) as session:
        documents = on_topic_documents(session, limit=10_000)
    assert len(documents) == stored  # the off-topic item is not read
    fit = fit_themes(documents, count=5, top_terms=8, seed=13)
    assert len(fit.themes) == 5 and all(len(t.top_terms) == 8 for t in fit.themes)
    assert sum(t.items for t in fit.themes) == len(fit.assignments)
    assert fit == fit_themes(documents, count=5, top_terms=8, seed=13)  # deterministic
    with transaction(sqlite_engine) as session:
        replace_themes(session, fit, now=START)
    with transaction(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Theme)) == 5
        weekly = session.scalar(select(func.sum(ThemeCount.items)))
        assert weekly == session.scalar(select(func.count()).select_from(ItemTheme))
        weeks = set(session.scalars(select(ThemeCount.period_start)))
        assert all(w.weekday() == 0 and w == week_start(w) for w in weeks)


def test_themes_command_refits_and_replaces(sqlite_engine, tmp_path):
    _store_labeled(sqlite_engine)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{sqlite_engine.url}"\n[themes]\ncount = 4\n')
    for _ in range(2):
        result = CliRunner().invoke(cli, ["--config", str(config), "themes"])
        assert result.exit_code == 0, result.output
        assert result.output.count(" items · ") == 4
    with transaction(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Theme)) == 4


def test_too_few_items_says_so(sqlite_engine, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{sqlite_engine.url}"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "themes"])
    assert result.exit_code == 0 and "too few" in result.output
