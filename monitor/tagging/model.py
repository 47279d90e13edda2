"""The text classifiers: word and character n-gram TF-IDF into one-vs-rest logistic regression.

One model for topics, one for frames (trained on on-topic items only), both
multilingual: character n-grams carry the stems of inflected languages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion

#: characters of article text the model reads beyond title and summary
CONTENT_CHARS = 2000


def model_text(title: str, summary: str, content: str = "") -> str:
    """What the model reads: the title twice (it carries the most), then the rest."""
    return f"{title}. {title}. {summary} {content[:CONTENT_CHARS]}".strip()


def _without_repeated_title(text: str) -> str:
    """Character n-grams read the title once: they are the costly features."""
    return text.partition(". ")[2].lower()


def _vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    token_pattern=r"(?u)\b\w+\b",
                    sublinear_tf=True,
                    min_df=1,
                    dtype=np.float32,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    preprocessor=_without_repeated_title,
                    ngram_range=(4, 4),
                    sublinear_tf=True,
                    min_df=2,
                    max_features=150_000,
                    dtype=np.float32,
                ),
            ),
        ]
    )


def _classifier(seed: int) -> OneVsRestClassifier:
    return OneVsRestClassifier(
        LogisticRegression(C=8.0, class_weight="balanced", solver="liblinear", random_state=seed)
    )


@dataclass
class TextModel:
    vectorizer: FeatureUnion
    topics: list[str]
    frames: list[str]
    topic_classifier: OneVsRestClassifier
    frame_classifier: OneVsRestClassifier
    feature_names: np.ndarray[Any, Any]

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.vectorizer.transform(texts))

    def probabilities(self, features: sparse.csr_matrix) -> tuple[np.ndarray[Any, Any], ...]:
        """(topic probabilities, frame probabilities), one row per item."""
        return (
            _positive_probabilities(self.topic_classifier, features, len(self.topics)),
            _positive_probabilities(self.frame_classifier, features, len(self.frames)),
        )

    def strongest_features(
        self, features: sparse.csr_matrix, row: int, family: str, label_index: int, k: int = 3
    ) -> list[tuple[str, float]]:
        """The item's features that pushed this label up most (weight × value)."""
        classifier = self.topic_classifier if family == "topic" else self.frame_classifier
        estimator = classifier.estimators_[label_index]
        coef = getattr(estimator, "coef_", None)
        if coef is None:  # a label without positive examples: a constant predictor
            return []
        start, end = features.indptr[row], features.indptr[row + 1]
        indices = features.indices[start:end]
        contributions = features.data[start:end] * coef[0][indices]
        order = np.argsort(-contributions)[:k]
        return [
            (str(self.feature_names[indices[i]]), round(float(contributions[i]), 4))
            for i in order
            if contributions[i] > 0
        ]


def _positive_probabilities(
    classifier: OneVsRestClassifier, features: sparse.csr_matrix, width: int
) -> np.ndarray[Any, Any]:
    if features.shape[0] == 0:
        return np.zeros((0, width))
    return np.asarray(classifier.predict_proba(features), dtype=float)


def train_model(
    texts: Sequence[str],
    topic_sets: Sequence[set[str]],
    frame_sets: Sequence[set[str]],
    *,
    topics: list[str],
    frames: list[str],
    seed: int,
) -> TextModel:
    """Fit both classifiers; frames learn only from items that have a topic."""
    vectorizer = _vectorizer()
    features = sparse.csr_matrix(vectorizer.fit_transform(texts))
    topic_targets = _targets(topic_sets, topics)
    on_topic = [i for i, labels in enumerate(topic_sets) if labels]
    frame_targets = _targets([frame_sets[i] for i in on_topic], frames)
    topic_classifier = _classifier(seed).fit(features, topic_targets)
    frame_classifier = _classifier(seed).fit(features[on_topic], frame_targets)
    return TextModel(
        vectorizer=vectorizer,
        topics=topics,
        frames=frames,
        topic_classifier=topic_classifier,
        frame_classifier=frame_classifier,
        feature_names=vectorizer.get_feature_names_out(),
    )


def _targets(label_sets: Sequence[set[str]], labels: list[str]) -> np.ndarray[Any, Any]:
    matrix = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    for row, label_set in enumerate(label_sets):
        for column, label in enumerate(labels):
            matrix[row, column] = label in label_set
    return matrix
