"""Pure alert decisions: does an item match, did a volume spike, did a frame's share shift,
when is the next digest due. No database, no network: plain data in, a verdict out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.alerts.query import evaluate, parse_query, tokenize_text
from monitor.config import AlertRuleSettings


@dataclass(frozen=True)
class LabelScore:
    kind: str
    score: float
    is_positive: bool


@dataclass(frozen=True)
class Candidate:
    """What a match filter looks at, for one stored item."""

    item_id: int
    title: str
    text: str
    publisher: str
    source_type: str
    country: str
    language: str
    labels: Mapping[str, LabelScore] = field(default_factory=dict)


def matches(rule: AlertRuleSettings, item: Candidate) -> bool:
    """True when the item passes every filter the rule sets (unset filters pass)."""
    if rule.publishers and item.publisher.casefold() not in _folded(rule.publishers):
        return False
    if rule.source_types and item.source_type not in rule.source_types:
        return False
    if rule.countries and item.country.casefold() not in _folded(rule.countries):
        return False
    if rule.languages and item.language.casefold() not in _folded(rule.languages):
        return False
    for wanted in (rule.topics, rule.frames):
        if wanted and not any(_positive(item, label, rule.min_score) for label in wanted):
            return False
    if rule.query:
        tokens = tokenize_text(f"{item.title}\n{item.text}")
        if not evaluate(parse_query(rule.query), tokens):
            return False
    return True


def _positive(item: Candidate, label: str, min_score: float) -> bool:
    score = item.labels.get(label)
    return score is not None and score.is_positive and score.score >= min_score


def _folded(values: Sequence[str]) -> set[str]:
    return {v.casefold() for v in values}


@dataclass(frozen=True)
class Spike:
    latest: int
    mean: float
    sigma: float
    threshold: float


def detect_spike(baseline: Sequence[int], latest: int, *, k: float, min_count: int) -> Spike | None:
    """A spike when the latest count exceeds mean + k·σ of the baseline windows.

    σ is the sample standard deviation, but never below √mean (the Poisson
    spread) nor 1: a flat or near-empty baseline would otherwise make any
    wobble a spike.
    """
    if not baseline or latest < min_count:
        return None
    mean = sum(baseline) / len(baseline)
    variance = (
        sum((c - mean) ** 2 for c in baseline) / (len(baseline) - 1) if len(baseline) > 1 else 0.0
    )
    sigma = max(math.sqrt(variance), math.sqrt(mean), 1.0)
    threshold = mean + k * sigma
    if latest <= threshold:
        return None
    return Spike(latest=latest, mean=mean, sigma=sigma, threshold=threshold)


@dataclass(frozen=True)
class Shift:
    latest_share: float
    baseline_share: float
    z: float
    p_value: float

    @property
    def direction(self) -> str:
        return "rose" if self.latest_share > self.baseline_share else "fell"


def two_proportion_test(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p-value)."""
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 0.0, 1.0
    z = (hits_a / n_a - hits_b / n_b) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))


def detect_shift(
    latest_hits: int,
    latest_total: int,
    baseline_hits: int,
    baseline_total: int,
    *,
    p_value: float,
    min_items: int,
    direction: str = "both",
) -> Shift | None:
    """A shift when the frame's share differs from the baseline's at the p-value level.

    Both windows need `min_items` items: shares of a handful of items swing by
    chance far more than any threshold can absorb. With `direction` 'rise' or
    'fall' the test is one-sided: an editor who only cares about a frame growing
    gets more power at the same false-alarm rate, and no alert when it shrinks.
    """
    if latest_total < min_items or baseline_total < min_items:
        return None
    z, p = two_proportion_test(latest_hits, latest_total, baseline_hits, baseline_total)
    if direction != "both":
        if (z > 0) != (direction == "rise"):
            return None
        p /= 2
    if p >= p_value:
        return None
    return Shift(
        latest_share=latest_hits / latest_total,
        baseline_share=baseline_hits / baseline_total,
        z=z,
        p_value=p,
    )


