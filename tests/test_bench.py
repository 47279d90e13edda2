"""The benchmarks' own code still runs against the current code: a benchmark that
breaks when a callback or a table changes measures nothing until someone notices."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_dashboard_benchmark_calls_every_callback_on_its_generated_database(tmp_path):
    bench = _bench("dashboard")
    path = tmp_path / "bench.db"
    bench.generate(path, 2_000)
    results, _loads = bench.time_callbacks(path, repeats=1)
    assert [name for name, *_ in results] == [name for name, _ in bench.callbacks()]


def test_the_export_benchmark_s_database_exports_every_item_with_its_scores(tmp_path):
    from monitor.config import settings_from_dict
    from monitor.export.dataset import export_dataset
    from monitor.export.query import make_filter
    from monitor.store.session import make_engine

    bench = _bench("export")
    path = tmp_path / "bench.db"
    bench.generate(path, 300)
    settings = settings_from_dict({"database": {"url": f"sqlite:///{path}"}})
    engine = make_engine(settings.database.url)
    out = tmp_path / "items.jsonl"
    result = export_dataset(settings, engine, make_filter(settings), out, file_format="jsonl")
    engine.dispose()
    assert result.rows == 300
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert 0 <= first["nato_membership_score"] <= 1
    assert first["nato_membership"] == (first["nato_membership_score"] > 0.5)
    assert first["tagger_version"] == "2026.01-bench00"


@pytest.mark.parametrize(
    ("script", "argument", "value"),
    [
        ("fetch_cycle", "--latency", "0"),
        ("fetch_cycle", "--feeds", "0"),
        ("peer", "--latency", "-0.1"),
        ("peer", "--concurrency", "0"),
        ("peer", "--rounds", "0"),
    ],
)
def test_a_cycle_benchmark_refuses_settings_with_no_latency_bound_in_one_line(
    script, argument, value
):
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), argument, value, "--no-write"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"argument {argument}: must be above zero, not {value}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_cycle_benchmark_still_names_a_value_that_is_no_number():
    done = subprocess.run(
        [sys.executable, str(BENCH / "fetch_cycle.py"), "--feeds", "many", "--no-write"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "argument --feeds: invalid int value: 'many'" in done.stderr


def _fetch_cycle(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / "fetch_cycle.py"), *arguments, "--no-write"],
        capture_output=True, text=True, timeout=300, env={**os.environ, **environment},
    )  # fmt: skip


def test_the_cycle_benchmark_refuses_a_database_that_holds_tables_in_one_line(tmp_path):
    taken = tmp_path / "taken.db"
    with sqlite3.connect(taken) as conn:
        conn.execute("CREATE TABLE feeds (id INTEGER)")
    done = _fetch_cycle("--database", f"sqlite:///{taken}")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"--database sqlite:///{taken} holds 1 table: the benchmark needs an empty database"
    ]
    unreachable = _fetch_cycle("--database", "postgresql://nobody@127.0.0.1:9/none")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("cannot use --database postgresql://nobody@127.0.0.1:9/")
    assert "Traceback" not in unreachable.stderr


def test_the_cycle_benchmark_measures_the_production_store_it_is_given(postgres_url, corpus):
    done = _fetch_cycle(
        "--database", postgres_url, "--feeds", "4", "--latency", "0.05",
        MONITOR_SHARED_DIR=str(corpus.parent),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Python 3.11" in done.stdout and "PostgreSQL)" in done.stdout
    busy = re.search(r"the writer was busy (\S+) s of the first cycle's (\S+) s", done.stdout)
    assert busy is not None and 0 < float(busy[1]) <= float(busy[2])
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feeds")).scalar() == 4
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() > 0
    engine.dispose()


def test_the_cycle_benchmark_keeps_each_store_s_report_apart():
    fetch_cycle = _bench("fetch_cycle")
    postgresql = fetch_cycle.RESULTS[fetch_cycle.store_name("postgresql+psycopg://u@host/db")]
    sqlite = fetch_cycle.RESULTS[fetch_cycle.store_name(None)]
    assert (postgresql.name, sqlite.name) == ("fetch_cycle-postgresql.md", "fetch_cycle.md")
