import dataclasses
import re
import typing

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import Settings, config_fields, load_settings
from monitor.errors import ConfigError
from tests.conftest import REPO


def _keys(cls: type, prefix: str = "") -> list[str]:
    hints = typing.get_type_hints(cls)
    keys = []
    for f in config_fields(cls):
        hint = hints[f.name]
        inner = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else hint
        if dataclasses.is_dataclass(inner):
            keys.extend(_keys(inner, f"{prefix}{f.name}."))
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def test_every_config_key_is_documented():
    doc = (REPO / "docs" / "configuration.md").read_text()
    first_cells = re.findall(r"^\| ([^|]+) \|", doc, flags=re.M)
    documented = {key for cell in first_cells for key in re.findall(r"`([a-z_.]+)`", cell)}
    missing = [k for k in _keys(Settings) if k not in documented]
    assert not missing, f"undocumented keys: {missing}"


def test_repository_config_loads_with_forty_or_more_described_feeds():
    settings = load_settings(REPO / "config.toml")
    assert len(settings.feeds) >= 40
    languages = {f.language for f in settings.feeds}
    assert {"en", "uk", "ru", "de", "fr", "pl"} <= languages
    assert {f.source_type for f in settings.feeds} == {
        "government",
        "think_tank",
        "intergovernmental",
        "media",
    }
    assert all(f.publisher and f.country for f in settings.feeds)


def _write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\nconcurency = 3\n", "unknown key 'fetch.concurency'"),
        ("[fetch]\nconcurrency = 'many'\n", "'fetch.concurrency' must be an integer"),
        ("[fetch]\nconnect_timeout = true\n", "'fetch.connect_timeout' must be a number"),
        ("[fetch]\nconcurrency = 0\n", "'fetch.concurrency' must be greater than 0"),
        ("[nonsense]\na = 1\n", "unknown key 'nonsense'"),
        (
            "[[feeds]]\nurl = 'ftp://x.org/f'\npublisher = 'P'\nsource_type = 'media'\n"
            "country = 'US'\nlanguage = 'en'\n",
            "'feeds[0].url' is not an http(s) URL",
        ),
        (
            "[[feeds]]\nurl = 'https://x.org/f'\npublisher = 'P'\nsource_type = 'blog'\n"
            "country = 'US'\nlanguage = 'en'\n",
            "'feeds[0].source_type' must be one of",
        ),
        (
            "[[feeds]]\nurl = 'https://x.org/f'\npublisher = 'P'\nsource_type = 'media'\n"
            "country = 'US'\n",
            "missing key 'feeds[0].language'",
        ),
        ("[database]\nurl = 'monitor.db'\n", "'database.url' is not a database URL"),
        ("[fetch\n", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(_write(tmp_path, text))


def test_invalid_config_exits_2_with_one_line(tmp_path):
    path = _write(tmp_path, "[fetch]\nconcurency = 3\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "init"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "unknown key 'fetch.concurency'" in result.output
    assert "Traceback" not in result.output


def test_environment_overrides_database_url(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_DATABASE_URL", "postgresql://u@db/monitor")
    settings = load_settings(_write(tmp_path, "[database]\nurl = 'sqlite:///x.db'\n"))
    assert settings.database.url == "postgresql://u@db/monitor"


def test_config_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_CONFIG", str(_write(tmp_path, "[fetch]\nconcurrency = 7\n")))
    assert load_settings().fetch.concurrency == 7


def test_missing_named_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml")
