"""The trained text model as the tagger runs it: arrays and a vocabulary, no scikit-learn.

Training fits scikit-learn's TF-IDF vectorisers and one-vs-rest logistic
regressions (`model.py`); `LinearModel.from_text_model` keeps what prediction
needs — the vocabularies, the idf weights, the coefficients — and computes the
same probabilities from them. Two reasons: a process that tags then never imports
scikit-learn and SciPy (about 200 MB in each process that holds the tagger), and
the character 4-grams, the costly features, are counted by NumPy instead of a
Python loop over every slice of the text. The artifact is an `.npz` of plain
arrays, which loads without unpickling code.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: characters of article text the model reads beyond title and summary
CONTENT_CHARS = 2000

#: how the word features split text (scikit-learn's `token_pattern` for them)
WORD_PATTERN = r"(?u)\b\w+\b"
_WORDS = re.compile(WORD_PATTERN)

#: the only character n-gram length the compiled form counts (scikit-learn's
#: `char_wb` analyser: each whitespace-separated word padded with one space)
CHAR_N = 4

#: a packed key's fourth slot for the 3-character gram of a one-letter word
_SHORT = 0xFFFF

Array = np.ndarray[Any, Any]


def model_text(title: str, summary: str, content: str = "") -> str:
    """What the model reads: the title twice (it carries the most), then the rest."""
    return f"{title}. {title}. {summary} {content[:CONTENT_CHARS]}".strip()


def without_repeated_title(text: str) -> str:
    """Character n-grams read the title once: they are the costly features."""
    return text.partition(". ")[2].lower()


@dataclass(frozen=True)
class Features:
    """A batch's feature rows, sparse: row r holds `columns[indptr[r]:indptr[r + 1]]`."""

    indptr: Array
    columns: Array
    values: Array

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, r: int) -> tuple[Array, Array]:
        start, end = self.indptr[r], self.indptr[r + 1]
        return self.columns[start:end], self.values[start:end]


