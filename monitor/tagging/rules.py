"""Keyword rules: phrases, stems, proximity and exclusions, compiled once per language.

A phrase is words separated by spaces; a word ending in ``*`` matches any
continuation (``нейтралітет*`` matches нейтралітету, нейтралітетом …), so
inflected Slavic forms need one stem, not a list. Matching is case-insensitive
with word boundaries.

All phrases of a language (rule phrases, proximity partners and exclusions)
are compiled into one alternation and found in one left-to-right scan per
field: the matcher never loops over rules per item. At each position the
longest phrase wins, so an exclusion such as "carbon neutrality" consumes the
text before the bare "neutrality" of a topic rule can match it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: how much a match counts by where it was found
FIELD_WEIGHTS: Mapping[str, float] = {"title": 1.0, "summary": 0.8, "content": 0.6}
ANY_LANGUAGE = "*"
#: an exclusion this many words or fewer from a hit cancels it ("loan and credit guarantees")
EXCLUSION_WINDOW = 3
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    phrases: tuple[str, ...]
    language: str = ANY_LANGUAGE
    #: when set, a phrase must occur within `window` words of one of these
    near: tuple[str, ...] = ()
    window: int = 5
    #: phrases that, where they match, mean the text is about something else
    exclude: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class RuleHit:
    rule: str
    label: str
    text: str
    field: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class _Match:
    term: int
    start: int
    end: int
    word_start: int
    word_end: int


@dataclass
class _Language:
    pattern: re.Pattern[str] | None
    #: term index -> rules using it as a phrase / as a proximity partner / as an exclusion
    as_phrase: dict[int, list[Rule]] = field(default_factory=dict)
    as_near: dict[int, list[Rule]] = field(default_factory=dict)
    excluding: dict[int, list[Rule]] = field(default_factory=dict)


class RuleSet:
    """Rules compiled for fast matching; build once, match many items."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        languages = {r.language for r in rules if r.language != ANY_LANGUAGE}
        self._compiled = {lang: self._compile(lang) for lang in languages}
        self._fallback = self._compile(ANY_LANGUAGE)

    def _compile(self, language: str) -> _Language:
        chosen = [r for r in self.rules if r.language in (language, ANY_LANGUAGE)]
        terms: dict[str, int] = {}
        compiled = _Language(pattern=None)
        roles = (
            ("phrases", compiled.as_phrase),
            ("near", compiled.as_near),
            ("exclude", compiled.excluding),
        )
        for rule in chosen:
            for attr, index in roles:
                for phrase in getattr(rule, attr):
                    term = terms.setdefault(_normalise_phrase(phrase), len(terms))
                    index.setdefault(term, []).append(rule)
        if terms:
            # longest phrases first, so that at one position the longest one wins
            ordered = sorted(terms.items(), key=lambda kv: -len(kv[0]))
            alternation = "|".join(f"(?P<t{i}>{phrase_regex(p)})" for p, i in ordered)
            compiled.pattern = re.compile(alternation, re.IGNORECASE)
        return compiled

    def match(self, fields: Mapping[str, str], language: str | None) -> list[RuleHit]:
        """Every rule hit in the item's fields, with offsets into each field."""
        compiled = self._compiled.get(language or "", self._fallback)
        if compiled.pattern is None:
            return []
        hits: list[RuleHit] = []
        for field_name, text in fields.items():
            if text:
                hits.extend(_field_hits(compiled, field_name, text))
        return hits

    def scores(self, hits: Iterable[RuleHit]) -> dict[str, float]:
        """Per label, the strongest hit's score (rule weight × field weight, at most 1)."""
        best: dict[str, float] = defaultdict(float)
        for hit in hits:
            best[hit.label] = max(best[hit.label], hit.score)
        return dict(best)


def _field_hits(compiled: _Language, field_name: str, text: str) -> list[RuleHit]:
    assert compiled.pattern is not None
    word_starts = [m.start() for m in _WORD.finditer(text)]
    matches: list[_Match] = []
    for m in compiled.pattern.finditer(text):
        group = m.lastgroup
        if group is None:
            continue
        start, end = m.span()
        matches.append(
            _Match(
                int(group[1:]), start, end, _word_index(word_starts, start),
                _word_index(word_starts, end - 1),
            )
        )  # fmt: skip
    near_positions: dict[str, list[_Match]] = defaultdict(list)
    exclusions: dict[str, list[_Match]] = defaultdict(list)
    for match in matches:
        for rule in compiled.as_near.get(match.term, ()):
            near_positions[rule.id].append(match)
        for rule in compiled.excluding.get(match.term, ()):
            exclusions[rule.id].append(match)

    weight = FIELD_WEIGHTS.get(field_name, 0.5)
    hits = []
    for match in matches:
        for rule in compiled.as_phrase.get(match.term, ()):
            if _closest(match, exclusions.get(rule.id, []), EXCLUSION_WINDOW) is not None:
                continue
            start, end = match.start, match.end
            if rule.near:
                partner = _closest(match, near_positions.get(rule.id, []), rule.window)
                if partner is None:
                    continue
                start, end = min(start, partner.start), max(end, partner.end)
            hits.append(
                RuleHit(
                    rule=rule.id, label=rule.label, text=text[start:end], field=field_name,
                    start=start, end=end, score=min(1.0, rule.weight * weight),
                )
            )  # fmt: skip
    return hits


def _closest(match: _Match, partners: list[_Match], window: int) -> _Match | None:
    best, best_gap = None, window + 1
    for partner in partners:
        if partner.start == match.start:
            continue
        gap = max(partner.word_start - match.word_end, match.word_start - partner.word_end)
        if gap <= window and gap < best_gap:
            best, best_gap = partner, gap
    return best


def _word_index(word_starts: list[int], offset: int) -> int:
    lo, hi = 0, len(word_starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if word_starts[mid] <= offset:
            lo = mid + 1
        else:
            hi = mid
    return max(0, lo - 1)


def _normalise_phrase(phrase: str) -> str:
    return " ".join(phrase.split())


def phrase_regex(phrase: str) -> str:
    """Regex for one phrase: words joined by any run of spaces or dashes, bounded."""
    parts = []
    for word in phrase.split():
        stem = word.endswith("*")
        core = re.escape(word.rstrip("*"))
        parts.append(core + (r"\w*" if stem else ""))
    body = r"[\s\-–—]+".join(parts)
    return rf"(?<!\w){body}(?!\w)"
