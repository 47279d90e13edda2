"""Keyword rules: phrases, stems, proximity and exclusions, compiled once per language.

A phrase is words separated by spaces; a word ending in ``*`` matches any
continuation (``нейтралітет*`` matches нейтралітету, нейтралітетом …), so
inflected Slavic forms need one stem, not a list. Matching is case-insensitive
with word boundaries.

All phrases of a language (rule phrases, proximity partners and exclusions)
are compiled into one index keyed by their first word (exact words in a dict,
stems by prefix), and each field is read in one left-to-right pass over its
words: the matcher never loops over rules or phrases per item. Every phrase
starting at a word counts, and the longest consumes its words, so an exclusion
such as "carbon neutrality" hides the bare "neutrality" of a topic rule, while a
frame's "irreversible" still counts inside a topic's "irreversible path".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

#: how much a match counts by where it was found
FIELD_WEIGHTS: Mapping[str, float] = {"title": 1.0, "summary": 0.8, "content": 0.6}
ANY_LANGUAGE = "*"
#: an exclusion this many words or fewer from a hit cancels it ("loan and credit guarantees")
EXCLUSION_WINDOW = 3
_WORD = re.compile(r"\w+")
_WORD_SPLIT = re.compile(r"(\w+)")
_FLEXIBLE_GAP = re.compile(r"[\s\-–—]+")
#: bounds the per-language word cache of the matcher: about 120 bytes a word, so at
#: most ~6 MiB per language in every process that tags (the worker, each parse process)
_MAX_CACHED_WORDS = 50_000


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


@dataclass(frozen=True)
class _Phrase:
    term: int
    #: casefolded words; a stem matches any word it begins
    tokens: tuple[str, ...]
    stems: tuple[bool, ...]
    #: what may stand between token i and i+1
    gaps: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class _Start:
    """The phrases that may start at a word, and what the next word must be for one of them.

    Many phrases start with common words ("in", "not", "the"); the next word rules
    most of them out before any phrase is matched."""

    phrases: tuple[_Phrase, ...]
    #: a one-word phrase starts here: any next word (or none) will do
    any_next: bool
    #: exact second words, and second-word stems, of the longer phrases
    next_words: frozenset[str]
    next_stems: tuple[str, ...]

    def may_start(self, next_word: str | None) -> bool:
        if self.any_next:
            return True
        if next_word is None:
            return False
        return next_word in self.next_words or next_word.startswith(self.next_stems)


_NO_START = _Start((), False, frozenset(), ())


@dataclass
class _Language:
    exact: dict[str, list[_Phrase]] = field(default_factory=dict)
    by_stem: dict[str, list[_Phrase]] = field(default_factory=dict)
    stem_lengths: tuple[int, ...] = ()
    #: term index -> rules using it as a phrase / as a proximity partner / as an exclusion
    as_phrase: dict[int, list[Rule]] = field(default_factory=dict)
    as_near: dict[int, list[Rule]] = field(default_factory=dict)
    excluding: dict[int, list[Rule]] = field(default_factory=dict)
    #: word -> phrases that may start at it; feed vocabulary repeats, so most words hit
    starting_at: dict[str, _Start] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.exact or self.by_stem)


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
        compiled = _Language()
        roles = (
            ("phrases", compiled.as_phrase),
            ("near", compiled.as_near),
            ("exclude", compiled.excluding),
        )
        for rule in chosen:
            for attr, index in roles:
                for phrase in getattr(rule, attr):
                    text = _normalise_phrase(phrase)
                    if text not in terms:
                        terms[text] = len(terms)
                        parsed = _parse_phrase(terms[text], text)
                        if parsed is not None:
                            first = compiled.by_stem if parsed.stems[0] else compiled.exact
                            first.setdefault(parsed.tokens[0], []).append(parsed)
                    index.setdefault(terms[text], []).append(rule)
        compiled.stem_lengths = tuple(sorted({len(stem) for stem in compiled.by_stem}))
        return compiled

    def match(self, fields: Mapping[str, str], language: str | None) -> list[RuleHit]:
        """Every rule hit in the item's fields, with offsets into each field."""
        compiled = self._compiled.get(language or "", self._fallback)
        if compiled.empty:
            return []
        hits: list[RuleHit] = []
        # a feed's summary is often its content again: the same text is scanned once
        scanned: dict[str, list[_Match]] = {}
        for field_name, text in fields.items():
            if text:
                matches = scanned.get(text)
                if matches is None:
                    matches = scanned[text] = _scan(compiled, text)
                hits.extend(_field_hits(compiled, field_name, text, matches))
        return hits

    def scores(self, hits: Iterable[RuleHit]) -> dict[str, float]:
        """Per label, the strongest hit's score (rule weight × field weight, at most 1)."""
        best: dict[str, float] = defaultdict(float)
        for hit in hits:
            best[hit.label] = max(best[hit.label], hit.score)
        return dict(best)


def _field_hits(
    compiled: _Language, field_name: str, text: str, matches: list[_Match]
) -> list[RuleHit]:
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
        if partner is match:
            continue
        gap = max(partner.word_start - match.word_end, match.word_start - partner.word_end)
        if gap <= window and gap < best_gap:
            best, best_gap = partner, gap
    return best


