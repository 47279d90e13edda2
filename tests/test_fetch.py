"""Fetch politeness and failures against a real loopback server.

What the store records (URL moves, backoff, validators, intervals) runs on both
databases; checks of the HTTP exchange alone run on SQLite or without a database,
to keep the file fast.
"""

import asyncio
import base64
import gzip
import time
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from monitor.config import FeedSettings
from monitor.feeds.fetch import (
    FetchRequest,
    FetchResult,
    HostLimiter,
    fetch,
    make_client,
    parse_max_age,
    parse_retry_after,
    via_proxy,
)
from monitor.pipeline import run_cycle
from monitor.store.feeds import add_feed
from monitor.store.models import Entry, Feed, FetchEvent, Item
from monitor.store.session import transaction
from tests.conftest import make_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SY = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'


def rss(guid: str = "g1", extra: str = "", ns: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {ns}><channel>'
        f"<title>Test feed</title><link>https://example.org/</link>{extra}"
        f"<item><guid>{guid}</guid><title>Story {guid}</title>"
        f"<link>https://example.org/{guid}</link>"
        "<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    ).encode()


def add(engine, url: str) -> int:
    spec = FeedSettings(
        url=url, publisher="Test Publisher", source_type="think_tank", country="US", language="en"
    )
    with transaction(engine) as session:
        return add_feed(session, spec, interval_seconds=3600).id


def cycle(engine, now=NOW, **fetch_settings):
    settings = make_settings(fetch=fetch_settings) if fetch_settings else make_settings()
    return run_cycle(settings, engine, now=now, include_not_due=True)


def feed(engine, feed_id: int) -> Feed:
    with transaction(engine) as session:
        return session.get_one(Feed, feed_id)


def events(engine, feed_id: int) -> list[FetchEvent]:
    with transaction(engine) as session:
        query = select(FetchEvent).where(FetchEvent.feed_id == feed_id).order_by(FetchEvent.id)
        return list(session.scalars(query).all())


def redirect(server, path: str, to: str, status: int = 301) -> str:
    return server.add(path, status=status, headers={"Location": to})


def fetch_now(url: str, etag: str | None = None, **fetch_settings) -> FetchResult:
    """One fetch outside the pipeline, where the database adds nothing."""
    settings = make_settings(fetch=fetch_settings).fetch

    async def go() -> FetchResult:
        async with make_client(settings) as client:
            return await fetch(client, FetchRequest(1, url, etag=etag), settings)

    return asyncio.run(go())


# --- redirects ---


def test_permanent_redirect_chain_updates_feed_url_and_keeps_original(engine, feed_server):
    final = feed_server.add("/new.xml", rss())
    redirect(feed_server, "/moved-again", final, status=308)
    old = redirect(feed_server, "/old.xml", feed_server.url("/moved-again"), status=301)
    feed_id = add(engine, old)

    cycle(engine)
    moved = feed(engine, feed_id)
    assert (moved.url, moved.original_url) == (final, old)
    assert moved.status == "ok" and events(engine, feed_id)[0].url == final

    cycle(engine, now=NOW + 2 * HOUR)
    assert feed_server.hits("/old.xml") == 1  # the next cycle goes straight to the new address
    assert feed_server.hits("/new.xml") == 2


def test_temporary_redirects_keep_feed_url(sqlite_engine, feed_server):
    final = feed_server.add("/feed.xml", rss())
    urls = {
        "302": redirect(feed_server, "/found", final, status=302),
        "307": redirect(feed_server, "/temporary", final, status=307),
        # one temporary hop makes the whole move temporary
        "301+302": redirect(
            feed_server, "/mixed", redirect(feed_server, "/mixed-2", final, status=302)
        ),
    }
    ids = {name: add(sqlite_engine, url) for name, url in urls.items()}

    report = cycle(sqlite_engine)
    assert report.feeds_failed == 0
    for name, feed_id in ids.items():
        stored = feed(sqlite_engine, feed_id)
        assert stored.url == urls[name], name
        assert stored.status == "ok", name


def test_permanent_redirect_to_a_failing_address_keeps_feed_url(sqlite_engine, feed_server):
    old = redirect(feed_server, "/old.xml", feed_server.url("/nowhere.xml"))
    feed_id = add(sqlite_engine, old)
    cycle(sqlite_engine)
    stored = feed(sqlite_engine, feed_id)
    assert stored.url == old and stored.status == "error"
    assert stored.status_line.startswith("HTTP 404 Not Found · ")


def test_redirect_loop_and_too_many_redirects_are_failures(sqlite_engine, feed_server):
    redirect(feed_server, "/ping", feed_server.url("/pong"))
    loop = redirect(feed_server, "/pong", feed_server.url("/ping"))
    redirect(feed_server, "/hop3", feed_server.add("/end.xml", rss()))
    redirect(feed_server, "/hop2", feed_server.url("/hop3"))
    long_chain = redirect(feed_server, "/hop1", feed_server.url("/hop2"))
    loop_id, long_id = add(sqlite_engine, loop), add(sqlite_engine, long_chain)

    report = cycle(sqlite_engine, max_redirects=2)
    assert report.feeds_failed == 2
    looped, too_long = feed(sqlite_engine, loop_id), feed(sqlite_engine, long_id)
    assert looped.status_line.startswith(f"redirect loop at {feed_server.url('/pong')} · ")
    assert too_long.status_line.startswith("more than 2 redirects · ")
    for stored in (looped, too_long):
        assert stored.enabled and stored.failure_score == 2.0
        assert stored.url == stored.original_url
    assert feed_server.hits("/end.xml") == 0


def test_redirect_chain_within_max_redirects_is_followed(feed_server):
    redirect(feed_server, "/hop2", feed_server.add("/end.xml", rss()))
    result = fetch_now(redirect(feed_server, "/hop1", feed_server.url("/hop2")), max_redirects=2)
    assert result.error is None and result.status == 200
    assert result.moved_to == feed_server.url("/end.xml")


def test_permanent_redirect_to_another_feeds_url_keeps_both(engine, feed_server):
    taken = feed_server.add("/b.xml", rss())
    old = redirect(feed_server, "/a.xml", taken)
    a_id, b_id = add(engine, old), add(engine, taken)

    report = cycle(engine)
    assert report.feeds_failed == 0
    assert feed(engine, a_id).url == old and feed(engine, b_id).url == taken
    assert feed(engine, a_id).status == feed(engine, b_id).status == "ok"


# --- HTTP errors, backoff, disabling ---


def test_errors_add_weighted_score_and_back_off_linearly_up_to_the_cap(engine, feed_server):
    not_found = add(engine, feed_server.add("/missing.xml", status=404))
    server_error = add(engine, feed_server.add("/broken.xml", b"oops", status=500))
    html = add(engine, feed_server.add("/page.html", b"<html><body>hi</body></html>"))
    limits = {"max_backoff_hours": 2.5}  # interval 1 h + 30 min per unit

    cycle(engine, **limits)
    expected = {not_found: (2.0, 2 * HOUR), server_error: (1.0, 1.5 * HOUR), html: (2.0, 2 * HOUR)}
    for feed_id, (score, wait) in expected.items():
        stored = feed(engine, feed_id)
        assert (stored.failure_score, stored.next_check_at) == (score, NOW + wait)
        assert stored.enabled and stored.status == "error"
    assert feed(engine, not_found).status_line.startswith("HTTP 404 Not Found · 1 failure in")
    assert feed(engine, server_error).status_line.startswith("HTTP 500 Internal Server Error · ")
    assert feed(engine, html).status_line.startswith("parse error: an HTML page, not a feed · ")

    later = NOW + 3 * HOUR
    cycle(engine, now=later, **limits)
    # 1 h + 4 × 30 min = 3 h is over the 2.5 h cap; 1 h + 2 × 30 min is not
    assert feed(engine, not_found).failure_score == 4.0
    assert feed(engine, not_found).next_check_at == later + 2.5 * HOUR
    assert feed(engine, server_error).failure_score == 2.0
    assert feed(engine, server_error).next_check_at == later + 2 * HOUR
    assert "2 failures in a row" in feed(engine, not_found).status_line
    assert all(feed(engine, i).enabled for i in expected)

    for path in ("/missing.xml", "/broken.xml", "/page.html"):
        feed_server.add(path, rss())
    cycle(engine, now=later + 3 * HOUR)
    for feed_id in expected:
        stored = feed(engine, feed_id)
        assert (stored.failure_score, stored.consecutive_failures, stored.status) == (0, 0, "ok")
        assert stored.next_check_at == later + 4 * HOUR


def test_410_disables_the_feed_and_it_is_not_fetched_again(engine, feed_server):
    feed_id = add(engine, feed_server.add("/gone.xml", status=410))
    cycle(engine)
    stored = feed(engine, feed_id)
    assert not stored.enabled and stored.status == "disabled"
    assert stored.disabled_reason == "HTTP 410 Gone"
    assert stored.status_line == "disabled: HTTP 410 Gone (the publisher removed this feed)"
    assert [e.outcome for e in events(engine, feed_id)] == ["gone"]

    cycle(engine, now=NOW + 48 * HOUR)
    assert feed_server.hits("/gone.xml") == 1


def test_retry_after_seconds_and_http_date_set_the_next_check(engine, feed_server):
    seconds = add(
        engine, feed_server.add("/limited.xml", status=429, headers={"Retry-After": "7200"})
    )
    date = format_datetime(datetime.now(UTC) + timedelta(hours=3), usegmt=True)
    dated = add(engine, feed_server.add("/busy.xml", status=503, headers={"Retry-After": date}))
    plain = add(engine, feed_server.add("/down.xml", status=503))

    cycle(engine)
    assert feed(engine, seconds).next_check_at == NOW + 2 * HOUR
    assert "server asked to retry after 7200 s" in feed(engine, seconds).status_line
    waited = feed(engine, dated).next_check_at - NOW
    assert abs(waited - 3 * HOUR) < timedelta(seconds=5)
    assert feed(engine, plain).next_check_at == NOW + 1.5 * HOUR  # normal backoff
    assert [events(engine, i)[0].outcome for i in (seconds, dated, plain)] == [
        "rate_limited",
        "rate_limited",
        "error",
    ]
    assert all(feed(engine, i).enabled for i in (seconds, dated, plain))


def test_slow_server_is_a_quick_timeout_failure_of_weight_half(sqlite_engine, feed_server):
    feed_id = add(sqlite_engine, feed_server.add("/slow.xml", rss(), delay=3.0))
    started = time.monotonic()
    cycle(sqlite_engine, connect_timeout=0.2, read_timeout=0.2, total_timeout=0.5)
    assert time.monotonic() - started < 2.0
    stored = feed(sqlite_engine, feed_id)
    assert stored.failure_score == 0.5 and stored.enabled
    assert stored.next_check_at == NOW + 1.25 * HOUR
    assert stored.status_line.startswith("timed out: the server sent nothing for 0.2 s · ")


def test_total_timeout_bounds_a_request_even_when_reads_are_allowed_longer(feed_server):
    started = time.monotonic()
    result = fetch_now(feed_server.add("/slow.xml", rss(), delay=3.0), total_timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert result.error is not None and result.error.weight == 0.5
    assert str(result.error) == "timed out: no complete answer within 0.3 s"


# --- body size and encodings ---

BIG = rss(extra="<description>" + "x" * 200_000 + "</description>")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        # Content-Length announces the size: refused before reading
        ({}, f"response larger than 50000 bytes (Content-Length {len(BIG)})"),
        # no Content-Length: counted while streaming
        ({"chunked": True}, "response larger than 50000 bytes"),
        # small on the wire, too large once decoded
        ({"gzip": True, "chunked": True}, "response larger than 50000 bytes"),
    ],
    ids=["content-length", "chunked", "gzip-bomb"],
)
def test_oversized_body_is_a_failure(feed_server, route, message):
    result = fetch_now(feed_server.add("/big.xml", BIG, **route), max_response_bytes=50_000)
    assert result.error is not None and result.body is None
    assert str(result.error) == message
    assert result.error.weight == 2.0


