"""Optional article text for feeds that carry only a teaser (off by default per feed)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import aiohttp

from monitor.config import FullTextSettings
from monitor.feeds.fetch import via_proxy
from monitor.feeds.normalize import clean_whitespace
from monitor.feeds.parse import ParsedEntry, entry_content_hash

log = logging.getLogger(__name__)


async def fetch_full_texts(
    client: aiohttp.ClientSession, entries: list[ParsedEntry], settings: FullTextSettings
) -> dict[str, ParsedEntry]:
    """Entries (by entry key) whose article text could be fetched and extracted."""
    gate = asyncio.Semaphore(settings.concurrency)

    async def one(entry: ParsedEntry) -> tuple[str, ParsedEntry | None]:
        async with gate:
            html = await _download(client, entry.url or "", settings)
        if html is None:
            return entry.entry_key, None
        text = await asyncio.to_thread(extract_article_text, html, entry.url or "")
        if not text:
            return entry.entry_key, None
        return entry.entry_key, replace(
            entry,
            content_text=text,
            content_html="",
            content_method="trafilatura",
            content_hash=entry_content_hash(
                entry.title, entry.canonical_url or "", entry.summary_text, text
            ),
        )

    found = await asyncio.gather(*(one(e) for e in entries))
    return {key: entry for key, entry in found if entry is not None}


def extract_article_text(html: str, url: str) -> str:
    import trafilatura  # heavy: loaded only when a feed asks for full text

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False)
    return clean_whitespace(text or "")


async def _download(
    client: aiohttp.ClientSession, url: str, settings: FullTextSettings
) -> str | None:
    try:
        async with asyncio.timeout(settings.timeout):
            async with client.get(url, **via_proxy(url)) as response:
                if response.status != 200:
                    return None
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > settings.max_bytes:
                        log.info("article too large, kept the feed text: %s", url)
                        return None
                    chunks.append(chunk)
                return _decode(b"".join(chunks), response.charset)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.info("article not fetched (%s): %s", type(exc).__name__, url)
        return None


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")