def _normalise_phrase(phrase: str) -> str:
    return " ".join(phrase.split())


def _parse_phrase(term: int, phrase: str) -> _Phrase | None:
    """Words → tokens; punctuation inside or around a word must appear as written
    ("Art. 5", "Alliance's"), while spaces and dashes between words may be any run."""
    tokens: list[str] = []
    stems: list[bool] = []
    gaps: list[re.Pattern[str]] = []
    pending = ""  # the previous word's trailing punctuation
    for word in phrase.split():
        stem = word.endswith("*")
        core = word[:-1] if stem else word
        parts = list(_WORD.finditer(core))
        if not parts:
            pending += core
            continue
        leading = core[: parts[0].start()]
        if tokens:
            gaps.append(_gap(pending, leading, between_words=True))
        for k, part in enumerate(parts):
            if k:
                gaps.append(_gap(core[parts[k - 1].end() : part.start()], "", between_words=False))
            tokens.append(part.group().casefold())
            stems.append(stem and k == len(parts) - 1)
        pending = core[parts[-1].end() :]
    if not tokens:
        return None
    return _Phrase(term, tuple(tokens), tuple(stems), tuple(gaps))


def _gap(before: str, after: str, *, between_words: bool) -> re.Pattern[str]:
    """Any run of spaces and dashes between words, and inside a word split only by
    dashes ("5-like"); other punctuation as written, either apostrophe for one."""
    if not between_words and _FLEXIBLE_GAP.fullmatch(before):
        before, between_words = "", True
    middle = _FLEXIBLE_GAP.pattern if between_words else ""
    return re.compile(_literal(before) + middle + _literal(after))


def _literal(text: str) -> str:
    return "".join("['’]" if ch in "'’" else re.escape(ch) for ch in text)


def _scan(compiled: _Language, text: str) -> list[_Match]:
    """Phrase matches in one pass: every phrase that starts at a word counts, with its own
    span, and the scan then moves past the longest, whose words are consumed.

    One split gives the words and what lies between them as strings; the words'
    offsets are summed from their lengths only when some word may start a phrase.
    """
    # what precedes word 0, word 0, what lies between words 0 and 1, ..., what follows the last
    pieces = _WORD_SPLIT.split(text)
    folded = [word.casefold() for word in pieces[1::2]]
    starts = _starts(compiled, folded)
    if not starts:
        return []
    between = pieces[0::2]
    # ends[2k]: where word k starts; ends[2k + 1]: where it ends
    ends = list(accumulate(map(len, pieces)))
    matches: list[_Match] = []
    position = 0
    for start in starts:
        if start < position:
            continue  # inside the previous match
        found = set()
        for phrase in _candidates(compiled, folded[start]).phrases:
            last = _match_from(phrase, start, folded, between)
            if last is not None:
                found.add((last, phrase.term))
        if found:
            offset = ends[2 * start]
            matches.extend(
                _Match(term, offset, ends[2 * last + 1], start, last)
                for last, term in sorted(found)
            )
            position = max(last for last, _term in found) + 1
    return matches


def _starts(compiled: _Language, folded: list[str]) -> list[int]:
    """Positions of the words some phrase may start at, judged by the word and the next."""
    cached = compiled.starting_at.get
    starts = []
    last = len(folded) - 1
    for position, word in enumerate(folded):
        start = cached(word) or _candidates(compiled, word)
        if start.phrases and start.may_start(folded[position + 1] if position < last else None):
            starts.append(position)
    return starts


def _candidates(compiled: _Language, word: str) -> _Start:
    found = compiled.starting_at.get(word)
    if found is None:
        phrases = tuple(compiled.exact.get(word, ())) + tuple(
            phrase
            for length in compiled.stem_lengths
            if length <= len(word)
            for phrase in compiled.by_stem.get(word[:length], ())
        )
        found = _start(phrases)
        if len(compiled.starting_at) >= _MAX_CACHED_WORDS:
            compiled.starting_at.clear()
        compiled.starting_at[word] = found
    return found


def _start(phrases: tuple[_Phrase, ...]) -> _Start:
    if not phrases:
        return _NO_START
    longer = [p for p in phrases if len(p.tokens) > 1]
    return _Start(
        phrases,
        any_next=len(longer) < len(phrases),
        next_words=frozenset(p.tokens[1] for p in longer if not p.stems[1]),
        next_stems=tuple(p.tokens[1] for p in longer if p.stems[1]),
    )


def _match_from(
    phrase: _Phrase, position: int, folded: list[str], between: list[str]
) -> int | None:
    """Index of the phrase's last word if it matches from `position`, else None.

    The first word matched already: the phrase was found by it. `between[k]` is
    the text before word k."""
    last = position + len(phrase.tokens) - 1
    if last >= len(folded):
        return None
    for k in range(1, len(phrase.tokens)):
        word, token = folded[position + k], phrase.tokens[k]
        if not (word.startswith(token) if phrase.stems[k] else word == token):
            return None
        if not phrase.gaps[k - 1].fullmatch(between[position + k]):
            return None
    return last
