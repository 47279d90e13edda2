"""Every error the monitor raises on purpose.

    MonitorError
    ├── ConfigError (also ValueError)      config.toml or environment is wrong
    ├── InputError (also ValueError)       a command argument or an input file is wrong
    ├── StoreError                         the database refused or is not ready
    ├── FeedError                          one feed could not be fetched or parsed
    │   ├── FetchError                     HTTP, network, limits
    │   └── ParseError                     the body is not a feed
    └── ImportFailed                       an import was rejected as a whole

The CLI turns any MonitorError into one line on stderr; everything else is a bug.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of the monitor's own errors."""

    exit_code = 1


class ConfigError(MonitorError, ValueError):
    """The configuration cannot be used; the message names the key."""

    exit_code = 2


class InputError(MonitorError, ValueError):
    """A command argument or an input file is invalid."""

    exit_code = 2


class StoreError(MonitorError):
    """The database cannot be used as asked."""


class FeedError(MonitorError):
    """A feed failed; the feed's status line carries the message."""

    #: how much this failure counts toward backoff (timeouts count less)
    weight: float = 2.0


class FetchError(FeedError):
    """The HTTP exchange failed."""

    def __init__(self, message: str, *, weight: float = 1.0, status: int | None = None):
        super().__init__(message)
        self.weight = weight
        self.status = status


class ParseError(FeedError):
    """The body could not be read as RSS or Atom."""

    weight = 2.0


class ImportFailed(MonitorError):
    """An import was rolled back; nothing was stored."""
