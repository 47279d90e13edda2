"""Statistics behind the charts: Wilson intervals, shifts in a share, distinctive terms.

Pure functions on counts; nothing here touches the database.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the 97.5th percentile of the standard normal: a two-sided 95% interval
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval: sane near 0 and 1 and for small counts, unlike p ± z·se."""
    if trials <= 0:
        return (0.0, 0.0)
    low, high = wilson_arrays(np.array([successes]), np.array([trials]), z)
    return float(low[0]), float(high[0])


def wilson_arrays(
    successes: np.ndarray, trials: np.ndarray, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson bounds; periods with no trials get (0, 0)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    safe_n = np.where(n > 0, n, 1.0)
    p = k / safe_n
    denominator = 1 + z * z / safe_n
    centre = (p + z * z / (2 * safe_n)) / denominator
    half = z * np.sqrt(p * (1 - p) / safe_n + z * z / (4 * safe_n * safe_n)) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 0.0)
    return low, high


def with_shares(
    counts: pd.DataFrame, *, successes: str = "items", trials: str = "total"
) -> pd.DataFrame:
    """Add share, share_low and share_high columns (95% Wilson) to a counts table."""
    out = counts.copy()
    n = out[trials].to_numpy(dtype=float)
    k = out[successes].to_numpy(dtype=float)
    out["share"] = np.where(n > 0, k / np.where(n > 0, n, 1.0), 0.0)
    out["share_low"], out["share_high"] = wilson_arrays(k, n)
    return out


@dataclass(frozen=True)
class ChangePoint:
    """Where a share shifted: the first period of the new segment and the shares around it."""

    index: int
    before: float
    after: float

    @property
    def size(self) -> float:
        return self.after - self.before


def _binomial_cost(k: float, n: float) -> float:
    """Minus the binomial log-likelihood of a segment at its own best share."""
    if n <= 0 or k <= 0 or k >= n:
        return 0.0
    p = k / n
    return -(k * math.log(p) + (n - k) * math.log(1 - p))


def change_points(
    successes: Sequence[int],
    trials: Sequence[int],
    *,
    min_size: int = 3,
    threshold: float = 20.0,
    min_shift: float = 0.05,
    max_points: int = 5,
) -> list[ChangePoint]:
    """Binary segmentation of a share series under a binomial model.

    A segment is split where the likelihood-ratio statistic (2 × the gain in
    log-likelihood) is largest, if it exceeds `threshold` (20 ≈ p < 1e-5 for
    one split, conservative because every split point is tried), both parts
    span at least `min_size` periods, and the share moves by at least
    `min_shift` (large samples make tiny shifts significant, not interesting).
    The binomial cost weighs each period by its items, which a Gaussian model of
    the raw share (as in PELT on shares) would not.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if len(k) != len(n):
        raise ValueError("successes and trials differ in length")
    ck = np.concatenate([[0.0], np.cumsum(k)])
    cn = np.concatenate([[0.0], np.cumsum(n)])

    def seg(a: int, b: int) -> tuple[float, float]:
        return ck[b] - ck[a], cn[b] - cn[a]

    found: list[ChangePoint] = []
    pending = [(0, len(k))]
    while pending and len(found) < max_points:
        best: tuple[float, int, int, int] | None = None
        for a, b in pending:
            whole = _binomial_cost(*seg(a, b))
            for t in range(a + min_size, b - min_size + 1):
                (k1, n1), (k2, n2) = seg(a, t), seg(t, b)
                if n1 <= 0 or n2 <= 0 or abs(k2 / n2 - k1 / n1) < min_shift:
                    continue
                statistic = 2 * (whole - _binomial_cost(k1, n1) - _binomial_cost(k2, n2))
                if statistic > threshold and (best is None or statistic > best[0]):
                    best = (statistic, a, t, b)
        if best is None:
            break
        _stat, a, t, b = best
        pending.remove((a, b))
        pending += [(a, t), (t, b)]
        (k1, n1), (k2, n2) = seg(a, t), seg(t, b)
        found.append(ChangePoint(t, k1 / n1, k2 / n2))
    return sorted(found, key=lambda c: c.index)


_TOKEN = re.compile(r"[^\W\d_][^\W_]{2,}", re.UNICODE)
#: function words of the shipped languages; distinctive terms should be content words
STOP_WORDS = frozenset(
    """
    the and for that with this from are was were been have has had not but its their they them
    his her she him our ours you your which who whom what when where why how all any both each
    few more most other some such only own same than too very can will just should now also into
    over under after before about against between during through while would could said says
    there here then once out off again further these those being does did doing one two new
    amp nbsp quot
    що як на та для від про до не це його її які який також але щодо після під між
    что как на для от про до не это его ее которые который также но после под при
    der die das und mit von für auf den dem des ist sich nicht eine einer auch nach
    les des une dans pour par sur est pas qui que avec aux plus son ses leur été
    się nie jest oraz dla przez jak aby które który także po przy od między
    """.split()
)


def terms(text: str) -> list[str]:
    """Lower-cased words of three letters or more, minus function words."""
    return [w for w in (m.group().lower() for m in _TOKEN.finditer(text)) if w not in STOP_WORDS]


def term_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(terms(text))
    return counts


def log_odds_dirichlet(
    counts_a: Counter[str],
    counts_b: Counter[str],
    prior: Counter[str] | None = None,
    *,
    min_count: int = 3,
) -> pd.DataFrame:
    """Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008).

    delta_w = log((y_aw + α_w) / (n_a + α0 − y_aw − α_w))
              − log((y_bw + α_w) / (n_b + α0 − y_bw − α_w)),
    var ≈ 1/(y_aw + α_w) + 1/(y_bw + α_w), z = delta / √var. The prior α defaults
    to the pooled counts of both sides, which shrinks rare words towards zero so
    that they cannot top the list by chance. Positive z: typical of side A.
    """
    columns = ["term", "count_a", "count_b", "delta", "z"]
    pooled = counts_a + counts_b
    alpha = prior if prior is not None else pooled
    vocabulary = [w for w, c in pooled.items() if c >= min_count and alpha.get(w, 0) > 0]
    if not vocabulary:
        return pd.DataFrame(columns=columns)
    ya = np.array([counts_a.get(w, 0) for w in vocabulary], dtype=float)
    yb = np.array([counts_b.get(w, 0) for w in vocabulary], dtype=float)
    aw = np.array([alpha[w] for w in vocabulary], dtype=float)
    a0 = float(sum(alpha.values()))
    na, nb = float(sum(counts_a.values())), float(sum(counts_b.values()))
    delta = np.log((ya + aw) / (na + a0 - ya - aw)) - np.log((yb + aw) / (nb + a0 - yb - aw))
    z = delta / np.sqrt(1 / (ya + aw) + 1 / (yb + aw))
    table = pd.DataFrame(
        {
            "term": vocabulary,
            "count_a": ya.astype(int),
            "count_b": yb.astype(int),
            "delta": delta,
            "z": z,
        }
    )
    return table.sort_values("z", ascending=False, ignore_index=True)


def top_terms(table: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The n most distinctive terms of each side, labelled 'A' or 'B'."""
    if table.empty:
        return table.assign(side=pd.Series(dtype=str))
    a = table[table["z"] > 0].head(n).assign(side="A")
    b = table[table["z"] < 0].sort_values("z").head(n).assign(side="B")
    return pd.concat([a, b], ignore_index=True)