#: the level a window still filling must reach. Each tick that sees a new item is
#: another look at the same window; at this level a dozen looks add under 0.1 points
#: to the false alarms of the final look at the closed window (a Haybittle–Peto boundary).
INTERIM_P_VALUE = 0.001


def shift_threshold(p_value: float, *, final: bool) -> float:
    """The level of one look at a window: the rule's once it has closed, stricter before."""
    return p_value if final else min(p_value, INTERIM_P_VALUE)


_STOPWORDS = frozenset(
    """
    the and for with from that this are was were has have had not but its into over about
    after before than then will would could should their there they them what when where
    which who why how new says said say also more most all any can may one two our your
    der die das und den dem des ein eine einer mit von für auf ist nicht sich zu im ins
    les des une pour dans sur par est pas qui que aux avec sont
    """.split()
)


def title_words(title: str) -> list[str]:
    return [
        w for w in tokenize_text(title) if len(w) >= 3 and w not in _STOPWORDS and not w.isdigit()
    ]


def distinctive_terms(
    latest_titles: Sequence[str], baseline_titles: Sequence[str], *, top: int = 5
) -> list[tuple[str, float]]:
    """Words most over-represented in the latest titles against the baseline's.

    Log-odds ratio with an informative Dirichlet prior (the two windows pooled),
    divided by its standard error, so that a word seen twice does not beat one
    seen twenty times (Monroe, Colaresi and Quinn, 2008).
    """
    latest = Counter(w for t in latest_titles for w in title_words(t))
    baseline = Counter(w for t in baseline_titles for w in title_words(t))
    pooled = latest + baseline
    if not latest or not pooled:
        return []
    n_latest, n_baseline, n_pooled = (
        sum(latest.values()),
        sum(baseline.values()),
        sum(pooled.values()),
    )
    prior_total = 10.0
    scored = []
    for word, count in latest.items():
        prior = prior_total * pooled[word] / n_pooled
        a, b = count + prior, baseline[word] + prior
        if a >= n_latest + prior_total or b >= n_baseline + prior_total:
            continue  # the whole vocabulary on a side: its odds are infinite, it tells nothing
        delta = math.log(a / (n_latest + prior_total - a)) - math.log(
            b / (n_baseline + prior_total - b)
        )
        scored.append((word, delta / math.sqrt(1 / a + 1 / b)))
    scored.sort(key=lambda ws: (-ws[1], ws[0]))
    return [(w, round(z, 2)) for w, z in scored[:top] if z > 0]


def window_start(now: datetime, window_hours: float) -> datetime:
    """Windows are aligned on multiples of their length since the epoch (UTC)."""
    seconds = window_hours * 3600
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    elapsed = (now - epoch).total_seconds()
    return epoch + timedelta(seconds=math.floor(elapsed / seconds) * seconds)


def window_bounds(now: datetime, window_hours: float, count: int) -> list[datetime]:
    """Starts of the `count` windows before the current one, then the current one's."""
    current = window_start(now, window_hours)
    step = timedelta(hours=window_hours)
    return [current - step * (count - i) for i in range(count + 1)]


def next_digest_at(rule: AlertRuleSettings, after: datetime) -> datetime:
    """When the rule's next digest is due, strictly after `after` (UTC)."""
    zone = ZoneInfo(rule.time_zone)
    local = after.astimezone(zone)
    if rule.delivery == "hourly":
        top = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return top.astimezone(UTC)
    hour, minute = (int(part) for part in rule.digest_time.split(":"))
    day = local.date()
    while True:
        # wall-clock time on that day; fold=0 picks the first of a repeated hour
        due = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if due > after:
            return due
        day += timedelta(days=1)


_SNIPPET_CONTEXT = 80


def snippet(text: str, start: int, end: int) -> str:
    """The words around an evidence span, with ellipses where text was cut."""
    if not text or start >= len(text):
        return ""
    lo, hi = max(0, start - _SNIPPET_CONTEXT), min(len(text), end + _SNIPPET_CONTEXT)
    part = re.sub(r"\s+", " ", text[lo:hi]).strip()
    return ("…" if lo > 0 else "") + part + ("…" if hi < len(text) else "")
