"""Sub-themes among on-topic items: NMF over TF-IDF, with top terms and weekly counts.

Pure: texts in, themes out. Storing them is monitor.store.themes' job.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

#: function words of the other shipped languages that TF-IDF's max_df may not catch
_OTHER_STOP_WORDS = frozenset(
    {
        *"що як на та для від про до не це його її які який також але щодо після під між".split(),
        *"что как на для от про до не это его ее которые который также но после под при".split(),
        *"der die das und mit von für auf den dem des ist sich nicht eine einer auch nach".split(),
        *"les des une dans pour par sur est pas qui que avec aux plus son ses leur été".split(),
        *"się nie jest oraz dla przez jak aby które który także po przy od między".split(),
    }
)


@dataclass(frozen=True)
class ThemeDocument:
    item_id: int
    text: str
    published_at: datetime


@dataclass(frozen=True)
class FittedTheme:
    position: int
    top_terms: list[tuple[str, float]]
    items: int
    #: Monday of each ISO week -> items whose dominant theme this is
    weekly: dict[datetime, int]

    @property
    def label(self) -> str:
        return ", ".join(term for term, _w in self.top_terms[:4])


@dataclass(frozen=True)
class ThemeFit:
    fit_id: str
    themes: list[FittedTheme]
    #: (item id, theme position, weight) for every item with a dominant theme
    assignments: list[tuple[int, int, float]]


def week_start(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date()
    monday = day - timedelta(days=day.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def fit_themes(
    documents: Sequence[ThemeDocument], *, count: int, top_terms: int, seed: int
) -> ThemeFit:
    """Discover up to `count` themes; deterministic for the same documents and seed."""
    digest = hashlib.sha256(f"{count}:{top_terms}:{seed}".encode())
    for doc in documents:
        digest.update(f"{doc.item_id}\x1f{doc.text}\x1e".encode())
    fit_id = digest.hexdigest()[:16]
    if len(documents) < 2 * count or count < 1:
        count = max(1, len(documents) // 2)
    if len(documents) < 4:
        return ThemeFit(fit_id, [], [])
    # imported here: the worker and the web server never fit themes
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    vectorizer = TfidfVectorizer(
        token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
        stop_words=sorted(ENGLISH_STOP_WORDS | _OTHER_STOP_WORDS),
        max_df=0.4,
        min_df=2,
        ngram_range=(1, 2),
        sublinear_tf=True,
        max_features=50_000,
    )
    matrix = vectorizer.fit_transform([d.text for d in documents])
    if matrix.shape[1] < count:
        return ThemeFit(fit_id, [], [])
    model = NMF(n_components=count, init="nndsvd", random_state=seed, max_iter=400)
    weights = model.fit_transform(matrix)
    terms = vectorizer.get_feature_names_out()
    dominant = weights.argmax(axis=1)
    strength = weights.max(axis=1)
    assignments = [
        (doc.item_id, int(theme), round(float(weight), 6))
        for doc, theme, weight in zip(documents, dominant, strength, strict=True)
        if weight > 0
    ]
    weekly: dict[int, Counter[datetime]] = {k: Counter() for k in range(count)}
    for doc, theme, weight in zip(documents, dominant, strength, strict=True):
        if weight > 0:
            weekly[int(theme)][week_start(doc.published_at)] += 1
    themes = []
    for position, component in enumerate(model.components_):
        order = np.argsort(-component)[:top_terms]
        themes.append(
            FittedTheme(
                position=position,
                top_terms=[(str(terms[i]), round(float(component[i]), 4)) for i in order],
                items=sum(weekly[position].values()),
                weekly=dict(sorted(weekly[position].items())),
            )
        )
    return ThemeFit(fit_id, themes, assignments)
