"""The text classifiers: word and character n-gram TF-IDF into one-vs-rest logistic regression.

One model for topics, one for frames (trained on on-topic items only), both
multilingual: character n-grams carry the stems of inflected languages.
"""

from __future__ import annotations

import sys
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


def _interned(value: Any, done: dict[int, tuple[Any, Any]]) -> Any:
    """`value` with every string in it interned, so that equal strings are one object.

    `done` maps id(original) to (original, result): holding the original keeps its
    id from being reused by a temporary object.
    """
    if isinstance(value, str):
        return sys.intern(value)
    if id(value) in done:
        return done[id(value)][1]
    result = value
    if isinstance(value, dict):
        done[id(value)] = (value, value)
        items = [(_interned(k, done), _interned(v, done)) for k, v in value.items()]
        value.clear()
        value.update(items)
    elif isinstance(value, list):
        done[id(value)] = (value, value)
        value[:] = [_interned(v, done) for v in value]
    elif isinstance(value, tuple):
        result = tuple(_interned(v, done) for v in value)
    elif isinstance(value, np.ndarray) and value.dtype == object:
        for index, item in np.ndenumerate(value):
            value[index] = _interned(item, done)
    elif type(value).__module__.startswith(("sklearn.", "monitor.")) and hasattr(value, "__dict__"):
        done[id(value)] = (value, value)
        attributes = dict(vars(value))
        value.__dict__ = _interned(attributes, done)
    done[id(value)] = (value, result)
    return result


@dataclass
class TextModel:
    vectorizer: FeatureUnion
    topics: list[str]
    frames: list[str]
    topic_classifier: OneVsRestClassifier
    frame_classifier: OneVsRestClassifier
    feature_names: np.ndarray[Any, Any]

    def make_canonical(self) -> None:
        """Make the pickled bytes depend on the fitted model alone, not on the process.

        scikit-learn caches id(stop_words), a memory address, on every transform.
        And pickle writes a string once per object, so two equal strings are written
        once or twice depending on whether they happen to be one object — which
        depends on what the process did before (CPython shares attribute-name
        strings among instances of a class, including unpickled ones). Interning
        every string makes equal strings one object.
        """
        for _name, part in self.vectorizer.transformer_list:
            vars(part).pop("_stop_words_id", None)
        _interned(self, {})

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.vectorizer.transform(texts))

    def label_probabilities(
        self, features: sparse.csr_matrix, labels: Sequence[str]
    ) -> np.ndarray[Any, Any]:
        """One row per item, one column per label; 0 for a label the model never learned."""
        columns = np.zeros((features.shape[0], len(labels)))
        for classifier, known in (
            (self.topic_classifier, self.topics),
            (self.frame_classifier, self.frames),
        ):
            wanted = [(k, known.index(label)) for k, label in enumerate(labels) if label in known]
            if wanted and features.shape[0]:
                probabilities = classifier.predict_proba(features)
                for k, index in wanted:
                    columns[:, k] = probabilities[:, index]
        return columns

    def strongest_features(
        self, features: sparse.csr_matrix, row: int, label: str, k: int = 3
    ) -> list[tuple[str, float]]:
        """The item's features that pushed this label up most (weight × value)."""
        if label in self.topics:
            estimator = self.topic_classifier.estimators_[self.topics.index(label)]
        elif label in self.frames:
            estimator = self.frame_classifier.estimators_[self.frames.index(label)]
        else:
            return []
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
