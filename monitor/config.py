"""Load and validate ``config.toml`` into frozen settings.

The dataclasses below are the schema: a key that is not a field is an error, a
value of the wrong type is an error, and every field must be documented in
``docs/configuration.md`` (a test checks it).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ConfigError

SOURCE_TYPES = ("government", "think_tank", "intergovernmental", "media")
DEFAULT_CONFIG_PATH = Path("config.toml")
#: the repository's config.toml: its [tagging] section (the codebook) is the default
REPOSITORY_CONFIG = Path(__file__).resolve().parents[1] / "config.toml"


@dataclass(frozen=True)
class DatabaseSettings:
    #: SQLAlchemy URL; overridden by MONITOR_DATABASE_URL
    url: str = "sqlite:///monitor.db"
    #: seconds a SQLite writer waits for the lock before failing
    sqlite_busy_timeout: float = 30.0


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str = "DiscourseMonitor/0.1 (+https://github.com/discourse-monitor/monitor)"
    concurrency: int = 20
    per_host_concurrency: int = 2
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_response_bytes: int = 10_000_000
    max_redirects: int = 5
    default_interval_minutes: float = 60.0
    min_interval_minutes: float = 15.0
    max_interval_minutes: float = 1440.0
    backoff_step_minutes: float = 30.0
    max_backoff_hours: float = 24.0
    lease_seconds: float = 300.0
    batch_size: int = 100


@dataclass(frozen=True)
class FullTextSettings:
    max_bytes: int = 3_000_000
    timeout: float = 20.0
    concurrency: int = 4


@dataclass(frozen=True)
class DedupeSettings:
    title_window_days: float = 3.0


@dataclass(frozen=True)
class SchedulerSettings:
    tick_seconds: float = 60.0


@dataclass(frozen=True)
class BackfillSettings:
    max_pages: int = 50
    delay_seconds: float = 2.0


@dataclass(frozen=True)
class FeedSettings:
    url: str
    publisher: str
    source_type: str
    country: str
    language: str
    verified: bool = False
    full_text: bool = False
    title: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class LabelSettings:
    id: str
    name: str
    description: str = ""
    #: the one colour this label has everywhere (charts, legends)
    color: str = ""


@dataclass(frozen=True)
class RuleSettings:
    id: str
    label: str
    phrases: tuple[str, ...]
    language: str = "*"
    near: tuple[str, ...] = ()
    window: int = 5
    exclude: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class TaggingSettings:
    topics: tuple[LabelSettings, ...] = ()
    frames: tuple[LabelSettings, ...] = ()
    rules: tuple[RuleSettings, ...] = ()
    #: the frame given to on-topic items that no other frame fits
    residual_frame: str = "factual_report"
    #: model artifact directory; empty means the one shipped with the package
    model_dir: str = ""


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    full_text: FullTextSettings = field(default_factory=FullTextSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    tagging: TaggingSettings = field(default_factory=TaggingSettings)
    feeds: tuple[FeedSettings, ...] = ()
    #: where the settings came from, for messages; not a config key
    path: str = field(default="<defaults>", metadata={"internal": True})


#: environment variables that override a key (secrets and deployment values)
ENV_OVERRIDES = {
    "MONITOR_DATABASE_URL": ("database", "url"),
}


def config_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read the config file (``--config``, ``MONITOR_CONFIG`` or ./config.toml)."""
    chosen = Path(path or os.environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG_PATH)
    if not chosen.exists():
        if path is None and "MONITOR_CONFIG" not in os.environ:
            raw: dict[str, Any] = {}
        else:
            raise ConfigError(f"config file not found: {chosen}")
    else:
        try:
            raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{chosen}: not valid TOML: {exc}") from None
    return settings_from_dict(raw, source=str(chosen))


def settings_from_dict(raw: dict[str, Any], *, source: str = "<dict>") -> Settings:
    raw = _apply_env(dict(raw))
    if "tagging" not in raw:
        raw["tagging"] = default_tagging_section()
    settings: Settings = dataclasses.replace(
        _build(Settings, raw, prefix="", source=source), path=source
    )
    _check_semantics(settings, source)
    return settings


@cache
def _repository_tagging() -> dict[str, Any]:
    if not REPOSITORY_CONFIG.exists():
        return {}
    section = tomllib.loads(REPOSITORY_CONFIG.read_text(encoding="utf-8")).get("tagging", {})
    return section if isinstance(section, dict) else {}


def default_tagging_section() -> dict[str, Any]:
    """The codebook's labels and rules, as the repository's config.toml states them."""
    return copy.deepcopy(_repository_tagging())


