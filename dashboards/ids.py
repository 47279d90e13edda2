"""Component ids, in one place so pages, callbacks and browser tests agree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilterIds:
    """The shared filter controls of one page."""

    prefix: str

    @property
    def dates(self) -> str:
        return f"{self.prefix}-dates"

    @property
    def source_types(self) -> str:
        return f"{self.prefix}-source-types"

    @property
    def countries(self) -> str:
        return f"{self.prefix}-countries"

    @property
    def languages(self) -> str:
        return f"{self.prefix}-languages"

    @property
    def publishers(self) -> str:
        return f"{self.prefix}-publishers"

    @property
    def query(self) -> str:
        """The store whose value becomes the page's URL query string."""
        return f"{self.prefix}-query"


@dataclass(frozen=True)
class ChartIds:
    """A chart with its data (for CSV), its download button and the items behind a click."""

    prefix: str

    @property
    def graph(self) -> str:
        return f"{self.prefix}-graph"

    @property
    def data(self) -> str:
        return f"{self.prefix}-data"

    @property
    def csv_button(self) -> str:
        return f"{self.prefix}-csv"

    @property
    def download(self) -> str:
        return f"{self.prefix}-download"

    @property
    def items(self) -> str:
        return f"{self.prefix}-items"


NAV = "nav"

OVERVIEW = FilterIds("overview")
OVERVIEW_PERIOD = "overview-period"
OVERVIEW_MEASURE = "overview-measure"
OVERVIEW_TOPICS = ChartIds("overview-topics")
OVERVIEW_LATEST = "overview-latest"
OVERVIEW_HEALTH = "overview-health"

FRAMING = FilterIds("framing")
FRAMING_TOPIC = "framing-topic"
FRAMING_PERIOD = "framing-period"
FRAMING_CHART = ChartIds("framing-shares")
FRAMING_SHIFTS = "framing-shifts"

CHANGED = FilterIds("changed")
CHANGED_MODE = "changed-mode"
CHANGED_TOPIC = "changed-topic"
CHANGED_DATES_A = "changed-dates-a"
CHANGED_DATES_B = "changed-dates-b"
CHANGED_GROUP_BY = "changed-group-by"
CHANGED_GROUP_A = "changed-group-a"
CHANGED_GROUP_B = "changed-group-b"
CHANGED_CHART = ChartIds("changed-terms")
CHANGED_SUMMARY = "changed-summary"

COMPARE = FilterIds("compare")
COMPARE_TOPIC = "compare-topic"
COMPARE_GROUP_BY = "compare-group-by"
COMPARE_PERIOD = "compare-period"
COMPARE_HEATMAP = ChartIds("compare-heatmap")
COMPARE_MULTIPLES = ChartIds("compare-multiples")

THEMES = FilterIds("themes")
THEMES_PERIOD = "themes-period"
THEMES_TABLE = "themes-table"
THEMES_CHART = ChartIds("themes-trends")

ITEMS = FilterIds("items")
ITEMS_SEARCH = "items-search"
ITEMS_LABELS = "items-labels"
ITEMS_PAGE = "items-page"
ITEMS_PREV = "items-prev"
ITEMS_NEXT = "items-next"
ITEMS_LIST = "items-list"
ITEMS_SELECTED = "items-selected"
ITEMS_DETAIL = "items-detail"
ITEMS_OPEN = "items-open"  # pattern-matching type: {"type": ITEMS_OPEN, "index": item id}
ITEMS_FIX_LABEL = "items-fix-label"
ITEMS_FIX_APPLIES = "items-fix-applies"
ITEMS_FIX_ANALYST = "items-fix-analyst"
ITEMS_FIX_NOTE = "items-fix-note"
ITEMS_FIX_SAVE = "items-fix-save"
ITEMS_FIX_RESULT = "items-fix-result"
ITEMS_CORRECTIONS = "items-corrections"
ITEMS_EXPORT_FORMAT = "items-export-format"
ITEMS_EXPORT_LINK = "items-export-link"
ITEMS_EXPORT_NOTE = "items-export-note"

SOURCES = FilterIds("sources")
SOURCES_STATUS = "sources-status"
SOURCES_TABLE = "sources-table"
SOURCES_DATA = ChartIds("sources-feeds")

ALERTS_RULES = "alerts-rules"
ALERTS_RECENT = "alerts-recent"
ALERTS_FAILURES = "alerts-failures"