def test_chunked_body_under_the_cap_is_read_whole(feed_server):
    result = fetch_now(feed_server.add("/big.xml", BIG, chunked=True), max_response_bytes=300_000)
    assert result.error is None and result.body == BIG


def test_oversized_feed_gets_a_readable_status_line(sqlite_engine, feed_server):
    feed_id = add(sqlite_engine, feed_server.add("/big.xml", BIG))
    cycle(sqlite_engine, max_response_bytes=50_000)
    stored = feed(sqlite_engine, feed_id)
    assert stored.status_line.startswith("response larger than 50000 bytes (Content-Length ")
    assert " · 1 failure in a row · next try " in stored.status_line
    assert stored.failure_score == 2.0 and stored.enabled


def test_gzip_and_deflate_bodies_are_decoded_and_stored(sqlite_engine, feed_server):
    zipped = add(sqlite_engine, feed_server.add("/gz.xml", rss("gz"), gzip=True))
    deflated = add(sqlite_engine, feed_server.add("/deflate.xml", rss("deflate"), deflate=True))

    report = cycle(sqlite_engine)
    assert report.items.new == 2 and report.feeds_failed == 0
    with transaction(sqlite_engine) as session:
        assert sorted(session.scalars(select(Item.title)).all()) == ["Story deflate", "Story gz"]
    accepted = feed_server.requests[-1][1]["Accept-Encoding"]
    assert "gzip" in accepted and "deflate" in accepted
    assert feed(sqlite_engine, zipped).status == feed(sqlite_engine, deflated).status == "ok"


