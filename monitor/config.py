"""Load and validate ``config.toml`` into frozen settings.

The dataclasses below are the schema: a key that is not a field is an error, a
value of the wrong type is an error, and every field must be documented in
``docs/configuration.md`` (a test checks it).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
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
class ThemeSettings:
    count: int = 12
    top_terms: int = 10
    max_items: int = 50_000
    seed: int = 13


@dataclass(frozen=True)
class AlertChannelSettings:
    """Where alerts go: an SMTP mailbox, a webhook or Apprise URLs."""

    name: str
    #: 'email', 'webhook' or 'apprise'
    type: str
    #: email: SMTP server, 'starttls', 'ssl' or 'none', credentials from these variables
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    username_env: str = ""
    password_env: str = ""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    #: webhook: URL, and the variable holding the HMAC-SHA256 secret (no signature when empty)
    url: str = ""
    secret_env: str = ""
    #: apprise: notification URLs (slack://, msteams://, tgram://, matrix://, …)
    apprise_urls: tuple[str, ...] = ()
    timeout: float = 10.0


@dataclass(frozen=True)
class AlertRuleSettings:
    """One alert rule: what to watch, whom to tell, how often."""

    name: str
    #: 'match', 'spike' or 'shift'
    kind: str
    channels: tuple[str, ...]
    #: 'immediate', 'hourly' or 'daily' (a digest at digest_time in time_zone)
    delivery: str = "immediate"
    digest_time: str = "08:00"
    time_zone: str = "UTC"
    enabled: bool = True
    #: filter: items positive for any of these topics / frames, with at least min_score
    topics: tuple[str, ...] = ()
    frames: tuple[str, ...] = ()
    min_score: float = 0.0
    query: str = ""
    publishers: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    #: spike and shift: the topic or frame watched, window length and baseline windows
    label: str = ""
    window_hours: float = 24.0
    baseline_windows: int = 8
    #: spike: latest count above mean + k·σ of the baseline and at least min_count
    k: float = 3.0
    min_count: int = 5
    #: shift: two-proportion test below this p-value, with at least min_items per side
    p_value: float = 0.01
    min_items: int = 20
    #: shift: 'both', or 'rise' / 'fall' for a one-sided test that watches one direction
    direction: str = "both"


@dataclass(frozen=True)
class AlertSettings:
    #: seconds between two evaluate-and-send cycles of the worker
    tick_seconds: float = 60.0
    #: a message is retried with exponential backoff, then marked failed
    max_attempts: int = 12
    backoff_seconds: float = 30.0
    max_backoff_seconds: float = 3600.0
    lease_seconds: float = 300.0
    batch_size: int = 50
    channels: tuple[AlertChannelSettings, ...] = ()
    rules: tuple[AlertRuleSettings, ...] = ()


@dataclass(frozen=True)
class EventSettings:
    date: str
    label: str


@dataclass(frozen=True)
class DashboardSettings:
    host: str = "127.0.0.1"
    port: int = 8050
    #: key events drawn on time charts; empty means the built-in list
    events: tuple[EventSettings, ...] = ()


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    full_text: FullTextSettings = field(default_factory=FullTextSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    tagging: TaggingSettings = field(default_factory=TaggingSettings)
    themes: ThemeSettings = field(default_factory=ThemeSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
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

    for section in ("fetch", "full_text", "dedupe", "scheduler", "backfill", "themes", "alerts"):
        positive(section, getattr(settings, section))
    _check_tagging(settings.tagging, source)
    for i, event in enumerate(settings.dashboard.events):
        try:
            datetime.date.fromisoformat(event.date)
        except ValueError:
            raise ConfigError(
                f"{source}: 'dashboard.events[{i}].date' is not a YYYY-MM-DD date: {event.date!r}"
            ) from None
    _check_alerts(settings, source)
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


ALERT_KINDS = ("match", "spike", "shift")
ALERT_DELIVERIES = ("immediate", "hourly", "daily")
SHIFT_DIRECTIONS = ("both", "rise", "fall")
CHANNEL_TYPES = ("email", "webhook", "apprise")
SMTP_SECURITY = ("starttls", "ssl", "none")


def _check_alerts(settings: Settings, source: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from monitor.alerts.query import QueryError, parse_query

    alerts = settings.alerts
    channels: set[str] = set()
    for i, ch in enumerate(alerts.channels):
        key = f"alerts.channels[{i}]"
        if ch.name in channels:
            raise ConfigError(f"{source}: '{key}.name' is used twice: {ch.name}")
        channels.add(ch.name)
        if ch.type not in CHANNEL_TYPES:
            raise ConfigError(
                f"{source}: '{key}.type' must be one of {', '.join(CHANNEL_TYPES)}, not {ch.type!r}"
            )
        if ch.type == "email":
            if ch.security not in SMTP_SECURITY:
                raise ConfigError(
                    f"{source}: '{key}.security' must be one of {', '.join(SMTP_SECURITY)}"
                )
            if not ch.sender or not ch.recipients:
                raise ConfigError(f"{source}: '{key}' needs a sender and recipients")
            if not 0 < ch.smtp_port < 65536:
                raise ConfigError(f"{source}: '{key}.smtp_port' is not a port number")
        if ch.type == "webhook" and not is_http_url(ch.url):
            raise ConfigError(f"{source}: '{key}.url' is not an http(s) URL: {ch.url!r}")
        if ch.type == "apprise" and not ch.apprise_urls:
            raise ConfigError(f"{source}: '{key}.apprise_urls' must not be empty")
        if ch.timeout <= 0:
            raise ConfigError(f"{source}: '{key}.timeout' must be greater than 0")
    labels = {label.id for label in (*settings.tagging.topics, *settings.tagging.frames)}
    frames = {label.id for label in settings.tagging.frames}
    names: set[str] = set()
    for i, rule in enumerate(alerts.rules):
        key = f"alerts.rules[{i}]"
        if not rule.name.strip() or rule.name in names:
            raise ConfigError(f"{source}: '{key}.name' is empty or used twice: {rule.name!r}")
        names.add(rule.name)
        if rule.kind not in ALERT_KINDS:
            raise ConfigError(
                f"{source}: '{key}.kind' must be one of {', '.join(ALERT_KINDS)}, not {rule.kind!r}"
            )
        if rule.delivery not in ALERT_DELIVERIES:
            raise ConfigError(
                f"{source}: '{key}.delivery' must be one of {', '.join(ALERT_DELIVERIES)}"
            )
        if not rule.channels:
            raise ConfigError(f"{source}: '{key}.channels' must not be empty")
        for name in rule.channels:
            if name not in channels:
                raise ConfigError(f"{source}: '{key}.channels' names no channel: {name!r}")
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", rule.digest_time):
            raise ConfigError(f"{source}: '{key}.digest_time' must be HH:MM")
        try:
            ZoneInfo(rule.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{source}: '{key}.time_zone' is not a time zone") from None
        if labels:
            for field_name in ("topics", "frames"):
                for label in getattr(rule, field_name):
                    if label not in labels:
                        raise ConfigError(
                            f"{source}: '{key}.{field_name}' is not a label id: {label!r}"
                        )
        if rule.query:
            try:
                parse_query(rule.query)
            except QueryError as exc:
                raise ConfigError(f"{source}: '{key}.query': {exc}") from None
        for source_type in rule.source_types:
            if source_type not in SOURCE_TYPES:
                raise ConfigError(
                    f"{source}: '{key}.source_types' must be among {', '.join(SOURCE_TYPES)}, "
                    f"not {source_type!r}"
                )
        filters = (rule.topics, rule.frames, rule.query, rule.publishers, rule.source_types)
        if rule.kind == "match" and not any(filters) and not rule.countries and not rule.languages:
            raise ConfigError(f"{source}: '{key}' is a match rule without any filter")
        if rule.kind in ("spike", "shift"):
            if labels and rule.label not in labels:
                raise ConfigError(f"{source}: '{key}.label' is not a topic or frame id")
            if rule.kind == "shift" and frames and rule.label not in frames:
                raise ConfigError(f"{source}: '{key}.label' of a shift rule must be a frame id")
            if rule.window_hours <= 0 or rule.baseline_windows < 1 or rule.k <= 0:
                raise ConfigError(
                    f"{source}: '{key}' needs window_hours > 0, baseline_windows >= 1 and k > 0"
                )
            if not 0 < rule.p_value < 1:
                raise ConfigError(f"{source}: '{key}.p_value' must be in (0, 1)")
            if rule.direction not in SHIFT_DIRECTIONS:
                raise ConfigError(
                    f"{source}: '{key}.direction' must be one of {', '.join(SHIFT_DIRECTIONS)}"
                )
