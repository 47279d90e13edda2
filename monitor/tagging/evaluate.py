"""Precision, recall and F1 per label, micro and macro, per language."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "support": self.support,
        }


def _scores(tp: int, fp: int, fn: int) -> Scores:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, tp + fn)


def label_report(
    labels: Sequence[str], gold: Sequence[set[str]], predicted: Sequence[set[str]]
) -> dict[str, Any]:
    """Per-label scores plus micro and macro averages for one label family."""
    counts = {label: [0, 0, 0] for label in labels}
    for g, p in zip(gold, predicted, strict=True):
        for label in labels:
            if label in p and label in g:
                counts[label][0] += 1
            elif label in p:
                counts[label][1] += 1
            elif label in g:
                counts[label][2] += 1
    per_label = {label: _scores(*counts[label]) for label in labels}
    tp = sum(c[0] for c in counts.values())
    fp = sum(c[1] for c in counts.values())
    fn = sum(c[2] for c in counts.values())
    supported = [s for s in per_label.values() if s.support]
    macro_f1 = sum(s.f1 for s in supported) / len(supported) if supported else 0.0
    return {
        "labels": {label: s.as_dict() for label, s in per_label.items()},
        "micro": _scores(tp, fp, fn).as_dict(),
        "macro_f1": round(macro_f1, 4),
    }


def evaluate(
    topics: Sequence[str],
    frames: Sequence[str],
    gold: Sequence[tuple[str, set[str], set[str]]],
    predicted: Sequence[tuple[set[str], set[str]]],
) -> dict[str, Any]:
    """gold: (language, topic labels, frame labels); predicted: (topic labels, frame labels)."""
    report: dict[str, Any] = {
        "items": len(gold),
        "topics": label_report(topics, [g[1] for g in gold], [p[0] for p in predicted]),
        "frames": label_report(frames, [g[2] for g in gold], [p[1] for p in predicted]),
        "languages": {},
    }
    by_language: dict[str, list[int]] = defaultdict(list)
    for index, (language, _t, _f) in enumerate(gold):
        by_language[language or "und"].append(index)
    for language, indices in sorted(by_language.items()):
        report["languages"][language] = {
            "items": len(indices),
            "topics": label_report(
                topics, [gold[i][1] for i in indices], [predicted[i][0] for i in indices]
            ),
            "frames": label_report(
                frames, [gold[i][2] for i in indices], [predicted[i][1] for i in indices]
            ),
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned text tables."""
    lines = [f"{report['items']} items"]
    for family in ("topics", "frames"):
        section = report[family]
        lines.append("")
        lines.append(f"{family:<28} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
        for label, s in section["labels"].items():
            lines.append(
                f"{label:<28} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
                f"{s['support']:>8}"
            )
        m = section["micro"]
        lines.append(
            f"{'micro average':<28} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} "
            f"{m['support']:>8}"
        )
        lines.append(f"{'macro F1':<28} {'':>9} {'':>7} {section['macro_f1']:>6.3f}")
    lines.append("")
    lines.append(f"{'language':<10} {'items':>6} {'topic micro-F1':>15} {'frame micro-F1':>15}")
    for language, section in report["languages"].items():
        lines.append(
            f"{language:<10} {section['items']:>6} {section['topics']['micro']['f1']:>15.3f} "
            f"{section['frames']['micro']['f1']:>15.3f}"
        )
    return "\n".join(lines)


def markdown_comparison(rules: dict[str, Any], combined: dict[str, Any]) -> str:
    """Rules alone beside the combined tagger, per label and per language, as Markdown."""
    lines = [
        "| label | rules P | rules R | rules F1 | combined P | combined R | combined F1 "
        "| support |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for family in ("topics", "frames"):
        for label in [*combined[family]["labels"], "micro average"]:
            r = (
                rules[family]["micro"]
                if label == "micro average"
                else rules[family]["labels"][label]
            )
            c = (
                combined[family]["micro"]
                if label == "micro average"
                else combined[family]["labels"][label]
            )
            name = f"**{family} {label}**" if label == "micro average" else f"`{label}`"
            lines.append(
                f"| {name} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | "
                f"{c['precision']:.2f} | {c['recall']:.2f} | {c['f1']:.2f} | {c['support']} |"
            )
    lines += [
        "",
        "| language | items | topic micro-F1, rules | topic micro-F1, combined "
        "| frame micro-F1, rules | frame micro-F1, combined |",
        "|---|---|---|---|---|---|",
    ]
    for language, section in combined["languages"].items():
        r = rules["languages"][language]
        lines.append(
            f"| {language} | {section['items']} | {r['topics']['micro']['f1']:.2f} | "
            f"{section['topics']['micro']['f1']:.2f} | {r['frames']['micro']['f1']:.2f} | "
            f"{section['frames']['micro']['f1']:.2f} |"
        )
    return "\n".join(lines)