@pytest.mark.parametrize(
    ("encoding", "decompress"), [("gzip", gzip.decompress), ("deflate", zlib.decompress)]
)
def test_compressed_routes_really_send_compressed_bytes(feed_server, encoding, decompress):
    # guards the test above: what arrives on the wire is compressed
    url = feed_server.add("/z.xml", rss(), **{encoding: True})
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(request) as response:  # it decompresses nothing
        wire = response.read()
    assert response.headers["Content-Encoding"] == encoding
    assert wire != rss() and decompress(wire) == rss()


# --- conditional GET and unchanged bodies ---


def seen_times(engine) -> list[tuple[datetime, datetime]]:
    """When each item was last updated and its entry last seen: a parse would move both."""
    query = select(Item.updated_at, Entry.last_seen_at).join(Entry, Entry.item_id == Item.id)
    with transaction(engine) as session:
        return [tuple(row) for row in session.execute(query)]


def test_validators_are_sent_and_304_reparses_nothing(engine, feed_server):
    feed_id = add(engine, feed_server.add("/feed.xml", rss()))
    cycle(engine)
    stored = feed(engine, feed_id)
    assert stored.etag and stored.last_modified == "Wed, 25 Nov 2026 10:00:00 GMT"
    before = seen_times(engine)

    report = cycle(engine, now=NOW + 2 * HOUR)
    headers = feed_server.requests[-1][1]
    assert headers["If-None-Match"] == stored.etag
    assert headers["If-Modified-Since"] == stored.last_modified
    assert report.feeds_unchanged == 1
    assert [e.outcome for e in events(engine, feed_id)] == ["ok", "not_modified"]
    assert events(engine, feed_id)[1].http_status == 304
    assert seen_times(engine) == before
    after = feed(engine, feed_id)
    assert after.etag == stored.etag
    assert after.status_line.startswith("ok · not modified (HTTP 304)")


