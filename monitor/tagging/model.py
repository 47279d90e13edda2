"""Fitting the text classifiers: word and character n-gram TF-IDF into one-vs-rest
logistic regression.

One model for topics, one for frames (trained on on-topic items only), both
multilingual: character n-grams carry the stems of inflected languages. Only
training imports scikit-learn; tagging runs the fitted arrays (`linear.py`).
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

from monitor.tagging.linear import WORD_PATTERN, without_repeated_title

#: function words of the six languages, left out of the word features: in long
#: items their counts otherwise outweigh the few words that carry a topic. Words
#: that mean something in another language are left in ("war", "die", "was"), and so
#: are negations, which the frames need ("will not join").
STOP_WORDS = sorted(
    set(
        """
        a an and are as at be been being but by can could did do does for from had has have he her
        his i if in into is it its me my of on or our ours she so than that the their them then
        there these they this those to too us very was we were what when which while who will with
        would you your yours s t all also any each more most other some such own same just
        der das den dem des ein eine einer eines einem einen und ist sind zu im auf mit von für
        sich auch es an als bei nach wie wir ihr sie er aus um noch nur über vor durch
        dass oder wird werden hat haben sein seine ihre unser unsere
        le la les un une des du de et est sont en au aux pour par sur dans que qui plus se
        ce cette ces il elle ils nous vous leur leurs son sa ses notre nos avec mais ou été être
        i w z na do się to że jest o jak od po za co ten ta te tego przez dla oraz ale są był
        była było jego jej ich my wy on ona oni czy już tak także
        и в во на с со что как по к ко из за от до о об это то а но же ли бы у для при его ее её
        их мы вы он она они был была было были есть также уже так все всё этот эта эти этого
        і й в у на з із зі що як по до від за про це то а але же чи б би для при його її
        їх ми ви він вона вони був була було були є також вже так все всі цей ця ці цього
        """.split()
    )
)


def _vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    token_pattern=WORD_PATTERN,
                    stop_words=STOP_WORDS,
                    sublinear_tf=True,
                    min_df=1,
                    dtype=np.float32,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    preprocessor=without_repeated_title,
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


@dataclass(frozen=True)
class TextModel:
    """The fitted scikit-learn parts, before `LinearModel.from_text_model` keeps their arrays."""

    vectorizer: FeatureUnion
    topics: list[str]
    frames: list[str]
    topic_classifier: OneVsRestClassifier
    frame_classifier: OneVsRestClassifier


def fit_text_model(
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
    return TextModel(vectorizer, topics, frames, topic_classifier, frame_classifier)


def _targets(label_sets: Sequence[set[str]], labels: list[str]) -> np.ndarray[Any, Any]:
    matrix = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    for row, label_set in enumerate(label_sets):
        for column, label in enumerate(labels):
            matrix[row, column] = label in label_set
    return matrix
