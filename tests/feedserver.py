"""A real HTTP server on 127.0.0.1 for tests and benchmarks: routes set per test."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    #: answer If-None-Match / If-Modified-Since with 304 when they match
    conditional: bool = True
    last_modified: str = "Wed, 25 Nov 2026 10:00:00 GMT"
    gzip: bool = False
    delay: float = 0.0
    #: zlib-compress the body (Content-Encoding: deflate) when the client accepts it
    deflate: bool = False
    #: send the body in chunks without Content-Length (Transfer-Encoding: chunked)
    chunked: bool = False


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up early (a timeout test, a cancelled fetch) is not an error."""

    #: the listen backlog, read when the socket starts listening (in the constructor):
    #: with the default of 5, connections beyond it wait a 1 s SYN retransmission
    request_queue_size = 1024

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class FeedServer:
    def __init__(self, latency: float = 0.0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        #: the client's port of each request: one port, one connection
        self.client_ports: list[int] = []
        self.latency = latency
        #: requests being answered now, and the most ever at once (overall and per Host header)
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_in_flight_by_host: dict[str, int] = {}
        self._in_flight_by_host: dict[str, int] = {}
        self._lock = threading.Lock()
        handler = _make_handler(self)
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes = b"", **kwargs: object) -> str:
        self.routes[path] = Route(body=body, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        #: headers and body go out in separate writes; without this each response
        #: waits ~40 ms for the delayed ACK of the first
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            host = self.headers.get("Host", "")
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
                now = server._in_flight_by_host.get(host, 0) + 1
                server._in_flight_by_host[host] = now
                server.max_in_flight_by_host[host] = max(
                    server.max_in_flight_by_host.get(host, 0), now
                )
            try:
                self._serve()
            finally:
                with server._lock:
                    server.in_flight -= 1
                    server._in_flight_by_host[host] -= 1

        def _serve(self) -> None:
            path = urlsplit(self.path).path + (
                "?" + urlsplit(self.path).query if urlsplit(self.path).query else ""
            )
            with server._lock:
                server.requests.append((path, dict(self.headers)))
                server.client_ports.append(self.client_address[1])
            if server.latency:
                time.sleep(server.latency)
            route = server.routes.get(path) or server.routes.get(urlsplit(self.path).path)
            if route is None:
                return self._send(404, b"not found", {"Content-Type": "text/plain"})
            if route.delay:
                time.sleep(route.delay)
            headers = {"Content-Type": route.content_type, **route.headers}
            if route.status != 200:
                return self._send(route.status, route.body, headers)
            etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
            if route.conditional:
                headers["ETag"] = etag
                headers["Last-Modified"] = route.last_modified
                if self.headers.get("If-None-Match") == etag or (
                    "If-None-Match" not in self.headers
                    and self.headers.get("If-Modified-Since") == route.last_modified
                ):
                    return self._send(304, b"", {"ETag": etag})
            body = route.body
            if route.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            elif route.deflate and "deflate" in self.headers.get("Accept-Encoding", ""):
                body = zlib.compress(body)
                headers["Content-Encoding"] = "deflate"
            if route.chunked:
                return self._send_chunked(body, headers)
            self._send(200, body, headers)

        def _send_chunked(self, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 16_384):
                    piece = body[start : start + 16_384]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body and status != 304:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
