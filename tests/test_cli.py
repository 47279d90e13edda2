"""The `monitor` commands as a user runs them: real config files, databases and feed server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from tests.feedserver import FeedServer
from tests.test_pipeline import rss

FAST_FETCH = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 5.0}


@pytest.fixture(autouse=True)
def no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config file under test decides; a developer's environment must not."""
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)


def write_config(path: Path, database_url: str, feeds: tuple[dict[str, Any], ...] = ()) -> Path:
    lines = ["[database]", f"url = {json.dumps(database_url)}", "", "[fetch]"]
    lines += [f"{key} = {value}" for key, value in FAST_FETCH.items()]
    for feed in feeds:
        lines += ["", "[[feeds]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in feed.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def run_cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def feed_spec(url: str, publisher: str, **extra: object) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "url": url,
        "publisher": publisher,
        "source_type": "think_tank",
        "country": "US",
        "language": "en",
    }
    return {**spec, **extra}


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("monitor: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def json_output(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- help --------------------------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every group and command under `group`, so a new command is covered without edits."""
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMAND_PATHS = list(command_paths(cli))


def test_command_walk_finds_every_documented_command() -> None:
    expected = {
        ("init",),
        ("fetch",),
        ("run",),
        ("up",),
        ("status",),
        ("feeds",),
        ("feeds", "list"),
        ("feeds", "add"),
        ("feeds", "enable"),
        ("feeds", "disable"),
        ("feeds", "import-opml"),
        ("feeds", "export-opml"),
    }
    assert expected <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(("monitor", *p)))
def test_help_works_for_every_command_and_group(path: tuple[str, ...], tmp_path: Path) -> None:
    # a config that points nowhere proves --help needs neither a config nor a database
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "absent.toml"), *path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.stdout
    assert " ".join(path) in result.stdout.splitlines()[0]
    command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help, f"{' '.join(path) or 'monitor'} has no help text"


# --- init --------------------------------------------------------------------------


def test_init_twice_is_idempotent_and_says_so(database_url: str, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.toml",
        database_url,
        (feed_spec("https://example.org/feed.xml", "Example Institute"),),
    )
    first = run_cli(config, "init")
    assert first.exit_code == 0, first.output
    assert "database created" in first.stdout
    assert "configured feeds: 1 added, 0 updated" in first.stdout

    second = run_cli(config, "init")
    assert second.exit_code == 0, second.output
    assert "database up to date" in second.stdout
    assert "configured feeds: 0 added, 0 updated" in second.stdout
    assert [f["url"] for f in json_output(run_cli(config, "feeds", "list", "--json"))] == [
        "https://example.org/feed.xml"
    ]


# --- fetch and status ----------------------------------------------------------------


@pytest.fixture
def fetched(database_url: str, tmp_path: Path, feed_server: FeedServer) -> tuple[Path, Result]:
    """Two configured feeds, one serving two items and one answering 404, after one fetch."""
    good = feed_server.add(
        "/good.xml",
        rss(
            ("g1", "NATO door stays open", "https://example.org/g1"),
            ("g2", "Neutrality debate", "https://example.org/g2"),
        ),
    )
    missing = feed_server.url("/missing.xml")
    config = write_config(
        tmp_path / "config.toml",
        database_url,
        (feed_spec(good, "Good Institute"), feed_spec(missing, "Missing Institute")),
    )
    assert run_cli(config, "init").exit_code == 0
    return config, run_cli(config, "fetch")


def test_fetch_prints_summary_and_exits_0_when_one_feed_fails(
    fetched: tuple[Path, Result], feed_server: FeedServer
) -> None:
    _config, result = fetched
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2 feeds checked: 1 ok, 0 unchanged, 1 failed; items: 2 new")
    failures = [line for line in lines if line.startswith("  failed: ")]
    assert len(failures) == 1
    assert "404" in failures[0]
    assert feed_server.hits("/missing.xml") == 1


def test_status_json_has_per_feed_status_items_and_totals(
    fetched: tuple[Path, Result], feed_server: FeedServer
) -> None:
    config, _ = fetched
    status = json_output(run_cli(config, "status", "--json"))
    by_url = {feed["url"]: feed for feed in status["feeds"]}
    good = by_url[feed_server.url("/good.xml")]
    missing = by_url[feed_server.url("/missing.xml")]
    assert (good["status"], good["items"], good["verified"]) == ("ok", 2, True)
    assert (missing["status"], missing["items"], missing["verified"]) == ("error", 0, False)
    assert "404" in missing["status_line"]
    assert good["last_success_at"].endswith("Z")
    assert status["totals"] == {
        "feeds": 2,
        "items": 2,
        "feeds_by_status": {"ok": 1, "error": 1},
    }


def test_status_text_has_one_block_per_feed_and_a_total_line(
    fetched: tuple[Path, Result],
) -> None:
    config, _ = fetched
    result = run_cli(config, "status")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sum("items ·" in line for line in lines) == 2
    assert lines[-1] == "2 feeds (1 error, 1 ok); 2 items"


# --- feeds list / add / enable / disable ---------------------------------------------


