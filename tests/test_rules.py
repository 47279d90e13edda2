"""Keyword rules: stems, proximity, exclusions, offsets, field weights."""

from monitor.config import load_settings
from monitor.tagging import rules as rules_module
from monitor.tagging.rules import Rule, RuleSet
from monitor.tagging.tagger import rules_from_settings

RULES = RuleSet(
    [
        Rule(
            "en.accession",
            "nato_membership",
            ("join*", "accession", "membership"),
            language="en",
            near=("NATO", "alliance"),
            window=5,
        ),
        Rule("uk.neutrality", "neutrality", ("нейтралітет*", "позаблоков*"), language="uk"),
        Rule("ru.neutrality", "neutrality", ("нейтралитет*",), language="ru"),
        Rule("pl.guarantees", "security_guarantees", ("gwarancj* bezpieczeństwa",), language="pl"),
        Rule(
            "en.neutrality",
            "neutrality",
            ("neutrality", "neutral status"),
            language="en",
            exclude=("carbon neutrality", "climate neutrality", "net neutrality"),
        ),
        Rule(
            "en.guarantees",
            "security_guarantees",
            ("security guarantee*", "guarantee*"),
            language="en",
            exclude=("loan*", "credit*", "deposit*"),
        ),
    ]
)


def labels(fields, language):
    return {h.label for h in RULES.match(fields, language)}


def test_offsets_point_into_the_text_as_written_whatever_case_folding_does():
    # "ẞ" and "ß" fold to "ss": the folded words are longer than the words as written
    text = "STRAẞE, Maße — und dann: Ukraine's neutral   status, and later security-guarantees."
    hits = RULES.match({"summary": text}, "en")
    assert [(h.label, text[h.start : h.end]) for h in hits] == [
        ("neutrality", "neutral   status"),
        ("security_guarantees", "security-guarantees"),
    ]
    assert all(text[h.start : h.end] == h.text for h in hits)


def test_a_summary_repeated_as_content_is_scanned_once_and_hits_in_both(monkeypatch):
    scans = []
    scan = rules_module._scan
    monkeypatch.setattr(
        rules_module, "_scan", lambda compiled, text: scans.append(text) or scan(compiled, text)
    )
    text = "Kyiv asks for security guarantees"
    hits = RULES.match({"title": "Talks", "summary": text, "content": text}, "en")
    assert scans == ["Talks", text]
    assert [(h.field, h.text, h.score) for h in hits] == [
        ("summary", "security guarantees", 0.8),
        ("content", "security guarantees", 0.6),
    ]


def test_proximity_requires_nato_within_the_window():
    assert labels({"title": "Ukraine wants to join NATO soon"}, "en") == {"nato_membership"}
    far = "Ukraine wants to join the single market of the union, while NATO leaders met"
    assert labels({"title": far}, "en") == set()


def test_slavic_stems_match_inflected_forms():
    assert labels({"title": "Питання нейтралітету України"}, "uk") == {"neutrality"}
    assert labels({"title": "Позаблоковий статус"}, "uk") == {"neutrality"}
    assert labels({"title": "Требование нейтралитета"}, "ru") == {"neutrality"}
    assert labels({"title": "Rozmowy o gwarancjach bezpieczeństwa"}, "pl") == {
        "security_guarantees"
    }


def test_exclusions_cancel_other_senses():
    assert labels({"title": "EU sets carbon neutrality target for 2050"}, "en") == set()
    assert labels({"title": "FCC vote on net neutrality"}, "en") == set()
    assert labels({"title": "Bank extends loan and credit guarantees"}, "en") == set()
    assert labels({"title": "Austria's neutrality as a model"}, "en") == {"neutrality"}


def test_hits_carry_field_offsets_and_field_weight():
    text = "Security guarantees for Kyiv"
    [title_hit] = RULES.match({"title": text}, "en")
    assert (title_hit.field, title_hit.start, title_hit.end) == ("title", 0, 19)
    assert text[title_hit.start : title_hit.end] == title_hit.text == "Security guarantees"
    [summary_hit] = RULES.match({"summary": text}, "en")
    assert summary_hit.score < title_hit.score


def test_word_boundaries_prevent_partial_matches():
    assert labels({"title": "A NATO rejoinder to critics"}, "en") == set()


def test_a_phrase_counts_inside_a_longer_phrase_of_another_label():
    rules = RuleSet(
        [
            Rule("uk.path", "nato_membership", ("незворотн* шлях*",), language="uk"),
            Rule("uk.irreversible", "sovereign_choice", ("незворотн*",), language="uk"),
        ]
    )
    hits = rules.match({"title": "Незворотний шлях України до Альянсу"}, "uk")
    assert {(h.label, h.text) for h in hits} == {
        ("nato_membership", "Незворотний шлях"),
        ("sovereign_choice", "Незворотний"),
    }


def test_an_exclusion_starting_at_the_same_word_cancels_the_phrase():
    rules = RuleSet(
        [
            Rule(
                "en.non_aligned",
                "neutrality",
                ("non-aligned",),
                language="en",
                exclude=("Non-Aligned Movement",),
            )
        ]
    )
    assert rules.match({"title": "Summit of the Non-Aligned Movement opens"}, "en") == []
    assert len(rules.match({"title": "A non-aligned Ukraine?"}, "en")) == 1


def test_shipped_accession_rule_reads_join_but_not_joint() -> None:
    shipped = rules_from_settings(load_settings().tagging)

    def membership(text: str) -> bool:
        hits = shipped.match({"content": text}, "en")
        return any(h.label == "nato_membership" for h in hits)

    assert not membership("We will act jointly with our allies. Joint NATO exercises began.")
    assert membership("Sweden joined NATO in March.")
    assert membership("Kyiv is joining the Alliance.")


def test_phrases_sharing_a_common_first_word_match_by_their_next_word():
    rules = RuleSet(
        [
            Rule("not", "x", ("not",), language="en"),
            Rule("not-join", "y", ("not join*", "not be a member"), language="en"),
            Rule("in-nato", "z", ("in nato", "in the alliance"), language="en"),
        ]
    )
    text = "Kyiv will not join, will not be a member, sits in the alliance or in NATO; in time, not"
    hits = sorted((h.rule, h.text) for h in rules.match({"title": text}, "en"))
    assert hits == [
        ("in-nato", "in NATO"),
        ("in-nato", "in the alliance"),
        ("not", "not"),
        ("not", "not"),
        ("not", "not"),  # the last word: no next word to look at
        ("not-join", "not be a member"),
        ("not-join", "not join"),
    ]


def test_the_word_cache_stays_bounded_and_matching_stays_right(monkeypatch):
    monkeypatch.setattr("monitor.tagging.rules._MAX_CACHED_WORDS", 10)
    rules = RuleSet([Rule("n", "neutrality", ("neutral status",), language="en")])
    filler = " ".join(f"word{k}" for k in range(50))
    for _ in range(3):
        hits = rules.match({"title": f"{filler} a neutral status {filler}"}, "en")
        assert [h.text for h in hits] == ["neutral status"]
        assert len(rules._compiled["en"].starting_at) <= 10
