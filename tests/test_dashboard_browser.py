"""The dashboard end to end in headless Chromium (dash[testing], Debian chromium + chromedriver).

One app and one browser serve the whole module (a seeded SQLite database) so the
module stays well under a minute and a half. Without chromium and chromedriver
the tests skip, unless MONITOR_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dash.testing.wait import until
from sqlalchemy import Engine, insert, select

from dashboards.app import create_app
from monitor.store.models import AnalystLabel, ItemTheme, Theme, ThemeCount
from monitor.store.session import make_engine, upgrade
from tests.conftest import make_settings, seed_dashboard

PAGES = {
    "/": "#overview-topics-graph .main-svg",
    "/framing": "#framing-shares-graph .main-svg",
    "/changed": "#changed-terms-graph .main-svg",
    "/compare": "#compare-heatmap-graph .main-svg",
    "/themes": "#themes-trends-graph .main-svg",
    "/items": "#items-list li.item",
    "/sources": "#sources-table .dash-spreadsheet",
    "/alerts": "#alerts-rules",
}


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("DASH_TEST_CHROMEPATH"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _require_browser() -> str:
    chromium = _chromium()
    missing = [
        name
        for name, path in (("chromium", chromium), ("chromedriver", shutil.which("chromedriver")))
        if not path
    ]
    if not missing:
        assert chromium is not None
        return chromium
    reason = (
        f"{' and '.join(missing)} not found; install with "
        "`apt-get install -y chromium chromium-driver`"
    )
    if os.environ.get("MONITOR_REQUIRE_BROWSER"):
        pytest.fail(f"MONITOR_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def _seed_theme(engine: Engine) -> None:
    now = datetime(2022, 7, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Theme).values(
                id=1,
                fit_id="f",
                position=0,
                label="door, accession",
                top_terms=[["door", 0.5]],
                items=24,
                fitted_at=now,
            )
        )
        conn.execute(
            insert(ThemeCount),
            [
                {
                    "theme_id": 1,
                    "period_start": datetime(2022, 1, 3 + 7 * w, tzinfo=UTC),
                    "items": 2,
                }
                for w in range(4)
            ],
        )
        conn.execute(insert(ItemTheme), [{"item_id": 1, "theme_id": 1, "weight": 0.9}])


@pytest.fixture(scope="module")
def dash_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Engine]]:
    chromium = _require_browser()
    os.environ.setdefault("DASH_TEST_CHROMEPATH", chromium)
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    tmp: Path = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'monitor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_dashboard(engine)
    _seed_theme(engine)
    app = create_app(make_settings(url), engine)
    with (
        ThreadedRunner() as runner,
        DashComposite(
            runner, browser="Chrome", headless=True, download_path=str(tmp), wait_timeout=15
        ) as duo,
    ):
        duo.start_server(app)
        yield duo, engine
    engine.dispose()


def _open(duo: Any, path: str) -> None:
    duo.driver.get(duo.server_url + path)
    duo.wait_for_element("#react-entry-point", timeout=15)


def _plot_points(duo: Any, graph_id: str) -> int:
    """Points in the chart's first line (-1 while it is not drawn yet)."""
    script = (
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        "const line = g && g.data && g.data.find(t => t.mode === 'lines+markers');"
        "return line ? line.x.length : -1;"
    )
    return int(duo.driver.execute_script(script))


def test_every_page_renders_seeded_data_without_console_errors(dash_app):
    duo, _engine = dash_app
    for path, selector in PAGES.items():
        _open(duo, path)
        duo.wait_for_element(selector, timeout=20)
    _open(duo, "/sources")
    duo.wait_for_contains_text("#sources-table", "HTTP 503; retry in 30 min", timeout=15)
    assert duo.get_logs() == []


def test_changing_a_filter_redraws_the_chart_and_records_it_in_the_url(dash_app):
    duo, _engine = dash_app
    _open(duo, "/framing?topic=nato_membership")
    duo.wait_for_element("#framing-shares-graph .main-svg")
    duo.wait_for_contains_text("#framing-shifts", "2022-04-01", timeout=15)
    # per month the first frame's line has 6 points
    assert _plot_points(duo, "framing-shares-graph") == 6
    week = duo.driver.find_element("xpath", "//*[@id='framing-period']//label[contains(., 'week')]")
    week.click()
    until(lambda: _plot_points(duo, "framing-shares-graph") == 24, timeout=15)
    until(lambda: "period=week" in duo.driver.current_url, timeout=10)
    think_tank = duo.driver.find_element(
        "xpath", "//*[@id='framing-source-types']//label[contains(., 'think_tank')]"
    )
    think_tank.click()
    until(lambda: "source_types=think_tank" in duo.driver.current_url, timeout=10)
    assert "topic=nato_membership" in duo.driver.current_url
    # the shared link restores the view
    _open(duo, duo.driver.current_url.split(duo.server_url, 1)[1])
    until(lambda: _plot_points(duo, "framing-shares-graph") == 24, timeout=15)
    assert duo.get_logs() == []


def test_clicking_a_point_lists_the_items_behind_it(dash_app):
    from selenium.webdriver.common.action_chains import ActionChains

    duo, _engine = dash_app
    _open(duo, "/?period=week")
    duo.wait_for_element("#overview-topics-graph .main-svg")
    points = duo.driver.find_elements("css selector", "#overview-topics-graph .scatterlayer .point")
    assert points
    ActionChains(duo.driver).move_to_element(points[len(points) // 4]).pause(0.5).click().perform()
    duo.wait_for_element("#overview-topics-items li.item", timeout=15)
    heading = duo.find_element("#overview-topics-items h3").text
    assert " · week of 2022-" in heading
    assert duo.get_logs() == []


def test_an_analyst_opens_an_item_and_corrects_a_label(dash_app):
    duo, engine = dash_app
    _open(duo, "/items?q=escalation")
    duo.wait_for_element("#items-list li.item")
    assert "q=escalation" in duo.driver.current_url
    duo.find_element("#items-list li.item button.linklike").click()
    duo.wait_for_element("#items-detail mark", timeout=15)
    assert duo.find_element("#items-detail mark").text == "join NATO"
    until(lambda: "item=" in duo.driver.current_url, timeout=10)
    duo.driver.find_element(
        "xpath", "//*[@id='items-fix-applies']//label[contains(., 'does not apply')]"
    ).click()
    duo.find_element("#items-fix-analyst").send_keys("Dana Analyst")
    duo.find_element("#items-fix-note").send_keys("only mentions it")
    duo.find_element("#items-fix-save").click()
    duo.wait_for_contains_text("#items-fix-result", "Stored", timeout=15)
    duo.wait_for_contains_text("#items-corrections", "Dana Analyst", timeout=15)
    with engine.connect() as conn:
        row = conn.execute(select(AnalystLabel)).one()
    assert (row.label, row.applies, row.analyst, row.note) == (
        "nato_membership",
        False,
        "Dana Analyst",
        "only mentions it",
    )
    assert row.created_at.tzinfo is not None
    assert duo.get_logs() == []