@dataclass
class LinearModel:
    topics: list[str]
    frames: list[str]
    #: word and word-pair features, in column order (columns 0 … len-1)
    word_terms: list[str]
    word_idf: Array
    stop_words: frozenset[str]
    #: every character in the character features, sorted; a gram's packed key
    #: holds each character's rank in it (1-based), 16 bits per character
    alphabet: Array
    #: packed keys of the character 4-grams, sorted, and the column of each
    char_keys: Array
    char_columns: Array
    #: idf of every column after the word columns
    char_idf: Array
    #: one row per feature column, one column per label (topics, then frames);
    #: float32, like the features
    weights: Array
    intercepts: Array
    #: per label, the probability of a label fitted without a positive example
    #: (scikit-learn's constant predictor), NaN for a fitted one
    constants: Array
    _word_columns: dict[str, int] = field(init=False, repr=False)
    #: each code point's rank, up to the alphabet's last; one more slot, 0, for all above
    _rank_of: Array = field(init=False, repr=False)
    _gram_table: _KeyTable = field(init=False, repr=False)
    #: for each character column (counted from the first), where its key is in char_keys
    _key_index_of_column: Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._word_columns = {term: k for k, term in enumerate(self.word_terms)}
        self._gram_table = _KeyTable(self.char_keys, self.char_columns)
        self._key_index_of_column = np.argsort(self.char_columns, kind="stable")
        top = int(self.alphabet.max()) if len(self.alphabet) else 0
        self._rank_of = np.zeros(top + 2, dtype=np.uint64)
        self._rank_of[self.alphabet] = np.arange(1, len(self.alphabet) + 1, dtype=np.uint64)

    @property
    def labels(self) -> list[str]:
        return self.topics + self.frames

    # -- prediction --------------------------------------------------------

    def features(self, texts: Sequence[str]) -> Features:
        """Both vectorisers' L2-normalised TF-IDF rows, side by side, for a batch at once."""
        rows, columns, counts = self._word_counts(texts)
        word_values = _tf_idf(rows, counts, self.word_idf[columns], len(texts))
        char_rows, char_columns, char_counts = self._char_counts(
            [without_repeated_title(text) for text in texts]
        )
        char_values = _tf_idf(char_rows, char_counts, self.char_idf[char_columns], len(texts))
        all_rows = np.concatenate([rows, char_rows])
        order = np.argsort(all_rows, kind="stable")  # each row: words, then characters
        return Features(
            indptr=np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=len(texts)))]),
            columns=np.concatenate([columns, char_columns + len(self.word_terms)])[order],
            values=np.concatenate([word_values, char_values])[order],
        )

    def _word_counts(self, texts: Sequence[str]) -> tuple[Array, Array, Array]:
        """Words and word pairs after the stop words are left out, as (row, column, count)."""
        lookup, stop_words = self._word_columns, self.stop_words
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        for row, text in enumerate(texts):
            words = [w for w in _WORDS.findall(text.lower()) if w not in stop_words]
            pairs = [f"{a} {b}" for a, b in itertools.pairwise(words)]
            found = Counter(lookup[t] for t in words + pairs if t in lookup)
            rows.extend([row] * len(found))
            columns.extend(sorted(found))
            counts.extend(found[c] for c in columns[len(columns) - len(found) :])
        return (
            np.array(rows, dtype=np.int64),
            np.array(columns, dtype=np.int64),
            np.array(counts, dtype=np.float32),
        )

    def _char_counts(self, texts: Sequence[str]) -> tuple[Array, Array, Array]:
        """Character 4-grams of every space-padded word, as (row, column, count).

        Each text's words are joined as " w1  w2  w3 ", and the texts one after the
        other: a window of four characters lies inside one padded word unless it
        holds two spaces in a row. A one-letter word's only gram is " x ".
        """
        words_of = [text.split() for text in texts]
        joined = [(" " + "  ".join(words) + " ") if words else "" for words in words_of]
        starts = np.cumsum([0] + [len(text) for text in joined])
        points = np.frombuffer(
            "".join(joined).encode("utf-32-le", "surrogatepass"), dtype=np.uint32
        )
        ranks = self._ranks(points)
        keys, rows = [np.zeros(0, dtype=np.uint64)], [np.zeros(0, dtype=np.int64)]
        if len(points) >= CHAR_N:
            space = points == 32
            double = space[:-1] & space[1:]
            across = double[:-2] | double[1:-1] | double[2:]
            parts = [ranks[k : len(ranks) - CHAR_N + 1 + k] for k in range(CHAR_N)]
            inside = ~across & (parts[0] > 0) & (parts[1] > 0) & (parts[2] > 0) & (parts[3] > 0)
            keys.append(_pack(*(p[inside] for p in parts)))
            rows.append(np.searchsorted(starts, np.flatnonzero(inside), side="right") - 1)
        single = [(row, ord(w)) for row, words in enumerate(words_of) for w in words if len(w) == 1]
        if single:
            letters = self._ranks(np.array([p for _, p in single], dtype=np.uint32))
            known = letters > 0
            pad = np.full(int(known.sum()), self._ranks(np.array([32], dtype=np.uint32))[0])
            keys.append(_pack(pad, letters[known], pad, np.full(len(pad), _SHORT, dtype=np.uint64)))
            rows.append(np.array([row for row, _ in single], dtype=np.int64)[known])
        all_keys, all_rows = np.concatenate(keys), np.concatenate(rows)
        columns = self._gram_table.columns_of(all_keys)
        known = columns >= 0
        width = len(self.char_keys)
        cells, counts = np.unique(all_rows[known] * width + columns[known], return_counts=True)
        return cells // width, cells % width, counts.astype(np.float32)

    def _ranks(self, points: Array) -> Array:
        """Each code point's 1-based rank in the alphabet, 0 for one not in it."""
        ranks: Array = self._rank_of[np.minimum(points, len(self._rank_of) - 1)]
        return ranks

    def label_probabilities(self, features: Features, labels: Sequence[str]) -> Array:
        """One row per item, one column per label; 0 for a label the model never learned."""
        scores = np.zeros((len(features), len(self.labels)))
        for r in range(len(features)):
            columns, values = features.row(r)
            scores[r] = values.astype(np.float64) @ self.weights[columns]
        probabilities = 1 / (1 + np.exp(-(scores + self.intercepts.astype(np.float64))))
        fixed = ~np.isnan(self.constants)
        probabilities[:, fixed] = self.constants[fixed]
        own = {label: k for k, label in enumerate(self.labels)}
        wanted = np.zeros((len(features), len(labels)))
        for k, label in enumerate(labels):
            if label in own:
                wanted[:, k] = probabilities[:, own[label]]
        return wanted

    def strongest_features(
        self, features: Features, row: int, label: str, k: int = 3
    ) -> list[tuple[str, float]]:
        """The item's features that pushed this label up most (weight × value)."""
        if label not in self.labels:
            return []
        index = self.labels.index(label)
        if not np.isnan(self.constants[index]):
            return []
        columns, values = features.row(row)
        contributions = values * self.weights[columns, index]
        order = np.argsort(-contributions, kind="stable")[:k]
        return [
            (self.feature_name(int(columns[i])), round(float(contributions[i]), 4))
            for i in order
            if contributions[i] > 0
        ]

    def feature_name(self, column: int) -> str:
        """A column's feature as scikit-learn names it: "word__…" or "char__…".

        Named one at a time, as explanations need them: the 61,000 names at once
        would take each process that tags 5 MiB.
        """
        if column < len(self.word_terms):
            return f"word__{self.word_terms[column]}"
        key = int(self.char_keys[self._key_index_of_column[column - len(self.word_terms)]])
        slots = [(key >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]
        return "char__" + "".join(chr(self.alphabet[s - 1]) for s in slots if s != _SHORT)

    # -- the artifact ------------------------------------------------------

    def to_bytes(self) -> bytes:
        """An `.npz` whose bytes depend on the model alone (fixed member order and dates)."""
        meta = {"topics": self.topics, "frames": self.frames, "stop_words": sorted(self.stop_words)}
        arrays = {
            "meta": _text_array(json.dumps(meta, ensure_ascii=False, sort_keys=True)),
            "word_terms": _text_array("\n".join(self.word_terms)),
            "word_idf": self.word_idf,
            "alphabet": self.alphabet,
            "char_keys": self.char_keys,
            "char_columns": self.char_columns,
            "char_idf": self.char_idf,
            "weights": self.weights,
            "intercepts": self.intercepts,
            "constants": self.constants,
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                member = io.BytesIO()
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, member.getvalue(), compresslevel=9)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        terms = arrays.pop("word_terms").tobytes().decode("utf-8")
        return cls(
            topics=meta["topics"],
            frames=meta["frames"],
            word_terms=terms.split("\n") if terms else [],
            stop_words=frozenset(meta["stop_words"]),
            **arrays,
        )

    @classmethod
    def from_text_model(cls, model: Any) -> LinearModel:
        """The prediction-time arrays of a fitted `model.TextModel`.

        Refuses a vectoriser or classifier configured otherwise than this module
        computes, so that a change in `model.py` cannot silently change scores.
        """
        (_, word), (_, char) = model.vectorizer.transformer_list
        _require(word, analyzer="word", ngram_range=(1, 2), token_pattern=WORD_PATTERN,
                 lowercase=True, strip_accents=None, sublinear_tf=True, norm="l2", use_idf=True,
                 tokenizer=None, preprocessor=None)  # fmt: skip
        _require(char, analyzer="char_wb", ngram_range=(CHAR_N, CHAR_N), sublinear_tf=True,
                 norm="l2", use_idf=True, preprocessor=without_repeated_title)  # fmt: skip
        words = sorted(word.vocabulary_.items(), key=lambda pair: pair[1])
        grams = sorted(char.vocabulary_.items(), key=lambda pair: pair[1])
        alphabet = np.array(sorted({ord(c) for gram, _ in grams for c in gram}), dtype=np.uint32)
        if len(alphabet) >= _SHORT:
            raise ValueError(f"{len(alphabet)} characters in the character features: too many")
        rank = {c: k + 1 for k, c in enumerate(alphabet.tolist())}
        packed = []
        for gram, column in grams:
            slots = [rank[ord(c)] for c in gram]
            if len(gram) == CHAR_N - 1 and gram[0] == gram[2] == " ":
                slots.append(_SHORT)
            if len(slots) != CHAR_N:
                raise ValueError(f"unexpected character feature {gram!r}")
            key = (slots[0] << 48) | (slots[1] << 32) | (slots[2] << 16) | slots[3]
            packed.append((key, column))
        packed.sort()
        estimators = [*model.topic_classifier.estimators_, *model.frame_classifier.estimators_]
        width = len(words) + len(grams)
        # float32: the fit's last bits follow memory alignment inside BLAS (about 1e-15
        # apart from one process to the next); rounded, the artifact is the same bytes
        weights = np.zeros((width, len(estimators)), dtype=np.float32)
        intercepts = np.zeros(len(estimators), dtype=np.float32)
        constants = np.full(len(estimators), np.nan)
        for k, estimator in enumerate(estimators):
            if hasattr(estimator, "coef_"):
                _require(estimator, solver="liblinear", fit_intercept=True)
                weights[:, k] = estimator.coef_[0]
                intercepts[k] = estimator.intercept_[0]
            else:  # a label seen without positive examples: its fixed answer
                constants[k] = float(np.ravel(estimator.y_)[0])
        if not (model.topic_classifier.multilabel_ and model.frame_classifier.multilabel_):
            raise ValueError("the classifiers must be multi-label one-vs-rest")
        return cls(
            topics=list(model.topics),
            frames=list(model.frames),
            word_terms=[term for term, _ in words],
            word_idf=np.asarray(word.idf_, dtype=np.float32),
            stop_words=frozenset(word.get_stop_words() or ()),
            alphabet=alphabet,
            char_keys=np.array([key for key, _ in packed], dtype=np.uint64),
            char_columns=np.array([column for _, column in packed], dtype=np.int64),
            char_idf=np.asarray(char.idf_, dtype=np.float32),
            weights=weights,
            intercepts=intercepts,
            constants=constants,
        )


class _KeyTable:
    """The column of each packed n-gram key: an open-addressing hash table looked up for a
    whole batch of keys at once (a binary search took more than twice as long)."""

    _SPREAD = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits mix all bits

    def __init__(self, keys: Array, columns: Array) -> None:
        bits = max(4, (2 * len(keys) - 1).bit_length())  # at most half full
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._keys = np.zeros(1 << bits, dtype=np.uint64)  # 0 is no key: ranks start at 1
        self._columns = np.full(1 << bits, -1, dtype=np.int64)
        slots = self._slots(keys).tolist()
        for key, column, slot in zip(keys.tolist(), columns.tolist(), slots, strict=True):
            while self._keys[slot]:
                slot = (slot + 1) & self._mask
            self._keys[slot], self._columns[slot] = key, column

    def _slots(self, keys: Array) -> Array:
        slots: Array = ((keys * self._SPREAD) >> self._shift).astype(np.int64)
        return slots

    def columns_of(self, keys: Array) -> Array:
        """Each key's column, -1 for a key not in the table."""
        columns = np.full(len(keys), -1, dtype=np.int64)
        slots = self._slots(keys)
        pending = np.arange(len(keys))
        while len(pending):
            at = slots[pending]
            found = self._keys[at]
            hit = found == keys[pending]
            columns[pending[hit]] = self._columns[at[hit]]
            pending = pending[~hit & (found != 0)]  # a slot taken by another key: look on
            slots[pending] = (slots[pending] + 1) & self._mask
        return columns


def _tf_idf(rows: Array, counts: Array, idf: Array, n_rows: int) -> Array:
    """scikit-learn's sublinear tf × idf, each row L2-normalised, in its float32 arithmetic."""
    values: Array = (np.log(counts) + np.float32(1)) * idf
    squares = (values * values).astype(np.float64)
    norms = np.sqrt(np.bincount(rows, weights=squares, minlength=n_rows))
    norms[norms == 0] = 1
    normalised: Array = (values / norms[rows]).astype(np.float32)
    return normalised


def _pack(a: Array, b: Array, c: Array, d: Array) -> Array:
    packed: Array = (a << np.uint64(48)) | (b << np.uint64(32)) | (c << np.uint64(16)) | d
    return packed


def _text_array(text: str) -> Array:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _require(estimator: Any, **expected: Any) -> None:
    params = estimator.get_params()
    for name, value in expected.items():
        if params.get(name) != value:
            found = params.get(name)
            raise ValueError(f"{type(estimator).__name__}.{name} is {found!r}, not {value!r}")
