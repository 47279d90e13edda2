"""Train, calibrate, evaluate on the held-out test split, save and load the artifact.

The test split (by hash of the item id) is never used for fitting or for
calibration; analyst corrections join the fitting data only, never a score.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from monitor.config import TaggingSettings
from monitor.errors import InputError
from monitor.tagging.dataset import LabeledItem, data_hash, split_of
from monitor.tagging.evaluate import evaluate
from monitor.tagging.linear import LinearModel, model_text
from monitor.tagging.tagger import Matrix, Tagger, TagInput, combine, language_of

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_FILE = "tagger.npz"
METADATA_FILE = "metadata.json"
SEED = 13
_THRESHOLD_GRID = [round(0.1 + 0.05 * i, 2) for i in range(17)]  # 0.10 … 0.90
_TRUST_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Trained:
    tagger: Tagger
    model_bytes: bytes
    metadata: dict[str, Any]


def train_tagger(
    tagging: TaggingSettings,
    items: Sequence[LabeledItem],
    *,
    corrections: Sequence[LabeledItem] = (),
    seed: int = SEED,
    folds: int = 5,
) -> Trained:
    """Calibrate by cross-validation on the development items, fit on all of them, test.

    Rule trust and thresholds are chosen on out-of-fold predictions over the
    whole development split (train + validation), so every development item
    informs them while no model scores an item it was fitted on. The final
    model is then fitted on all development items (+ analyst corrections). The
    test split is used only for the reported scores.
    """
    development = [i for i in items if split_of(i.id) != "test"]
    test = [i for i in items if split_of(i.id) == "test"]
    if not development:
        raise InputError("no labeled items to train on")
    topics = [t.id for t in tagging.topics]
    frames = [f.id for f in tagging.frames]
    # the fits are small: BLAS and OpenMP worker threads cost more than they save,
    # many times over on a busy machine
    with threadpool_limits(limits=1):
        rule_scores, model_scores = _out_of_fold_scores(
            tagging, development, corrections, folds, seed
        )
        trust, thresholds = calibrate(rule_scores, model_scores, development, topics, frames)
        model = _fit(development + list(corrections), topics, frames, seed)
    model_bytes = model.to_bytes()
    model_id = hashlib.sha256(model_bytes).hexdigest()
    month = max((i.published for i in development if i.published), default="")[:7]
    tagger = Tagger(
        tagging,
        model,
        thresholds,
        rule_trust=trust,
        model_id=model_id,
        data_month=month.replace("-", "."),
    )
    metadata = {
        "tagger_version": tagger.version,
        "model_sha256": model_id,
        "seed": seed,
        "folds": folds,
        "training_data_sha256": data_hash(list(items) + list(corrections)),
        "items": {"development": len(development), "test": len(test)},
        "corrections": len(corrections),
        "thresholds": thresholds,
        "rule_trust": trust,
        "libraries": _library_versions(),
        "metrics": {
            "test": {
                "combined": score(tagger, test),
                "rules_only": score(Tagger(tagging), test),
            },
        },
    }
    return Trained(tagger=tagger, model_bytes=model_bytes, metadata=metadata)


def _fit(
    items: Sequence[LabeledItem], topics: list[str], frames: list[str], seed: int
) -> LinearModel:
    # imported here: a process that only loads and runs the tagger never needs scikit-learn
    from monitor.tagging.model import fit_text_model

    fitted = fit_text_model(
        [model_text(i.title, i.summary, i.content) for i in items],
        [set(i.topic_labels) for i in items],
        [set(i.frame_labels) for i in items],
        topics=topics,
        frames=frames,
        seed=seed,
    )
    return LinearModel.from_text_model(fitted)


def fold_of(item_id: str, folds: int) -> int:
    """A stable fold by hash (independent of the split's hash bits)."""
    return int(hashlib.sha256(f"fold:{item_id}".encode()).hexdigest()[:8], 16) % folds


def _out_of_fold_scores(
    tagging: TaggingSettings,
    development: list[LabeledItem],
    corrections: Sequence[LabeledItem],
    folds: int,
    seed: int,
) -> tuple[Matrix, Matrix]:
    """Rule scores and model probabilities of every development item, each
    probability from a model that never saw the item; columns are topics, then frames.

    Rules do not depend on the fold, so they are matched once; each fold's model
    scores its held-out items once, whatever rule trust is tried later.
    """
    rules_only = Tagger(tagging)
    inputs = [_input(item) for item in development]
    scores = rules_only.score(inputs, [language_of(i) for i in inputs])
    model_scores = np.zeros_like(scores.rule)
    assignment = np.array([fold_of(item.id, folds) for item in development])
    for fold in range(folds):
        held = np.flatnonzero(assignment == fold)
        fitted_on = [item for k, item in enumerate(development) if assignment[k] != fold]
        if not held.size or not fitted_on:
            continue
        model = _fit(
            fitted_on + list(corrections), rules_only.topic_ids, rules_only.frame_ids, seed
        )
        held_items = [development[k] for k in held]
        features = model.features([model_text(i.title, i.summary, i.content) for i in held_items])
        model_scores[held] = model.label_probabilities(features, rules_only.labels)
    return scores.rule, model_scores


def calibrate(
    rule_scores: Matrix,
    model_scores: Matrix,
    items: Sequence[LabeledItem],
    topics: list[str],
    frames: list[str],
) -> tuple[dict[str, float], dict[str, float]]:
    """Per label, the rule trust and threshold with the best F1 on these scores.

    Frames are judged on on-topic items only, where they apply. Ties go to more
    rule trust and to a threshold nearer 0.5.
    """
    on_topic = np.array([bool(item.topic_labels) for item in items])
    trusts: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    for column, label in enumerate(topics + frames):
        is_frame = label in frames
        rows = on_topic if is_frame else np.ones(len(items), dtype=bool)
        gold = np.array(
            [label in (item.frame_labels if is_frame else item.topic_labels) for item in items]
        )[rows]
        if not gold.any():
            continue
        candidates = []
        for trust in _TRUST_GRID:
            combined = combine(rule_scores[rows, column], model_scores[rows, column], trust)
            candidates += [
                (_f1(combined, gold, t), trust, -abs(t - 0.5), t) for t in _THRESHOLD_GRID
            ]
        best = max(candidates)
        trusts[label], thresholds[label] = best[1], best[3]
    return trusts, thresholds


def _f1(scores: Matrix, gold: Matrix, threshold: float) -> float:
    predicted = scores >= threshold
    tp = int(np.sum(predicted & gold))
    fp = int(np.sum(predicted & ~gold))
    fn = int(np.sum(~predicted & gold))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def score(tagger: Tagger, items: Sequence[LabeledItem]) -> dict[str, Any]:
    results = tagger.tag_many([_input(i) for i in items])
    return evaluate(
        tagger.topic_ids,
        tagger.frame_ids,
        [(i.language, set(i.topic_labels), set(i.frame_labels)) for i in items],
        [(set(r.topic_labels), set(r.frame_labels)) for r in results],
    )


def _input(item: LabeledItem) -> TagInput:
    return TagInput(item.title, item.summary, item.content, item.language)


def _library_versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def save_artifact(trained: Trained, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(trained.model_bytes)
    (directory / METADATA_FILE).write_text(
        json.dumps(trained.metadata, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def load_tagger(tagging: TaggingSettings, directory: Path | None = None) -> Tagger:
    """The trained tagger, or rules alone when no artifact exists yet."""
    directory = directory or (Path(tagging.model_dir) if tagging.model_dir else MODEL_DIR)
    model_path = directory / MODEL_FILE
    if not model_path.exists():
        return Tagger(tagging)
    model_bytes = model_path.read_bytes()
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    return Tagger(
        tagging,
        LinearModel.from_bytes(model_bytes),
        {k: float(v) for k, v in metadata["thresholds"].items()},
        rule_trust={k: float(v) for k, v in metadata.get("rule_trust", {}).items()},
        model_id=hashlib.sha256(model_bytes).hexdigest(),
        data_month=str(metadata["tagger_version"]).split("-")[0],
    )