def initialise(tmp_path: Path, database_url: str) -> Path:
    config = write_config(
        tmp_path / "config.toml",
        database_url,
        (feed_spec("https://example.org/feed.xml", "Example Institute", full_text=True),),
    )
    assert run_cli(config, "init").exit_code == 0
    return config


@pytest.fixture
def initialised(database_url: str, tmp_path: Path) -> Path:
    return initialise(tmp_path, database_url)


def test_feeds_list_json_describes_each_feed(initialised: Path) -> None:
    [feed] = json_output(run_cli(initialised, "feeds", "list", "--json"))
    assert {k: feed[k] for k in ("url", "publisher", "source_type", "country", "language")} == {
        "url": "https://example.org/feed.xml",
        "publisher": "Example Institute",
        "source_type": "think_tank",
        "country": "US",
        "language": "en",
    }
    assert (feed["verified"], feed["enabled"], feed["status"], feed["items"]) == (
        False,
        True,
        "new",
        0,
    )


def test_feeds_add_stores_the_feed_with_its_metadata(initialised: Path) -> None:
    url = "https://example.com/rss"
    result = run_cli(
        initialised,
        "feeds",
        "add",
        url,
        "--publisher",
        "Ministry of Foreign Affairs",
        "--source-type",
        "government",
        "--country",
        "ua",
        "--language",
        "UK",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("added feed ") and url in result.stdout
    feeds = {f["url"]: f for f in json_output(run_cli(initialised, "feeds", "list", "--json"))}
    added = feeds[url]
    assert (added["publisher"], added["source_type"], added["country"], added["language"]) == (
        "Ministry of Foreign Affairs",
        "government",
        "UA",
        "uk",
    )


def test_feeds_add_same_url_twice_fails_with_one_line(initialised: Path) -> None:
    args = ("feeds", "add", "https://example.com/rss", "--publisher", "Example Media")
    assert run_cli(initialised, *args).exit_code == 0
    again = run_cli(initialised, *args)
    assert_one_line_error(again, 2, "already present", "https://example.com/rss")
    assert len(json_output(run_cli(initialised, "feeds", "list", "--json"))) == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("ftp://example.com/rss",), "not an http(s) URL"),
        (("https://example.com/rss", "--language", "english"), "--language"),
        (("https://example.com/rss", "--country", "Germany"), "--country"),
    ],
)
def test_feeds_add_rejects_bad_arguments_with_one_line(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    config = initialise(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")
    result = run_cli(config, "feeds", "add", *args, "--publisher", "Example Media")
    assert_one_line_error(result, 2, fragment)


def test_feeds_disable_then_enable_by_id_and_url(initialised: Path) -> None:
    [feed] = json_output(run_cli(initialised, "feeds", "list", "--json"))

    disabled = run_cli(initialised, "feeds", "disable", str(feed["id"]))
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stdout.startswith(f"feed {feed['id']} disabled")
    [after] = json_output(run_cli(initialised, "feeds", "list", "--json"))
    assert (after["enabled"], after["status"]) == (False, "disabled")
    assert "[disabled]" in run_cli(initialised, "feeds", "list").stdout

    enabled = run_cli(initialised, "feeds", "enable", feed["url"])
    assert enabled.exit_code == 0, enabled.output
    [after] = json_output(run_cli(initialised, "feeds", "list", "--json"))
    assert (after["enabled"], after["status"]) == (True, "new")


def test_feeds_enable_unknown_feed_fails_with_one_line(initialised: Path) -> None:
    assert_one_line_error(run_cli(initialised, "feeds", "enable", "999"), 2, "no feed", "999")


# --- databases that cannot be used ----------------------------------------------------

STORE_COMMANDS = [
    ("status",),
    ("status", "--json"),
    ("fetch",),
    ("run",),
    ("feeds", "list"),
    ("feeds", "add", "https://example.com/rss", "--publisher", "Example Media"),
    ("feeds", "enable", "1"),
    ("feeds", "disable", "1"),
    ("feeds", "export-opml"),
]


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=" ".join)
def test_commands_on_uninitialised_database_say_to_run_init(
    database_url: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    config = write_config(tmp_path / "config.toml", database_url)
    assert_one_line_error(run_cli(config, *args), 1, "run `monitor init`")


def test_import_opml_on_uninitialised_database_says_to_run_init(
    database_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.toml", database_url)
    opml = Path(__file__).parent / "data" / "opml" / "opml1.opml"
    assert_one_line_error(
        run_cli(config, "feeds", "import-opml", str(opml)), 1, "run `monitor init`"
    )


UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/monitor"


@pytest.mark.parametrize(
    "args", [("init",), ("status",), ("fetch",), ("feeds", "list")], ids=" ".join
)
def test_unreachable_postgres_is_one_line_without_traceback(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    config = write_config(tmp_path / "config.toml", UNREACHABLE_POSTGRES)
    assert_one_line_error(run_cli(config, *args), 1, "127.0.0.1", "port 1")


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "absent.toml", "status")
    assert_one_line_error(result, 2, "config file not found")