def test_byte_identical_body_is_unchanged_and_not_parsed(engine, feed_server):
    feed_id = add(engine, feed_server.add("/feed.xml", rss(), conditional=False))
    cycle(engine)
    before = seen_times(engine)

    cycle(engine, now=NOW + 2 * HOUR)
    assert "If-None-Match" not in feed_server.requests[-1][1]
    assert [e.outcome for e in events(engine, feed_id)] == ["ok", "unchanged"]
    assert events(engine, feed_id)[1].entries_seen == 0
    assert seen_times(engine) == before
    assert "body unchanged since last fetch" in feed(engine, feed_id).status_line


# --- publisher intervals ---


def test_ttl_update_period_and_max_age_set_the_interval_within_bounds(engine, feed_server):
    def add_route(path: str, body: bytes, **kw) -> int:
        return add(engine, feed_server.add(path, body, **kw))

    feeds = {
        add_route("/ttl.xml", rss(extra="<ttl>120</ttl>")): 2 * HOUR,
        add_route(
            "/sy.xml",
            rss(
                extra="<sy:updatePeriod>daily</sy:updatePeriod>"
                "<sy:updateFrequency>4</sy:updateFrequency>",
                ns=SY,
            ),
        ): 6 * HOUR,
        add_route("/max-age.xml", rss(), headers={"Cache-Control": "public, max-age=10800"}): (
            3 * HOUR
        ),
        add_route("/too-often.xml", rss(extra="<ttl>1</ttl>")): timedelta(minutes=15),
        add_route("/too-rare.xml", rss(extra="<ttl>100000</ttl>")): 24 * HOUR,
        add_route("/no-hint.xml", rss()): 1 * HOUR,
    }

    cycle(engine)
    for feed_id, interval in feeds.items():
        stored = feed(engine, feed_id)
        assert stored.interval_seconds == interval.total_seconds(), stored.url
        assert stored.next_check_at == NOW + interval, stored.url

    # a 304 carries no body: the interval learnt from the last body stands
    later = NOW + 30 * HOUR
    cycle(engine, now=later)
    for feed_id, interval in feeds.items():
        assert events(engine, feed_id)[-1].outcome == "not_modified"
        assert feed(engine, feed_id).next_check_at == later + interval


