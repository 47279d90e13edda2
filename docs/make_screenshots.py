"""Screenshots of every dashboard page, from real items imported with `monitor import`.

The items are the Kremlin's and the President of Ukraine's English news
(October 2021 – June 2022) and the 2022 entries of eleven world-news feeds, all
from the shared corpus (`../shared/realfeeds`, or `MONITOR_SHARED_DIR`). They are
converted to the import CSV format in a temporary directory, imported into a
fresh SQLite database, tagged on the way in, themed with `monitor themes`, and
served by `monitor serve`; headless Chromium (Debian `chromium` and
`chromium-driver`) then saves one PNG per page under `docs/screenshots/`.

    .venv/bin/python docs/make_screenshots.py [--news-limit N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
MONITOR = [str(Path(sys.executable).with_name("monitor"))]
IMPORT_COLUMNS = [
    "title", "url", "summary", "content", "published",
    "publisher", "source_type", "country", "language", "guid",
]  # fmt: skip

#: world-news feeds of the 2022 link database: publisher and country
NEWS_FEEDS = {
    "http://feeds.bbci.co.uk/news/rss.xml": ("BBC News", "GB"),
    "http://rss.cnn.com/rss/edition.rss": ("CNN", "US"),
    "http://rss.cnn.com/rss/cnn_world.rss": ("CNN", "US"),
    "https://www.theguardian.com/international/rss": ("The Guardian", "GB"),
    "https://rss.nytimes.com/services/xml/rss/nyt/World.xml": ("The New York Times", "US"),
    "https://www.lemonde.fr/en/rss/une.xml": ("Le Monde", "FR"),
    "http://www.aljazeera.com/xml/rss/all.xml": ("Al Jazeera", "QA"),
    "https://feeds.nbcnews.com/nbcnews/public/world": ("NBC News", "US"),
    "http://feeds.skynews.com/feeds/rss/world.xml": ("Sky News", "GB"),
    "https://www.ft.com/world?format=rss": ("Financial Times", "GB"),
    "https://feeds.a.dj.com/rss/RSSWorldNews.xml": ("The Wall Street Journal", "US"),
}

#: page → the view shown: (file name, path with its filter state in the URL)
PAGES = [
    ("overview", "/?start=2021-10-24&end=2022-06-30&period=week&measure=share"),
    ("framing", "/framing?start=2021-10-24&end=2022-06-30&topic=nato_membership&period=month"),
    ("changed", "/changed?a_start=2021-11-01&a_end=2022-02-23&b_start=2022-02-24&b_end=2022-06-24"),
    (
        "compare",
        "/compare?start=2021-10-24&end=2022-06-30&group_by=publisher",
    ),
    ("themes", "/themes"),
    ("items", "/items?q=neutrality"),
    ("sources", "/sources"),
    ("alerts", "/alerts"),
]


def statements(path: Path, publisher: str, country: str) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)  # some speeches are longer than csv's default cell limit
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield {
                "title": row["headline"],
                "url": row["link"],
                "summary": row.get("summary") or "",
                "content": row["body"],
                "published": row["date"],
                "publisher": publisher,
                "source_type": "government",
                "country": country,
                "language": "en",
                "guid": row["link"],
            }


def news_entries(root: Path, limit: int) -> Iterator[dict[str, str]]:
    count = 0
    for path in sorted(root.glob("2022/*/*/*_entries.json")):
        for entry in json.loads(path.read_text(encoding="utf-8")):
            feed = NEWS_FEEDS.get(entry.get("source", ""))
            if feed is None or not entry.get("title") or not entry.get("link"):
                continue
            yield {
                "title": entry["title"],
                "url": entry["link"],
                "summary": entry.get("description") or "",
                "content": "",
                "published": entry["date_published"],
                "publisher": feed[0],
                "source_type": "media",
                "country": feed[1],
                "language": "en",
                "guid": entry["link"],
            }
            count += 1
            if count >= limit:
                return


def write_import_file(path: Path, rows: Iterator[dict[str, str]]) -> int:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, IMPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(counted := list(rows))
    return len(counted)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def monitor(config: Path, *args: str) -> None:
    print("monitor", *args, flush=True)
    subprocess.run([*MONITOR, "--config", str(config), *args], check=True, cwd=REPO)


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def shoot(base: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1440,1100"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        OUT.mkdir(parents=True, exist_ok=True)
        for name, path in PAGES:
            driver.get(base + path)
            # wait until Dash has no callback in flight, then for the last paint
            WebDriverWait(driver, 60).until(
                lambda d: d.execute_script(
                    "return document.readyState === 'complete'"
                    " && document.querySelector('#react-entry-point') !== null"
                    " && document.querySelector('[data-dash-is-loading=\"true\"]') === null"
                )
            )
            time.sleep(2)
            height = driver.execute_script("return document.body.scrollHeight")
            driver.set_window_size(1440, min(max(int(height), 900), 3000))
            time.sleep(1)
            driver.save_screenshot(str(OUT / f"{name}.png"))
            print("saved", OUT / f"{name}.png", flush=True)
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--news-limit", type=int, default=40_000, help="news entries to import")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    shared = Path(os.environ.get("MONITOR_SHARED_DIR", REPO.parent / "shared")) / "realfeeds"
    if not shared.is_dir():
        sys.exit(f"the shared corpus is not at {shared}; set MONITOR_SHARED_DIR")

    work = args.keep or Path(tempfile.mkdtemp(prefix="screenshots-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.toml"
    port = free_port()
    config.write_text(
        f'[database]\nurl = "sqlite:///{work / "monitor.db"}"\n'
        f'[dashboard]\nhost = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8",
    )
    speeches = shared / "PeiYiZhuo__zelenskyy-putin" / "press_release_data"
    sources = {
        "kremlin.csv": statements(speeches / "putin.csv", "President of Russia", "RU"),
        "ukraine.csv": statements(speeches / "zelenskyy.csv", "President of Ukraine", "UA"),
        "news.csv": news_entries(shared / "rumca-js__RSS-Link-Database-2022", args.news_limit),
    }
    monitor(config, "init")
    for name, rows in sources.items():
        path = work / name
        print(f"{name}: {write_import_file(path, rows)} rows", flush=True)
        subprocess.run(
            [*MONITOR, "--config", str(config), "import", str(path)], check=False, cwd=REPO
        )
    monitor(config, "themes")

    server = subprocess.Popen([*MONITOR, "--config", str(config), "serve"], cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/", 60)
        shoot(base)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
