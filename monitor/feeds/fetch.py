"""HTTP retrieval: conditional GET with limits. Knows nothing of the database.

aiohttp, not httpx: the worker's one core bounds a cycle, and aiohttp reads a body
for about a sixth of the CPU time (bench/README.md).
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, DecompressSizeError
from yarl import URL

from monitor.config import FetchSettings
from monitor.errors import FetchError

#: a timeout counts half of a refused connection toward backoff; a hard error counts double
TIMEOUT_WEIGHT = 0.5
NETWORK_WEIGHT = 1.0
HARD_WEIGHT = 2.0
_PERMANENT = frozenset({301, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: statuses whose body is a feed worth reading
_SUCCESS = frozenset({200, 203})
#: an answer's body up to this size is read even when unused, to keep the connection
_DRAIN = 65_536
#: the longest response header line accepted (aiohttp's default is 8 KiB)
_MAX_HEADER = 65_536


@dataclass(frozen=True)
class FetchRequest:
    feed_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    request: FetchRequest
    started_at: datetime
    duration: float
    #: the URL that finally answered
    final_url: str
    #: set when every redirect on the way was permanent: the feed's new address
    moved_to: str | None = None
    status: int | None = None
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    #: seconds from Cache-Control max-age, if the server sent one
    max_age: float | None = None
    #: seconds from Retry-After on 429/503
    retry_after: float | None = None
    error: FetchError | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def gone(self) -> bool:
        return self.status == 410


class HostLimiter:
    """A global and a per-host cap on requests in flight."""

    def __init__(self, total: int, per_host: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        async with self._per_host[host], self._total:
            yield


def make_client(settings: FetchSettings) -> aiohttp.ClientSession:
    """One session per cycle: its connections are kept alive between requests to a host."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        ),
        headers={
            "User-Agent": settings.user_agent,
            "Accept": "application/atom+xml, application/rss+xml, application/rdf+xml, "
            "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            "Accept-Encoding": "gzip, deflate",
        },
        connector=aiohttp.TCPConnector(limit=settings.concurrency * 2, limit_per_host=0),
        # the environment's proxies are looked up by via_proxy instead: with trust_env,
        # every request reads them and ~/.netrc in a thread, two thread hand-offs a fetch
        trust_env=False,
        # some publishers send headers of tens of kilobytes (security policies, cookies)
        max_line_size=_MAX_HEADER,
        max_field_size=_MAX_HEADER,
    )