# --- concurrency ---


def test_per_host_limit_allows_one_request_at_a_time_per_host(sqlite_engine, feed_server):
    for n in range(3):
        add(sqlite_engine, feed_server.add(f"/a{n}.xml", rss(f"a{n}"), delay=0.2))
        # the same server under another host name counts as another host
        add(sqlite_engine, f"http://localhost:{feed_server.port}/a{n}.xml")
    settings = make_settings(fetch={"per_host_concurrency": 1, "concurrency": 8})

    report = run_cycle(settings, sqlite_engine, now=NOW, include_not_due=True)
    assert report.feeds_failed == 0
    by_host = feed_server.max_in_flight_by_host
    assert by_host == {f"127.0.0.1:{feed_server.port}": 1, f"localhost:{feed_server.port}": 1}
    assert feed_server.max_in_flight == 2  # the two hosts were fetched side by side


def test_global_limit_caps_requests_in_flight_over_all_hosts(feed_server):
    settings = make_settings(fetch={"per_host_concurrency": 10, "concurrency": 2}).fetch
    urls = [feed_server.add(f"/g{n}.xml", rss(), delay=0.2) for n in range(3)]
    urls += [f"http://localhost:{feed_server.port}/g{n}.xml" for n in range(3)]

    async def go() -> list[FetchResult]:
        limiter = HostLimiter(settings.concurrency, settings.per_host_concurrency)
        async with make_client(settings) as client:
            requests = [FetchRequest(i, url) for i, url in enumerate(urls)]
            return await asyncio.gather(*(fetch(client, r, settings, limiter) for r in requests))

    results = asyncio.run(go())
    assert all(r.error is None for r in results)
    assert feed_server.max_in_flight == 2


# --- bookkeeping ---


