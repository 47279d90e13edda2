"""The datasheet beside every export: what a colleague needs to reproduce the file.

JSON for machines, Markdown for people, both from one dict. The data file's
SHA-256 is in it, so "same query, same data" can be checked, not just claimed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from monitor.config import Settings
from monitor.export.writers import Column

DATASHEET_VERSION = 1


def config_sha256(settings: Settings) -> str:
    """SHA-256 of the settings serialised canonically (sorted keys, compact JSON).

    The database section and the file path are left out: they say where the
    data lives, not how it was collected or tagged, and a URL may hold a password.
    """
    raw = dataclasses.asdict(settings)
    raw.pop("path", None)
    raw.pop("database", None)
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def codebook(settings: Settings) -> dict[str, Any]:
    def labels(items: Any) -> list[dict[str, str]]:
        return [{"id": x.id, "name": x.name, "description": x.description} for x in items]

    return {
        "topics": labels(settings.tagging.topics),
        "frames": labels(settings.tagging.frames),
        "residual_frame": settings.tagging.residual_frame,
    }


def build_datasheet(
    *,
    settings: Settings,
    data_path: Path,
    file_format: str,
    query: dict[str, Any],
    rows: int,
    exported_at: str,
    schema_revision: str | None,
    tagger_versions: list[str],
    columns: list[Column],
    monitor_version: str,
) -> dict[str, Any]:
    return {
        "datasheet_version": DATASHEET_VERSION,
        "file": data_path.name,
        "format": file_format,
        "sha256": file_sha256(data_path),
        "rows": rows,
        "exported_at": exported_at,
        "query": query,
        "schema_revision": schema_revision,
        "tagger_versions": tagger_versions,
        "monitor_version": monitor_version,
        "config_sha256": config_sha256(settings),
        "codebook": codebook(settings),
        "columns": [{"name": c.name, "type": c.type_name, "meaning": c.meaning} for c in columns],
    }


def datasheet_markdown(sheet: dict[str, Any]) -> str:
    query = sheet["query"]
    lines = [
        f"# Datasheet: {sheet['file']}",
        "",
        f"- format: {sheet['format']}",
        f"- rows: {sheet['rows']}",
        f"- SHA-256 of the data file: `{sheet['sha256']}`",
        f"- exported at: {sheet['exported_at']}",
        f"- database schema revision: {sheet['schema_revision'] or 'none'}",
        f"- tagger version(s): {', '.join(sheet['tagger_versions']) or 'none (untagged)'}",
        f"- monitor version: {sheet['monitor_version']}",
        f"- SHA-256 of the configuration: `{sheet['config_sha256']}`",
        "",
        "## Query",
        "",
        "```json",
        json.dumps(query, indent=2, sort_keys=True, ensure_ascii=False),
        "```",
        "",
        "Reproduce with `monitor export` and these filters on the same data; the",
        "SHA-256 of the new file equals the one above when nothing changed.",
        "",
        "## Codebook",
        "",
    ]
    for kind in ("topics", "frames"):
        lines += [f"### {kind.capitalize()}", "", "| id | name | description |", "|---|---|---|"]
        for label in sheet["codebook"][kind]:
            lines.append(f"| `{label['id']}` | {label['name']} | {_cell(label['description'])} |")
        lines.append("")
    lines += ["## Columns", "", "| column | type | meaning |", "|---|---|---|"]
    for column in sheet["columns"]:
        lines.append(f"| `{column['name']}` | {column['type']} | {_cell(column['meaning'])} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_datasheet(data_path: Path, sheet: dict[str, Any]) -> tuple[Path, Path]:
    """PATH.datasheet.json and PATH.datasheet.md beside the data file."""
    json_path = data_path.with_name(data_path.name + ".datasheet.json")
    md_path = data_path.with_name(data_path.name + ".datasheet.md")
    json_path.write_text(json.dumps(sheet, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(datasheet_markdown(sheet), encoding="utf-8")
    return json_path, md_path
