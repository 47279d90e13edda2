"""The tagger: codebook contract, evaluation, deterministic training, stored tags, retagging."""

import hashlib
import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, event, select

from monitor.cli import cli
from monitor.config import RuleSettings, load_settings
from monitor.store.feeds import get_or_create_source
from monitor.store.models import AnalystLabel, Item, ItemScores, Tag
from monitor.store.session import transaction
from monitor.store.tags import corrections_as_labeled, tag_items
from monitor.tagging import tagger as tagger_module
from monitor.tagging.contract import tag_stream
from monitor.tagging.dataset import load_labeled, split_of
from monitor.tagging.tagger import Tagger, TagInput
from monitor.tagging.train import load_tagger, train_tagger
from tests.conftest import REPO

SETTINGS = load_settings(REPO / "config.toml")
TOPICS = [t.id for t in SETTINGS.tagging.topics]
FRAMES = [f.id for f in SETTINGS.tagging.frames]
LANGUAGES = ("de", "en", "fr", "pl", "ru", "uk")


@pytest.fixture(scope="module")
def tagger():
    return load_tagger(SETTINGS.tagging)


def run_cli(*args, input=None):
    return CliRunner().invoke(cli, ["--config", str(REPO / "config.toml"), *args], input=input)


ITEMS = [
    {
        "id": 1,
        "title": "Ukraine will join NATO, allies say the door remains open",
        "summary": "Kyiv insists on its right to choose its alliances.",
        "source": "x",
    },
    {"id": "b", "title": "Кремль требует нейтрального статуса Украины", "language": "ru"},
    {"id": "c", "title": "EU sets carbon neutrality target for 2050", "published": "2024-01-01"},
]


def test_tag_output_follows_the_codebook_contract(tagger):
    out = io.StringIO()
    tag_stream(tagger, io.StringIO("\n".join(json.dumps(i) for i in ITEMS)), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["id"] for line in lines] == [1, "b", "c"]
    for given, line in zip(ITEMS, lines, strict=True):
        assert {k: line[k] for k in given} == given  # input fields repeated unchanged
        assert set(line["topics"]) == set(TOPICS) and set(line["frames"]) == set(FRAMES)
        assert all(0 <= s <= 1 for s in [*line["topics"].values(), *line["frames"].values()])
        assert set(line["topic_labels"]) <= set(TOPICS)
        assert set(line["frame_labels"]) <= set(FRAMES)
        if not line["topic_labels"]:
            assert line["frame_labels"] == []
        explained = {e["label"] for e in line["evidence"]}
        assert set(line["topic_labels"]) | set(line["frame_labels"]) <= explained
        assert line["tagger_version"] == tagger.version and line["language"]
    assert "nato_membership" in lines[0]["topic_labels"]
    assert "neutrality" in lines[1]["topic_labels"]
    assert lines[2]["topic_labels"] == []


def test_tag_command_reads_stdin_and_writes_stdout():
    result = run_cli(
        "tag", "--input", "-", "--output", "-", input="\n".join(json.dumps(i) for i in ITEMS) + "\n"
    )
    assert result.exit_code == 0, result.output
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 3