def via_proxy(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """client.get's arguments, `headers` included, for the proxy that HTTP_PROXY,
    HTTPS_PROXY and NO_PROXY name for this URL.

    Read at each request, so a changed environment applies at once; as in aiohttp's
    own reading of them, a proxy reached by HTTPS is not used.
    """
    arguments: dict[str, Any] = {"headers": dict(headers or {})}
    parts = urlsplit(url)
    named = urllib.request.getproxies_environment().get(parts.scheme)
    if not named or urllib.request.proxy_bypass(parts.hostname or ""):
        return arguments
    proxy = URL(named)
    if proxy.scheme != "http":
        return arguments
    arguments["proxy"] = proxy.with_user(None)
    if proxy.user is not None:
        credentials = {
            "Proxy-Authorization": aiohttp.encode_basic_auth(proxy.user, proxy.password or "")
        }
        # an https:// URL is tunnelled: the credentials go with the tunnel's CONNECT
        if parts.scheme == "https":
            arguments["proxy_headers"] = credentials
        else:
            arguments["headers"].update(credentials)
    return arguments


async def fetch(
    client: aiohttp.ClientSession,
    request: FetchRequest,
    settings: FetchSettings,
    limiter: HostLimiter | None = None,
) -> FetchResult:
    """One conditional GET, following redirects by hand; never raises for HTTP trouble."""
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    state = _Redirects(request.url)
    try:
        while True:
            slot = limiter.slot(state.url) if limiter else nullcontext()
            async with slot:
                # the total timeout covers time on the wire, not time queued for a slot
                async with asyncio.timeout(settings.total_timeout):
                    response, body = await _get(client, state.url, request, settings)
            if response.status in _REDIRECTS and "location" in response.headers:
                state.follow(response, settings.max_redirects)
                continue
            break
    except FetchError as exc:
        return _failed(request, started_at, clock, state, exc)
    except TimeoutError:
        timeout = FetchError(
            f"timed out: no complete answer within {settings.total_timeout:g} s",
            weight=TIMEOUT_WEIGHT,
        )
        return _failed(request, started_at, clock, state, timeout)

    headers = response.headers
    status = response.status
    error: FetchError | None = None
    retry_after = None
    if status in (429, 503):
        # "slow down", not "broken": counts like a 5xx, whatever its class
        retry_after = parse_retry_after(headers.get("retry-after"), datetime.now(UTC))
        error = FetchError(
            f"HTTP {status} {response.reason or ''}".strip(), weight=NETWORK_WEIGHT, status=status
        )
    elif status == 410:
        error = FetchError("HTTP 410 Gone", weight=HARD_WEIGHT, status=status)
    elif status >= 400:
        weight = HARD_WEIGHT if status < 500 else NETWORK_WEIGHT
        error = FetchError(
            f"HTTP {status} {response.reason or ''}".strip(), weight=weight, status=status
        )
    elif status not in _SUCCESS and status != 304:
        error = FetchError(f"unexpected HTTP {status}", weight=HARD_WEIGHT, status=status)
    return FetchResult(
        request=request,
        started_at=started_at,
        duration=time.monotonic() - clock,
        final_url=state.url,
        # a move is believed only once the new address answers
        moved_to=state.moved_to if error is None else None,
        status=status,
        body=body if status in _SUCCESS else None,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        content_type=headers.get("content-type"),
        max_age=parse_max_age(headers.get("cache-control")),
        retry_after=retry_after,
        error=error,
    )


async def _get(
    client: aiohttp.ClientSession, url: str, request: FetchRequest, settings: FetchSettings
) -> tuple[aiohttp.ClientResponse, bytes]:
    headers = {}
    # validators belong to the configured URL; send them to wherever it redirects too
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    try:
        async with client.get(url, allow_redirects=False, **via_proxy(url, headers)) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.max_response_bytes:
                # refused before a byte of the body is read
                raise _too_large(settings, f" (Content-Length {declared})")
            chunks: list[bytes] = []
            size = 0
            if response.status in _SUCCESS:
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > settings.max_response_bytes:
                        raise _too_large(settings)
                    chunks.append(chunk)
            elif response.status == 304 or (declared.isdigit() and int(declared) <= _DRAIN):
                # read to its end, the connection serves the next request; closed unread, it
                # would be dropped and every 304 would pay for a new one
                await response.read()
            return response, b"".join(chunks)
    except aiohttp.ConnectionTimeoutError:
        raise FetchError(
            f"timed out: no connection within {settings.connect_timeout:g} s",
            weight=TIMEOUT_WEIGHT,
        ) from None
    except aiohttp.SocketTimeoutError:
        raise FetchError(
            f"timed out: the server sent nothing for {settings.read_timeout:g} s",
            weight=TIMEOUT_WEIGHT,
        ) from None
    except aiohttp.ClientPayloadError as exc:
        if isinstance(exc.__cause__, ContentEncodingError | DecompressSizeError):
            raise FetchError(
                f"cannot decode the response: {_describe(exc)}", weight=HARD_WEIGHT
            ) from None
        raise FetchError(f"network error: {_describe(exc)}", weight=NETWORK_WEIGHT) from None
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise FetchError(f"invalid URL: {exc}", weight=HARD_WEIGHT) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise FetchError(f"network error: {_describe(exc)}", weight=NETWORK_WEIGHT) from None


def _too_large(settings: FetchSettings, detail: str = "") -> FetchError:
    return FetchError(
        f"response larger than {settings.max_response_bytes} bytes{detail}", weight=HARD_WEIGHT
    )


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return re.sub(r"\s+", " ", text)[:300]


class _Redirects:
    """Tracks a redirect chain: loops, the limit, and whether the move is permanent."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen = {url}
        self.all_permanent = True
        self.moved_to: str | None = None

    def follow(self, response: aiohttp.ClientResponse, limit: int) -> None:
        target = urljoin(self.url, response.headers["location"].strip())
        if urlsplit(target).scheme not in ("http", "https"):
            raise FetchError(f"redirect to a non-HTTP URL: {target}", weight=HARD_WEIGHT)
        if target in self.seen:
            raise FetchError(f"redirect loop at {target}", weight=HARD_WEIGHT)
        if len(self.seen) > limit:
            raise FetchError(f"more than {limit} redirects", weight=HARD_WEIGHT)
        self.seen.add(target)
        self.all_permanent = self.all_permanent and response.status in _PERMANENT
        self.moved_to = target if self.all_permanent else None
        self.url = target


def _failed(
    request: FetchRequest, started_at: datetime, clock: float, state: _Redirects, exc: FetchError
) -> FetchResult:
    return FetchResult(
        request=request,
        started_at=started_at,
        duration=time.monotonic() - clock,
        final_url=state.url,
        error=exc,
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    match = re.search(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", cache_control.lower())
    return float(match.group(1)) if match else None