def _apply_env(raw: dict[str, Any]) -> dict[str, Any]:
    for var, (section, key) in ENV_OVERRIDES.items():
        value = os.environ.get(var)
        if value:
            raw[section] = {**raw.get(section, {}), key: value}
    return raw


def _build(cls: type, raw: Any, *, prefix: str, source: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.')}' must be a table")
    known = {f.name: f for f in config_fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, f in known.items():
        key = f"{prefix}{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: missing key '{key}'")
            continue
        values[name] = _coerce(hints[name], raw[name], key=key, source=source)
    return cls(**values)


def _coerce(hint: Any, value: Any, *, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, prefix=f"{key}.", source=source)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{key}' must be a list")
        return tuple(
            _coerce(inner, v, key=f"{key}[{i}]", source=source) for i, v in enumerate(value)
        )
    expected = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}[hint]
    ok = (
        isinstance(value, bool)
        if hint is bool
        else (isinstance(value, (int, float)) and not isinstance(value, bool))
        if hint is float
        else isinstance(value, hint) and not isinstance(value, bool)
    )
    if not ok:
        raise ConfigError(f"{source}: '{key}' must be {expected}, not {value!r}")
    return float(value) if hint is float else value


def _check_semantics(settings: Settings, source: str) -> None:
    def positive(section: str, obj: Any) -> None:
        for f in config_fields(type(obj)):
            value = getattr(obj, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                raise ConfigError(f"{source}: '{section}.{f.name}' must be greater than 0")

    for section in ("fetch", "full_text", "dedupe", "scheduler", "backfill"):
        positive(section, getattr(settings, section))
    _check_tagging(settings.tagging, source)
    fetch = settings.fetch
    if fetch.min_interval_minutes > fetch.max_interval_minutes:
        raise ConfigError(
            f"{source}: 'fetch.min_interval_minutes' must not exceed 'fetch.max_interval_minutes'"
        )
    if "://" not in settings.database.url:
        raise ConfigError(
            f"{source}: 'database.url' is not a database URL: {settings.database.url!r}"
        )
    seen: set[str] = set()
    for i, feed in enumerate(settings.feeds):
        key = f"feeds[{i}]"
        if not is_http_url(feed.url):
            raise ConfigError(f"{source}: '{key}.url' is not an http(s) URL: {feed.url!r}")
        if feed.url in seen:
            raise ConfigError(f"{source}: '{key}.url' is listed twice: {feed.url}")
        seen.add(feed.url)
        if feed.source_type not in SOURCE_TYPES:
            raise ConfigError(
                f"{source}: '{key}.source_type' must be one of {', '.join(SOURCE_TYPES)}, "
                f"not {feed.source_type!r}"
            )
        if not (len(feed.language) == 2 and feed.language.isalpha() and feed.language.islower()):
            raise ConfigError(f"{source}: '{key}.language' must be an ISO 639-1 code such as 'en'")
        if not feed.publisher.strip():
            raise ConfigError(f"{source}: '{key}.publisher' must not be empty")


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def _check_tagging(tagging: TaggingSettings, source: str) -> None:
    ids: set[str] = set()
    for kind, labels in (("topics", tagging.topics), ("frames", tagging.frames)):
        for i, label in enumerate(labels):
            if not re.fullmatch(r"[a-z][a-z0-9_]*", label.id):
                raise ConfigError(
                    f"{source}: 'tagging.{kind}[{i}].id' must be lower_snake_case: {label.id!r}"
                )
            if label.id in ids:
                raise ConfigError(f"{source}: 'tagging.{kind}[{i}].id' is used twice: {label.id}")
            ids.add(label.id)
    if tagging.frames and tagging.residual_frame not in {f.id for f in tagging.frames}:
        raise ConfigError(f"{source}: 'tagging.residual_frame' is not a frame id")
    rule_ids: set[str] = set()
    for i, rule in enumerate(tagging.rules):
        key = f"tagging.rules[{i}]"
        if rule.label not in ids:
            raise ConfigError(f"{source}: '{key}.label' is not a topic or frame id: {rule.label!r}")
        if rule.id in rule_ids:
            raise ConfigError(f"{source}: '{key}.id' is used twice: {rule.id}")
        rule_ids.add(rule.id)
        if not rule.phrases:
            raise ConfigError(f"{source}: '{key}.phrases' must not be empty")
        if not 0 < rule.weight <= 1:
            raise ConfigError(f"{source}: '{key}.weight' must be in (0, 1]")
