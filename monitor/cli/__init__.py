"""Thin commands: parse arguments, call the engine, print the result."""

from __future__ import annotations

from monitor.cli import alerts, export, feeds, history, run, tagging  # noqa: F401  (register commands)
from monitor.cli.base import cli


def main() -> None:
    cli(prog_name="monitor")


__all__ = ["cli", "main"]
