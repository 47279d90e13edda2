"""Every label's score in one ItemScores row per item; Tag rows for the labels that apply.

Both databases: the score filters read the scores row, not positivity; migration
0006 moves tag rows written before it into scores rows and back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from alembic import command
from monitor.export.dataset import read_session
from monitor.export.query import item_rows, make_filter
from monitor.store.models import Item, ItemScores, Source, Tag
from monitor.store.session import _alembic_config, transaction
from monitor.store.tags import replace_tags
from monitor.tagging.tagger import TagResult
from tests.conftest import make_settings

PUBLISHED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _items(engine: Engine, titles: list[str]) -> list[int]:
    with engine.begin() as conn:
        source_id = conn.execute(
            insert(Source).values(name="Example", source_type="media", country="GB")
        ).inserted_primary_key[0]
        item = insert(Item).values(
            source_id=source_id, published_at=PUBLISHED, fetched_at=PUBLISHED
        )
        return [
            conn.execute(
                item.values(title=title, title_key=title.lower(), content_hash=title)
            ).inserted_primary_key[0]
            for title in titles
        ]


def _result(topics: dict[str, float], frames: dict[str, float], applying: set[str]) -> TagResult:
    return TagResult(
        topics=topics,
        topic_labels=[label for label in topics if label in applying],
        frames=frames,
        frame_labels=[label for label in frames if label in applying],
        evidence=[],
        language="en",
        tagger_version="by-hand-1",
    )


def test_score_filters_read_every_label_s_score_not_only_the_labels_that_apply(engine):
    near, applies, low = _items(engine, ["near", "applies", "low"])
    with transaction(engine) as session:
        replace_tags(
            session,
            [
                # scores above 0.5 on labels that do not apply: only a score filter finds it
                (near, _result({"neutrality": 0.6}, {"sovereign_choice": 0.7}, set())),
                (applies, _result({"neutrality": 0.9}, {"sovereign_choice": 0.2}, {"neutrality"})),
                (low, _result({"neutrality": 0.1}, {"sovereign_choice": 0.1}, set())),
            ],
            untagged={near, applies, low},
        )
    cases = [
        ({"topics": ["neutrality"]}, {"applies"}),
        ({"min_score": 0.5}, {"near", "applies"}),
        ({"topics": ["neutrality"], "min_score": 0.65}, {"applies"}),
        ({"frames": ["sovereign_choice"], "min_score": 0.5}, {"near"}),
        ({"min_score": 0.95}, set()),
    ]
    for given, expected in cases:
        with read_session(engine) as session:
            found = {row.title for row in item_rows(session, make_filter(make_settings(), **given))}
        assert found == expected, given
    with read_session(engine) as session:
        (row,) = [r for r in item_rows(session, make_filter(make_settings())) if r.id == near]
    assert row.tags["sovereign_choice"].score == 0.7
    assert not row.tags["sovereign_choice"].is_positive


def test_the_migration_moves_tag_rows_into_one_scores_row_per_item_and_back(engine):
    config = _alembic_config(engine)
    command.downgrade(config, "0005")
    (item_id,) = _items(engine, ["Allies weigh Ukraine's path to NATO"])
    evidence = {"label": "nato_membership", "kind": "rule", "rule": "en.join", "text": "NATO",
                "field": "title", "start": 31, "end": 35}  # fmt: skip
    near = {"label": "neutrality", "kind": "rule", "rule": "en.neutral", "text": "path",
            "field": "title", "start": 26, "end": 30}  # fmt: skip
    before = [
        (item_id, "topic", "nato_membership", 0.9, True, [evidence], "old-1"),
        (item_id, "topic", "neutrality", 0.4, False, [near], "old-1"),
        (item_id, "frame", "sovereign_choice", 0.7, True, [], "old-1"),
        (item_id, "frame", "enlargement_provocation", 0.1, False, [], "old-1"),
    ]
    columns = ("item_id", "kind", "label", "score", "is_positive", "evidence", "tagger_version")
    with engine.begin() as conn:
        conn.execute(insert(Tag), [dict(zip(columns, row, strict=True)) for row in before])

    command.upgrade(config, "head")
    with transaction(engine) as session:
        scores = session.get_one(ItemScores, item_id)
        tags = {t.label: t.score for t in session.scalars(select(Tag))}
    assert scores.topics == {"nato_membership": 0.9, "neutrality": 0.4}
    assert scores.frames == {"sovereign_choice": 0.7, "enlargement_provocation": 0.1}
    assert scores.top_topic_score == 0.9
    assert scores.evidence == [evidence, near]
    assert scores.tagger_version == "old-1"
    assert tags == {"nato_membership": 0.9, "sovereign_choice": 0.7}

    command.downgrade(config, "0005")
    with engine.connect() as conn:
        after = conn.execute(
            select(*(Tag.__table__.c[name] for name in columns)).order_by(Tag.kind.desc())
        ).all()
    assert sorted(map(tuple, after)) == sorted(before)
    command.upgrade(config, "head")
