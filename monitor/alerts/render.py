"""Alert messages from event payloads: subject, plain text, HTML and a JSON body.

A payload is frozen when the rule fires (see monitor/alerts/cycle.py), so a
message rendered after a restart reads exactly as it would have at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    #: the webhook's JSON body; its `text` is Slack-compatible mrkdwn
    data: dict[str, Any]


def render_event(rule: str, payload: dict[str, Any]) -> Message:
    """One alert: an item that matched, a spike or a shift."""
    kind = payload.get("type", "item")
    if kind == "item":
        subject = f"[{rule}] {payload['title'] or '(untitled)'} — {payload['publisher']}"
    else:
        subject = f"[{rule}] {payload['headline']}"
    text = f"{_event_text(payload)}\n\n— rule {rule}\n"
    html = _page(escape(subject), _event_html(payload), rule)
    data = {
        "rule": rule,
        "kind": kind,
        "subject": subject,
        "text": f"*{_slack_escape(subject)}*\n{_event_slack(payload)}",
        "events": [payload],
    }
    return Message(subject=subject, text=text, html=html, data=data)


def render_digest(rule: str, payloads: Sequence[dict[str, Any]], *, period: str) -> Message:
    """Everything a digest rule caught since its last digest, grouped by topic and frame."""
    subject = f"[{rule}] digest, {period}: {len(payloads)} alert{'s' * (len(payloads) != 1)}"
    groups = group_by_labels(payloads)
    text_parts = [subject, ""]
    html_parts = []
    slack_parts = [f"*{_slack_escape(subject)}*"]
    for heading, members in groups:
        text_parts += [f"== {heading} ({len(members)}) ==", ""]
        html_parts.append(f"<h2>{escape(heading)} ({len(members)})</h2>")
        slack_parts.append(f"*{_slack_escape(heading)}*")
        for payload in members:
            text_parts += [_event_text(payload), ""]
            html_parts.append(_event_html(payload))
            slack_parts.append(_event_slack(payload, short=True))
    text = "\n".join([*text_parts, f"— rule {rule}", ""])
    html = _page(escape(subject), "\n".join(html_parts), rule)
    data = {
        "rule": rule,
        "kind": "digest",
        "subject": subject,
        "text": "\n".join(slack_parts),
        "events": list(payloads),
    }
    return Message(subject=subject, text=text, html=html, data=data)


def group_by_labels(payloads: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Items under '<top topic> · <top frame>'; spikes and shifts under their own heading."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        if payload.get("type", "item") != "item":
            heading = "Volume and framing changes"
        else:
            labels = payload.get("labels", [])
            topic = next((x["name"] for x in labels if x["kind"] == "topic"), "No topic")
            frame = next((x["name"] for x in labels if x["kind"] == "frame"), "")
            heading = f"{topic} · {frame}" if frame else topic
        groups.setdefault(heading, []).append(payload)
    return sorted(groups.items(), key=lambda g: (g[0] == "Volume and framing changes", g[0]))


def _item_line(item: dict[str, Any]) -> str:
    date = (item.get("published_at") or "")[:10]
    return f"{item['title'] or '(untitled)'} — {item['publisher']}, {date}"


def _event_text(payload: dict[str, Any]) -> str:
    if payload.get("type", "item") == "item":
        lines = [_item_line(payload)]
        for label in payload.get("labels", []):
            line = f"  {label['kind']}: {label['name']} ({label['score']:.2f})"
            if label.get("snippet"):
                line += f' — "{label["snippet"]}"'
            lines.append(line)
        if payload.get("url"):
            lines.append(f"  {payload['url']}")
        return "\n".join(lines)
    lines = [payload["headline"], payload["detail"]]
    if payload.get("terms"):
        lines.append("Distinctive terms: " + ", ".join(t for t, _ in payload["terms"]))
    if payload.get("examples"):
        lines.append("Examples:")
        for item in payload["examples"]:
            lines.append(f"  - {_item_line(item)}")
            if item.get("url"):
                lines.append(f"    {item['url']}")
    return "\n".join(lines)


def _link(item: dict[str, Any]) -> str:
    title = escape(item["title"] or "(untitled)")
    return f'<a href="{escape(item["url"])}">{title}</a>' if item.get("url") else title


def _meta(item: dict[str, Any]) -> str:
    return f"{escape(item['publisher'])}, {escape((item.get('published_at') or '')[:10])}"


def _event_html(payload: dict[str, Any]) -> str:
    if payload.get("type", "item") == "item":
        labels = "".join(
            f"<li><b>{escape(x['name'])}</b> ({escape(x['kind'])}, {x['score']:.2f})"
            + (f": <q>{escape(x['snippet'])}</q>" if x.get("snippet") else "")
            + "</li>"
            for x in payload.get("labels", [])
        )
        return (
            f'<div class="alert"><h3>{_link(payload)}</h3><p>{_meta(payload)}</p>'
            f"<ul>{labels}</ul></div>"
        )
    parts = [f"<h3>{escape(payload['headline'])}</h3>", f"<p>{escape(payload['detail'])}</p>"]
    if payload.get("terms"):
        terms = ", ".join(escape(t) for t, _ in payload["terms"])
        parts.append(f"<p>Distinctive terms: {terms}</p>")
    if payload.get("examples"):
        items = "".join(f"<li>{_link(x)} — {_meta(x)}</li>" for x in payload["examples"])
        parts.append(f"<p>Examples:</p><ul>{items}</ul>")
    return f'<div class="alert">{"".join(parts)}</div>'


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(item: dict[str, Any]) -> str:
    title = _slack_escape(item["title"] or "(untitled)")
    return f"<{item['url']}|{title}>" if item.get("url") else title


def _event_slack(payload: dict[str, Any], *, short: bool = False) -> str:
    if payload.get("type", "item") == "item":
        line = f"• {_slack_link(payload)} — {_slack_escape(_meta_plain(payload))}"
        labels = ", ".join(x["name"] for x in payload.get("labels", []))
        if labels:
            line += f" ({_slack_escape(labels)})"
        if not short:
            quoted = [x["snippet"] for x in payload.get("labels", []) if x.get("snippet")]
            if quoted:
                line += f"\n> {_slack_escape(quoted[0])}"
        return line
    lines = [f"• {_slack_escape(payload['headline'])}: {_slack_escape(payload['detail'])}"]
    if payload.get("terms"):
        lines.append("  terms: " + _slack_escape(", ".join(t for t, _ in payload["terms"])))
    for item in payload.get("examples", [])[: 1 if short else 3]:
        lines.append(f"  – {_slack_link(item)}")
    return "\n".join(lines)


def _meta_plain(item: dict[str, Any]) -> str:
    return f"{item['publisher']}, {(item.get('published_at') or '')[:10]}"


def _page(title: str, body: str, rule: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body>{body}"
        f"<p><small>Discourse Monitor · rule {escape(rule)}</small></p></body></html>"
    )
