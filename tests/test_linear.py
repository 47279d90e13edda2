"""The tagger's NumPy model against the scikit-learn objects it was compiled from."""

import ast
import subprocess
import sys

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from monitor.config import load_settings
from monitor.tagging.dataset import load_labeled
from monitor.tagging.linear import LinearModel, _KeyTable, model_text
from monitor.tagging.model import TextModel, fit_text_model
from tests.conftest import REPO

SETTINGS = load_settings(REPO / "config.toml")

#: texts that reach the edges of the character n-gram counting
EDGES = [
    "",
    "a",
    "x. x. y",
    "Title. Title. a b c I à",
    "tabs\tand\nnew  lines\r\nand\u00a0no-break\u2003spaces",
    "emoji 😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 beside НАТО і нейтралітет",
    "a lone surrogate \ud800 and a NUL \x00 inside",
    "Ü Ö ß ﬁ İstanbul ΣΊΣΥΦΟΣ",
]


@pytest.fixture(scope="module")
def fitted():
    items = [i for i in load_labeled() if i.language in ("en", "uk")]
    topics = [t.id for t in SETTINGS.tagging.topics]
    frames = [f.id for f in SETTINGS.tagging.frames]
    texts = [model_text(i.title, i.summary, i.content) for i in items]
    model = fit_text_model(
        texts,
        [set(i.topic_labels) for i in items],
        [set(i.frame_labels) for i in items],
        topics=topics,
        frames=[*frames, "never_seen"],  # a label without examples: a constant answer
        seed=13,
    )
    other = [model_text(i.title, i.summary, i.content) for i in load_labeled() if i not in items]
    return model, texts + other + EDGES + [t * 7 for t in texts[:40]]


def _scikit_learn(model: TextModel, texts):
    features = sparse.csr_matrix(model.vectorizer.transform(texts))
    probabilities = np.hstack(
        [
            model.topic_classifier.predict_proba(features),
            model.frame_classifier.predict_proba(features),
        ]
    )
    return features, probabilities


def test_features_and_probabilities_equal_scikit_learn_on_every_labeled_item(fitted):
    model, texts = fitted
    linear = LinearModel.from_bytes(LinearModel.from_text_model(model).to_bytes())
    expected_features, expected = _scikit_learn(model, texts)
    features = linear.features(texts)
    assert len(features) == len(texts)
    for row in range(len(texts)):
        start, end = expected_features.indptr[row], expected_features.indptr[row + 1]
        columns, values = features.row(row)
        assert columns.tolist() == expected_features.indices[start:end].tolist(), texts[row]
        np.testing.assert_allclose(values, expected_features.data[start:end], rtol=1e-6)
    probabilities = linear.label_probabilities(features, linear.labels)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)
    assert set(probabilities[:, linear.labels.index("never_seen")]) == {0.0}
    names = [linear.feature_name(column) for column in range(linear.weights.shape[0])]
    assert names == list(model.vectorizer.get_feature_names_out())


def test_strongest_features_are_the_largest_weight_times_value_of_the_fitted_classifier(fitted):
    model, _ = fitted
    linear = LinearModel.from_text_model(model)
    text = model_text("Ukraine will join NATO", "Allies say the door to NATO membership is open.")
    expected_features, _ = _scikit_learn(model, [text])
    estimator = model.topic_classifier.estimators_[model.topics.index("nato_membership")]
    contributions = expected_features.data * estimator.coef_[0][expected_features.indices]
    names = model.vectorizer.get_feature_names_out()
    top = np.argsort(-contributions)[:3]
    strongest = linear.strongest_features(linear.features([text]), 0, "nato_membership")
    assert [name for name, _ in strongest] == [names[expected_features.indices[k]] for k in top]
    expected_weights = [round(float(contributions[k]), 4) for k in top]
    np.testing.assert_allclose([w for _, w in strongest], expected_weights, atol=1e-4)
    features = linear.features([text])
    assert linear.strongest_features(features, 0, "never_seen") == []
    assert linear.strongest_features(features, 0, "no_such_label") == []


def test_the_artifact_is_the_same_bytes_for_the_same_model(fitted):
    model, _ = fitted
    first = LinearModel.from_text_model(model).to_bytes()
    again = LinearModel.from_bytes(first).to_bytes()
    assert again == first == LinearModel.from_text_model(model).to_bytes()


def test_a_vectoriser_the_compiled_form_does_not_compute_is_refused(fitted):
    model, _ = fitted
    name, char = model.vectorizer.transformer_list[1]
    other = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(["some text"])
    model.vectorizer.transformer_list[1] = (name, other)
    try:
        with pytest.raises(ValueError, match="ngram_range"):
            LinearModel.from_text_model(model)
    finally:
        model.vectorizer.transformer_list[1] = (name, char)


def test_a_process_that_runs_the_worker_and_tags_imports_no_training_web_or_migration_code():
    script = (
        "import sys, monitor.cli, monitor.pipeline\n"
        "from monitor.config import load_settings\n"
        "from monitor.errors import StoreError\n"
        "from monitor.store.session import make_engine, require_current\n"
        "try:\n"
        "    require_current(make_engine('sqlite://'))\n"  # what `monitor run` checks first
        "except StoreError:\n"
        "    pass\n"
        "from monitor.tagging.tagger import TagInput\n"
        "from monitor.tagging.train import load_tagger\n"
        "tagger = load_tagger(load_settings().tagging)\n"
        "assert tagger.model is not None\n"
        "tagger.tag_many([TagInput('Ukraine will join NATO', language='en')])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(ast.literal_eval(result.stdout))
    assert not loaded & {
        "sklearn",
        "scipy",
        "joblib",
        "pandas",
        "pyarrow",
        "dash",
        "plotly",
        "alembic",
        "mako",
    }


def test_an_alphabet_the_packed_keys_cannot_hold_is_refused(fitted, monkeypatch):
    model, _ = fitted
    monkeypatch.setattr("monitor.tagging.linear._SHORT", 10)  # keys hold ranks below this
    with pytest.raises(ValueError, match="too many"):
        LinearModel.from_text_model(model)


def test_the_key_table_finds_every_key_through_its_collisions_and_no_other_key():
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 2**63, size=5000, dtype=np.uint64))
    table = _KeyTable(keys, np.arange(len(keys)))
    # at up to half full, many keys land on a taken slot and are found further on
    assert (table.columns_of(keys) == np.arange(len(keys))).all()
    others = rng.integers(1, 2**63, size=5000, dtype=np.uint64)
    assert (table.columns_of(others[~np.isin(others, keys)]) == -1).all()
