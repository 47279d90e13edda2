"""Rules and model combined into one score per label, labels by threshold, evidence.

The combined score is a noisy-OR, 1 − (1 − trust·rule)(1 − model): a strong rule
hit or a confident model each suffices, and agreement raises the score. Each
label's rule trust (how far its rules are believed over the model) and its
threshold are chosen on the validation split when the model is trained.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config import TaggingSettings
from monitor.feeds.parse import detect_language
from monitor.tagging.model import TextModel, model_text
from monitor.tagging.rules import Rule, RuleHit, RuleSet

#: the threshold of a label when no model has been trained for it
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class TagInput:
    title: str
    summary: str = ""
    content: str = ""
    language: str = ""


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


@dataclass
class Tagger:
    tagging: TaggingSettings
    model: TextModel | None = None
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
        """Tag a batch: the model vectorises the whole batch at once."""
        languages = [item.language or detect_language(f"{item.title}\n{item.summary}") or ""
                     for item in items]  # fmt: skip
        model_scores = self._model_scores(items)
        results = []
        for row, (item, language) in enumerate(zip(items, languages, strict=True)):
            fields = {"title": item.title, "summary": item.summary, "content": item.content}
            hits = self.rules.match(fields, language)
            results.append(self._result(row, hits, model_scores, language))
        return results

    def _model_scores(self, items: Sequence[TagInput]) -> dict[str, Any] | None:
        if self.model is None or not items:
            return None
        texts = [model_text(i.title, i.summary, i.content) for i in items]
        features = self.model.features(texts)
        topic_p, frame_p = self.model.probabilities(features)
        return {"features": features, "topic": topic_p, "frame": frame_p}

    def _result(
        self,
        row: int,
        hits: list[RuleHit],
        model_scores: dict[str, Any] | None,
        language: str,
    ) -> TagResult:
        rule_scores = self.rules.scores(hits)
        topics = self._combine("topic", self.topic_ids, rule_scores, model_scores, row)
        frames = self._combine("frame", self.frame_ids, rule_scores, model_scores, row)
        topic_labels = [t for t in self.topic_ids if topics[t] >= self.threshold(t)]
        frame_labels: list[str] = []
        if topic_labels:
            residual = self.tagging.residual_frame
            frame_labels = [
                f for f in self.frame_ids if f != residual and frames[f] >= self.threshold(f)
            ]
            if not frame_labels and residual in frames:
                frame_labels = [residual]
        evidence = self._evidence(topic_labels + frame_labels, hits, model_scores, row)
        return TagResult(
            topics=topics,
            topic_labels=topic_labels,
            frames=frames,
            frame_labels=frame_labels,
            evidence=evidence,
            language=language,
            tagger_version=self.version,
        )

    def _combine(
        self,
        family: str,
        labels: list[str],
        rule_scores: dict[str, float],
        model_scores: dict[str, Any] | None,
        row: int,
    ) -> dict[str, float]:
        model_ids = self._model_labels(family)
        combined = {}
        for label in labels:
            rule = rule_scores.get(label, 0.0) * self.rule_trust.get(label, 1.0)
            model = 0.0
            if model_scores is not None and label in model_ids:
                model = float(model_scores[family][row][model_ids.index(label)])
            combined[label] = round(1 - (1 - rule) * (1 - model), 4)
        return combined

    def _model_labels(self, family: str) -> list[str]:
        if self.model is None:
            return []
        return self.model.topics if family == "topic" else self.model.frames

    def _evidence(
        self,
        labels: list[str],
        hits: list[RuleHit],
        model_scores: dict[str, Any] | None,
        row: int,
    ) -> list[dict[str, Any]]:
        evidence: list[dict[str, Any]] = []
        for label in labels:
            label_hits = sorted(
                (h for h in hits if h.label == label), key=lambda h: (-h.score, h.start)
            )
            for hit in label_hits[:3]:
                evidence.append(
                    {"label": label, "kind": "rule", "rule": hit.rule, "text": hit.text,
                     "field": hit.field, "start": hit.start, "end": hit.end}
                )  # fmt: skip
            family = "topic" if label in self.topic_ids else "frame"
            model_ids = self._model_labels(family)
            if model_scores is not None and self.model is not None and label in model_ids:
                features = self.model.strongest_features(
                    model_scores["features"], row, family, model_ids.index(label)
                )
                if features:
                    evidence.append({"label": label, "kind": "model", "features": features})
        return evidence
