"""The shipped tagger on real items (tests/data/real_gold.jsonl, texts from the shared corpus).

The floors sit a little under what the shipped tagger measures (docs/tagging.md),
so that a change that brings back over-tagging on long real items fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.config import load_settings
from monitor.tagging.dataset import LabeledItem
from monitor.tagging.real_gold import GOLD_FILE, load_real_gold
from monitor.tagging.train import load_tagger, score
from tests.conftest import require_corpus

#: label -> (precision floor, recall floor) of the combined tagger
TOPIC_FLOORS = {
    "nato_membership": (0.70, 0.70),
    "neutrality": (0.80, 0.50),
    "security_guarantees": (0.85, 0.70),
}
MICRO_FLOORS = (0.80, 0.70)


@pytest.fixture(scope="module")
def gold() -> list[LabeledItem]:
    return load_real_gold(GOLD_FILE, require_corpus())


@pytest.fixture(scope="module")
def report(gold: list[LabeledItem]) -> dict[str, Any]:
    return score(load_tagger(load_settings().tagging), gold)


def test_gold_file_holds_references_and_codebook_labels_only() -> None:
    tagging = load_settings().tagging
    topics = {t.id for t in tagging.topics}
    frames = {f.id for f in tagging.frames}
    records = [json.loads(line) for line in GOLD_FILE.read_text("utf-8").splitlines()]
    assert len(records) >= 150
    assert len({(r["source"], r["key"]) for r in records}) == len(records)
    for record in records:
        assert set(record) == {"source", "key", "topic_labels", "frame_labels"}
        assert set(record["topic_labels"]) <= topics
        assert set(record["frame_labels"]) <= frames
        assert bool(record["topic_labels"]) == bool(record["frame_labels"])
        if tagging.residual_frame in record["frame_labels"]:
            assert record["frame_labels"] == [tagging.residual_frame]


def test_every_reference_resolves_to_a_corpus_item(gold: list[LabeledItem]) -> None:
    assert len(gold) == len(GOLD_FILE.read_text("utf-8").splitlines())
    assert all(item.title for item in gold)
    # the set is stratified: long official texts as well as headline items
    assert sum(len(item.content) > 3000 for item in gold) >= 30
    assert sum(not item.content for item in gold) >= 50


@pytest.mark.parametrize("label", sorted(TOPIC_FLOORS))
def test_topic_precision_and_recall_on_real_items(report: dict[str, Any], label: str) -> None:
    scores = report["topics"]["labels"][label]
    precision_floor, recall_floor = TOPIC_FLOORS[label]
    assert scores["precision"] >= precision_floor, scores
    assert scores["recall"] >= recall_floor, scores


def test_topic_micro_average_on_real_items(report: dict[str, Any]) -> None:
    micro = report["topics"]["micro"]
    assert micro["precision"] >= MICRO_FLOORS[0] and micro["recall"] >= MICRO_FLOORS[1], micro