def test_tag_command_rejects_a_bad_line_with_its_number(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(ITEMS[0]) + "\n{not json\n")
    result = run_cli("tag", "--input", str(path), "--output", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert f"{path}:2: not valid JSON" in result.output and "Traceback" not in result.output


def test_eval_reports_per_label_micro_macro_and_per_language(tmp_path):
    gold = tmp_path / "gold.jsonl"
    with gold.open("w") as handle:
        labeled = load_labeled()
        for item in [
            i for lang in LANGUAGES for i in [j for j in labeled if j.language == lang][:10]
        ]:
            handle.write(
                json.dumps(
                    {
                        **item.__dict__,
                        "topic_labels": list(item.topic_labels),
                        "frame_labels": list(item.frame_labels),
                    }
                )
                + "\n"
            )
    result = run_cli("eval", "--gold", str(gold), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["items"] == 60
    assert set(report["topics"]["labels"]) == set(TOPICS)
    assert {"precision", "recall", "f1", "support"} <= set(report["topics"]["micro"])
    assert "macro_f1" in report["frames"]
    assert set(report["languages"]) == set(LANGUAGES)
    text = run_cli("eval", "--gold", str(gold))
    assert "micro average" in text.output and "macro F1" in text.output


def test_training_is_deterministic_and_never_sees_the_test_split():
    items = [i for i in load_labeled() if i.language in ("fr", "pl")]
    first = train_tagger(SETTINGS.tagging, items, folds=2)
    second = train_tagger(SETTINGS.tagging, items, folds=2)
    assert first.model_bytes == second.model_bytes
    assert first.tagger.version == second.tagger.version
    assert first.metadata == second.metadata
    held_out = sum(1 for i in items if split_of(i.id) == "test")
    assert first.metadata["items"]["test"] == held_out > 0
    assert first.metadata["items"]["development"] + held_out == len(items)


def small_model_digest():
    items = [i for i in load_labeled() if i.language in ("fr", "pl")]
    return hashlib.sha256(train_tagger(SETTINGS.tagging, items, folds=2).model_bytes).hexdigest()


def test_training_in_another_process_gives_the_same_artifact():
    script = "from tests.test_tagging import small_model_digest; print(small_model_digest())"
    other = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == small_model_digest()


def test_with_no_frame_past_its_threshold_the_nearest_wins_over_the_residual():
    strict = Tagger(SETTINGS.tagging, thresholds={"sovereign_choice": 0.95})
    near_miss, plain = strict.tag_many(
        [
            TagInput("Ukraine's right to choose: the door remains open to NATO", language="en"),
            TagInput("Sweden joins NATO", language="en"),
        ]
    )
    assert 0 < near_miss.frames["sovereign_choice"] < 0.95
    assert near_miss.frame_labels == ["sovereign_choice"]
    assert plain.topic_labels == ["nato_membership"]
    assert plain.frame_labels == ["factual_report"]


def test_a_long_batch_is_tagged_in_slices_as_each_item_alone(tagger):
    items = [TagInput(i.title, i.summary, language=i.language) for i in load_labeled()[:400]]
    assert len(tagger_module._slices(items, tagger_module._SLICE_CHARS)) > 1
    assert tagger.tag_many(items) == [tagger.tag(item) for item in items]


def test_changing_a_rule_changes_the_tagger_version(tagger):
    extra = RuleSettings(id="en.neutrality.extra", label="neutrality", phrases=("non-aligned",))
    changed = SETTINGS.tagging.__class__(
        **{**SETTINGS.tagging.__dict__, "rules": (*SETTINGS.tagging.rules, extra)}
    )
    same_but_rules = Tagger(
        changed,
        tagger.model,
        tagger.thresholds,
        rule_trust=tagger.rule_trust,
        model_id=tagger.model_id,
        data_month=tagger.data_month,
    )
    assert same_but_rules.version != tagger.version


def _store_item(session, title, summary=""):
    source = get_or_create_source(session, "Test", "media", "US")
    from datetime import UTC, datetime

    item = Item(
        source_id=source.id,
        title=title,
        summary_text=summary,
        language="en",
        published_at=datetime(2025, 1, 1, tzinfo=UTC),
        content_hash=title,
    )
    session.add(item)
    session.flush()
    return item.id


def test_stored_items_get_every_score_with_version_and_retag_replaces_them(engine, tagger):
    with transaction(engine) as session:
        item_id = _store_item(session, "Allies debate whether Ukraine can join NATO")
        tag_items(session, tagger, [item_id])
    with transaction(engine) as session:
        scores = session.get_one(ItemScores, item_id)
        tags = session.scalars(select(Tag).where(Tag.item_id == item_id)).all()
    assert set(scores.topics) == set(TOPICS) and set(scores.frames) == set(FRAMES)
    assert scores.top_topic_score == max(scores.topics.values())
    assert scores.tagger_version == tagger.version
    # tag rows: the labels that apply, each with the evidence behind it
    assert "nato_membership" in {t.label for t in tags}
    assert all(t.is_positive and t.evidence for t in tags)
    assert {t.tagger_version for t in tags} == {tagger.version}
    assert all(t.score == {**scores.topics, **scores.frames}[t.label] for t in tags)
    assert [e for e in scores.evidence if e["label"] == "nato_membership"] == next(
        t.evidence for t in tags if t.label == "nato_membership"
    )

    rules_only = Tagger(SETTINGS.tagging)
    with transaction(engine) as session:
        tag_items(session, rules_only, [item_id])
    with transaction(engine) as session:
        versions = set(session.scalars(select(Tag.tagger_version).where(Tag.item_id == item_id)))
        scores = session.get_one(ItemScores, item_id)
    assert versions == {rules_only.version} == {scores.tagger_version}


def test_items_just_created_are_tagged_from_hand_as_read_back_and_the_rest_read(engine, tagger):
    with transaction(engine) as session:
        first = _store_item(session, "Allies debate whether Ukraine can join NATO")
        second = _store_item(session, "Neutrality talks resume", "Austria as a model")
    with transaction(engine) as session:
        tag_items(session, tagger, [first, second])
        by_id = _tag_rows(session)
        session.execute(delete(Tag))
        session.execute(delete(ItemScores))
        in_hand = session.get_one(Item, first)
        statements: list[str] = []

        def record(conn, cursor, statement, *rest):
            statements.append(statement)

        event.listen(session.connection(), "before_cursor_execute", record)
        tag_items(session, tagger, [first, second], created=[in_hand])
        event.remove(session.connection(), "before_cursor_execute", record)
        assert _tag_rows(session) == by_id
    # only the other item is read back, and only its earlier tags and scores deleted
    assert [s.split()[0] for s in statements] == ["SELECT", "DELETE", "DELETE", "INSERT", "INSERT"]


def _tag_rows(session):
    tags = sorted(
        (t.item_id, t.label, t.score, t.is_positive, t.tagger_version)
        for t in session.scalars(select(Tag))
    )
    scores = sorted(
        (s.item_id, s.topics, s.frames, s.evidence, s.tagger_version)
        for s in session.scalars(select(ItemScores))
    )
    return tags, scores


def test_analyst_corrections_become_training_items(engine, tagger):
    with transaction(engine) as session:
        item_id = _store_item(session, "Vienna hosts talks on the energy market")
        tag_items(session, tagger, [item_id])
        session.add(
            AnalystLabel(
                item_id=item_id, kind="topic", label="neutrality", applies=True, analyst="ana"
            )
        )
    with transaction(engine) as session:
        [corrected] = corrections_as_labeled(session)
    assert "neutrality" in corrected.topic_labels
    trained = train_tagger(SETTINGS.tagging, load_labeled()[:150], corrections=[corrected], folds=2)
    assert trained.metadata["corrections"] == 1


def _feed(engine, feed_server):
    from monitor.config import FeedSettings
    from monitor.store.feeds import add_feed

    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><guid>1</guid><title>Allies say Ukraine will join NATO once the war ends</title>"
        b"<link>https://example.org/1</link><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>"
        b"<item><guid>2</guid><title>Grain exports rise through Black Sea corridor</title>"
        b"<link>https://example.org/2</link><pubDate>Tue, 24 Nov 2026 11:00:00 GMT</pubDate></item>"
        b"</channel></rss>"
    )
    spec = FeedSettings(
        url=feed_server.add("/f.xml", body),
        publisher="P",
        source_type="media",
        country="US",
        language="en",
    )
    with transaction(engine) as session:
        add_feed(session, spec, interval_seconds=3600)


def test_fetched_items_are_tagged_in_the_transaction_that_stores_them(engine, feed_server, tagger):
    from monitor.pipeline import run_cycle
    from tests.conftest import make_settings

    _feed(engine, feed_server)
    run_cycle(make_settings(), engine, include_not_due=True, tagger=tagger)
    with transaction(engine) as session:
        items = {i.id: i.title for i in session.scalars(select(Item))}
        tags = session.scalars(select(Tag)).all()
        scores = session.scalars(select(ItemScores)).all()
    assert len(items) == 2
    assert {(s.item_id, label) for s in scores for label in (*s.topics, *s.frames)} == {
        (item_id, label) for item_id in items for label in TOPICS + FRAMES
    }
    positive = {items[t.item_id] for t in tags if t.is_positive and t.label == "nato_membership"}
    assert positive == {"Allies say Ukraine will join NATO once the war ends"}


class _BrokenTagger(Tagger):
    """At module level: the parse processes receive the tagger pickled."""

    def tag_many(self, items):
        raise RuntimeError("model file damaged")


def test_a_tagging_failure_stores_nothing_of_that_feed(sqlite_engine, feed_server, tagger):
    from monitor.pipeline import run_cycle
    from tests.conftest import make_settings

    _feed(sqlite_engine, feed_server)
    report = run_cycle(
        make_settings(), sqlite_engine, include_not_due=True, tagger=_BrokenTagger(SETTINGS.tagging)
    )
    assert report.feeds_failed == 1
    with transaction(sqlite_engine) as session:
        assert session.scalars(select(Item)).all() == []


def test_imported_items_are_tagged_in_the_import_transaction(sqlite_engine, tmp_path):
    from monitor.history.importer import import_file
    from tests.conftest import make_settings

    path = tmp_path / "items.csv"
    path.write_text(
        "title,summary,url,published,publisher\n"
        '"Ukraine will not join NATO, Moscow insists","Demands to halt enlargement",'
        "https://example.org/a,2024-05-01T10:00:00Z,Example\n",
        encoding="utf-8",
    )
    import_file(make_settings(), sqlite_engine, path)
    with transaction(sqlite_engine) as session:
        tags = session.scalars(select(Tag)).all()
        (scores,) = session.scalars(select(ItemScores)).all()
    assert set(scores.topics) | set(scores.frames) == set(TOPICS) | set(FRAMES)
    assert "nato_membership" in {t.label for t in tags if t.is_positive}


def test_a_tag_inputs_digest_keeps_its_fields_apart():
    # a table of tags computed ahead is keyed by it: two items must never share a key
    assert TagInput("ab", "c").digest() != TagInput("a", "bc").digest()
    assert TagInput("a", language="en").digest() != TagInput("a", "en").digest()
    assert TagInput("Nato", "s", "c", "en").digest() == TagInput("Nato", "s", "c", "en").digest()
