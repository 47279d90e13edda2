"""Older items: backfill of a feed's archive pages and import of historical files."""

from __future__ import annotations

from monitor.history.backfill import BackfillReport, PageResult, backfill_feed
from monitor.history.importer import (
    ImportReport,
    RejectedRow,
    check_file,
    import_file,
    store_file,
)

__all__ = [
    "BackfillReport",
    "ImportReport",
    "PageResult",
    "RejectedRow",
    "backfill_feed",
    "check_file",
    "import_file",
    "store_file",
]
