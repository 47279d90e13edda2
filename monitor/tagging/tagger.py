"""Rules and model combined into one score per label, labels by threshold, evidence.

The combined score is a noisy-OR, 1 − (1 − trust·rule)(1 − model): a strong rule
hit or a confident model each suffices, and agreement raises the score. Each
label's rule trust (how far its rules are believed over the model) and its
threshold are chosen by cross-validation when the model is trained.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.config import TaggingSettings
from monitor.feeds.parse import detect_language
from monitor.tagging.linear import CONTENT_CHARS, Features, LinearModel, model_text
from monitor.tagging.rules import Rule, RuleHit, RuleSet

#: the threshold of a label when no model has been trained for it
DEFAULT_THRESHOLD = 0.5

#: characters the model vectorises at once: its arrays take about 90 bytes a character,
#: so one long feed (350,000 characters: 31 MiB) would otherwise set a process's peak
_SLICE_CHARS = 40_000

Matrix = np.ndarray[Any, Any]


@dataclass(frozen=True)
class TagInput:
    title: str
    summary: str = ""
    content: str = ""
    language: str = ""

    def digest(self) -> bytes:
        """Stands for these texts in a table of tags computed ahead, without holding them."""
        digest = hashlib.blake2b(digest_size=16)
        for text in (self.title, self.summary, self.content, self.language):
            data = text.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big") + data)  # lengths keep the fields apart
        return digest.digest()


@dataclass(frozen=True)
class TagResult:
    topics: dict[str, float]
    topic_labels: list[str]
    frames: dict[str, float]
    frame_labels: list[str]
    evidence: list[dict[str, Any]]
    language: str
    tagger_version: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "topics": self.topics,
            "topic_labels": self.topic_labels,
            "frames": self.frames,
            "frame_labels": self.frame_labels,
            "evidence": self.evidence,
            "language": self.language,
            "tagger_version": self.tagger_version,
        }


def rules_from_settings(tagging: TaggingSettings) -> RuleSet:
    return RuleSet(
        [
            Rule(
                id=r.id, label=r.label, phrases=r.phrases, language=r.language, near=r.near,
                window=r.window, exclude=r.exclude, weight=r.weight,
            )
            for r in tagging.rules
        ]
    )  # fmt: skip


def combine(rule_scores: Matrix, model_scores: Matrix, rule_trust: Matrix | float) -> Matrix:
    """The noisy-OR of trusted rule scores and model probabilities, label by label."""
    combined: Matrix = np.round(1 - (1 - rule_scores * rule_trust) * (1 - model_scores), 4)
    return combined


@dataclass(frozen=True)
class BatchScores:
    """Rule hits and model output for a batch, before rule trust and thresholds."""

    hits: list[list[RuleHit]]
    #: one row per item, one column per label (topics, then frames)
    rule: Matrix
    model: Matrix
    features: Features | None


@dataclass
class Tagger:
    tagging: TaggingSettings
    model: LinearModel | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    #: per label, the factor applied to rule scores before combining (default 1)
    rule_trust: dict[str, float] = field(default_factory=dict)
    #: identifies the model artifact (its content hash); empty without a model
    model_id: str = ""
    #: the month of the newest training item, e.g. "2026.01"; the version's prefix
    data_month: str = ""

    def __post_init__(self) -> None:
        self.rules = rules_from_settings(self.tagging)
        self.topic_ids = [t.id for t in self.tagging.topics]
        self.frame_ids = [f.id for f in self.tagging.frames]
        self.labels = self.topic_ids + self.frame_ids
        self._trust = np.array([self.rule_trust.get(label, 1.0) for label in self.labels])
        self._thresholds = np.array([self.threshold(label) for label in self.labels])
        self.version = self._version()

    def _version(self) -> str:
        state = {
            "labels": [self.topic_ids, self.frame_ids, self.tagging.residual_frame],
            "rules": [r.__dict__ for r in self.rules.rules],
            "model": self.model_id,
            "thresholds": sorted(self.thresholds.items()),
            "rule_trust": sorted(self.rule_trust.items()),
        }
        digest = hashlib.sha256(json.dumps(state, sort_keys=True, default=list).encode())
        prefix = self.data_month or "rules"
        return f"{prefix}-{digest.hexdigest()[:7]}"

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, DEFAULT_THRESHOLD)

    def tag(self, item: TagInput) -> TagResult:
        return self.tag_many([item])[0]

    def tag_many(self, items: Sequence[TagInput]) -> list[TagResult]:
        """Tag a batch, vectorised a slice of items at a time (the same tags as one by one)."""
        return [tags for part in _slices(items, _SLICE_CHARS) for tags in self._tag_slice(part)]

    def _tag_slice(self, items: Sequence[TagInput]) -> list[TagResult]:
        languages = [language_of(item) for item in items]
        scores = self.score(items, languages)
        combined = combine(scores.rule, scores.model, self._trust)
        passed = combined >= self._thresholds
        return [
            self._result(row, combined[row].tolist(), passed[row].tolist(), scores, language)
            for row, language in enumerate(languages)
        ]

    def score(self, items: Sequence[TagInput], languages: Sequence[str]) -> BatchScores:
        """Every label's rule score and model probability for each item."""
        hits = [
            self.rules.match(
                {"title": item.title, "summary": item.summary, "content": item.content}, language
            )
            for item, language in zip(items, languages, strict=True)
        ]
        rule = np.zeros((len(items), len(self.labels)))
        column = {label: k for k, label in enumerate(self.labels)}
        for row, item_hits in enumerate(hits):
            for label, value in self.rules.scores(item_hits).items():
                if label in column:
                    rule[row, column[label]] = value
        if self.model is None or not items:
            return BatchScores(hits, rule, np.zeros_like(rule), None)
        features = self.model.features([model_text(i.title, i.summary, i.content) for i in items])
        return BatchScores(
            hits, rule, self.model.label_probabilities(features, self.labels), features
        )

    def _result(
        self,
        row: int,
        combined: list[float],
        passed: list[bool],
        scores: BatchScores,
        language: str,
    ) -> TagResult:
        topic_count = len(self.topic_ids)
        topic_labels = [t for t, ok in zip(self.topic_ids, passed[:topic_count], strict=True) if ok]
        frames = dict(zip(self.frame_ids, combined[topic_count:], strict=True))
        frame_labels: list[str] = []
        if topic_labels:
            residual = self.tagging.residual_frame
            frame_passed = passed[topic_count:]
            frame_labels = [
                f
                for f, ok in zip(self.frame_ids, frame_passed, strict=True)
                if ok and f != residual
            ]
            if not frame_labels and residual in self.frame_ids:
                frame_labels = [self._nearest_frame(frames, residual)]
        evidence = self._evidence(topic_labels + frame_labels, scores, row)
        return TagResult(
            topics=dict(zip(self.topic_ids, combined[:topic_count], strict=True)),
            topic_labels=topic_labels,
            frames=frames,
            frame_labels=frame_labels,
            evidence=evidence,
            language=language,
            tagger_version=self.version,
        )

    def _nearest_frame(self, frames: dict[str, float], residual: str) -> str:
        """When no frame passes its threshold, the one that came nearest, relative to its
        threshold: the residual frame, unless another frame's score says more."""
        return max(self.frame_ids, key=lambda f: (frames[f] / self.threshold(f), f == residual))

    def _evidence(self, labels: list[str], scores: BatchScores, row: int) -> list[dict[str, Any]]:
        evidence: list[dict[str, Any]] = []
        for label in labels:
            label_hits = sorted(
                (h for h in scores.hits[row] if h.label == label), key=lambda h: (-h.score, h.start)
            )
            for hit in label_hits[:3]:
                evidence.append(
                    {"label": label, "kind": "rule", "rule": hit.rule, "text": hit.text,
                     "field": hit.field, "start": hit.start, "end": hit.end}
                )  # fmt: skip
            if scores.features is not None and self.model is not None:
                features = self.model.strongest_features(scores.features, row, label)
                if features:
                    evidence.append({"label": label, "kind": "model", "features": features})
        return evidence


def language_of(item: TagInput) -> str:
    return item.language or detect_language(f"{item.title}\n{item.summary}") or ""


def _slices(items: Sequence[TagInput], chars: int) -> list[Sequence[TagInput]]:
    """Consecutive slices of about `chars` characters of model text each (at least one item)."""
    slices: list[Sequence[TagInput]] = []
    start = size = 0
    for end, item in enumerate(items):
        item_chars = _model_chars(item)
        if size and size + item_chars > chars:
            slices.append(items[start:end])
            start, size = end, 0
        size += item_chars
    if start < len(items):
        slices.append(items[start:])
    return slices


def _model_chars(item: TagInput) -> int:
    return 2 * len(item.title) + len(item.summary) + min(len(item.content), CONTENT_CHARS)