def test_every_fetch_writes_one_event_and_one_status_line(engine, feed_server):
    ids = [
        add(engine, feed_server.add("/ok.xml", rss())),
        add(engine, feed_server.add("/same.xml", rss(), conditional=False)),
        add(engine, feed_server.add("/missing.xml", status=404)),
        add(engine, feed_server.add("/gone.xml", status=410)),
        add(engine, feed_server.add("/limited.xml", status=429, headers={"Retry-After": "60"})),
        add(engine, feed_server.add("/page.html", b"<html>\n<body>\n</body></html>")),
        add(engine, redirect(feed_server, "/loop", feed_server.url("/loop"))),
    ]
    cycle(engine)
    cycle(engine, now=NOW + 30 * HOUR)

    for feed_id in ids:
        stored = feed(engine, feed_id)
        logged = events(engine, feed_id)
        assert len(logged) == (1 if stored.url.endswith("/gone.xml") else 2), stored.url
        assert stored.status_line == logged[-1].message
        assert stored.status_line.strip() and "\n" not in stored.status_line
    outcomes = [events(engine, i)[-1].outcome for i in ids]
    assert outcomes == [
        "not_modified",
        "unchanged",
        "error",
        "gone",
        "rate_limited",
        "error",
        "error",
    ]


# --- header parsing ---


def test_retry_after_parses_seconds_and_http_dates():
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Thu, 26 Nov 2026 13:30:00 GMT", NOW) == 5400.0
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", NOW) == 0.0  # already past
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_max_age_is_read_from_cache_control():
    assert parse_max_age("public, max-age=600") == 600.0
    assert parse_max_age("no-cache") is None
    assert parse_max_age(None) is None


def test_a_304_leaves_the_connection_open_for_the_next_request(feed_server):
    url = feed_server.add("/feed.xml", rss())
    settings = make_settings().fetch
    etag = fetch_now(url).etag

    async def three_fetches() -> None:
        async with make_client(settings) as client:
            for _ in range(3):
                result = await fetch(client, FetchRequest(1, url, etag=etag), settings)
                assert result.not_modified

    asyncio.run(three_fetches())
    ports = feed_server.client_ports[-3:]
    assert len(ports) == 3 and len(set(ports)) == 1


def test_a_response_with_long_headers_is_read(feed_server):
    # security policies and cookies run to tens of kilobytes on some publishers' sites
    url = feed_server.add("/long.xml", rss(), headers={"Content-Security-Policy": "x" * 20_000})
    result = fetch_now(url)
    assert result.error is None and result.body == rss()


def test_a_proxy_named_in_the_environment_is_used(feed_server, monkeypatch):
    feed_server.add("/via-proxy.xml", rss())
    monkeypatch.setenv("HTTP_PROXY", feed_server.url(""))
    monkeypatch.setenv("NO_PROXY", "")
    # no such host: only the proxy (the loopback server) can answer
    result = fetch_now("http://feeds.example.invalid/via-proxy.xml")
    assert result.error is None and result.body == rss()
    assert feed_server.hits("/via-proxy.xml") == 1


def test_a_proxy_is_sent_its_credentials_and_skipped_for_hosts_no_proxy_names(
    feed_server, monkeypatch
):
    feed_server.add("/feed.xml", rss())
    proxy = feed_server.url("").replace("http://", "http://reader:s%40cret@")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "")
    assert fetch_now("http://feeds.example.invalid/feed.xml").error is None
    [(_, headers)] = feed_server.requests
    # through the proxy: the request names the whole URL, with the proxy's credentials
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"reader:s@cret").decode()
    assert headers["Host"] == "feeds.example.invalid"
    # an https:// URL is tunnelled: its CONNECT carries them, the request itself does not
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    tunnelled = via_proxy("https://feeds.example.invalid/feed.xml", {"Accept": "*/*"})
    assert tunnelled["headers"] == {"Accept": "*/*"}
    assert tunnelled["proxy_headers"] == {"Proxy-Authorization": headers["Proxy-Authorization"]}

    # NO_PROXY names the host: fetched directly, so the unknown host cannot be reached
    monkeypatch.setenv("NO_PROXY", "example.invalid")
    result = fetch_now("http://feeds.example.invalid/feed.xml")
    assert result.error is not None and "network error" in str(result.error)
    assert len(feed_server.requests) == 1
