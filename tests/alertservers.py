"""Real loopback receivers for alert tests: an SMTP server (aiosmtpd) and a webhook server."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

WEBHOOK_SECRET = "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collect:
    def __init__(self, box: MailBox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        with self.box.lock:
            self.box.messages.append(mail)  # type: ignore[arg-type]
            self.box.logins.append(getattr(session, "login_data", None))
        return "250 OK"


class MailBox:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls_context: Any = None,
        implicit_tls: bool = False,
    ) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[Any] = []
        self.lock = threading.Lock()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if credentials:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == credentials
                )
                return AuthResult(success=ok)

            # with implicit TLS aiosmtpd cannot tell the session is encrypted: allow AUTH
            require_tls = tls_context is not None and not implicit_tls
            kwargs.update(authenticator=authenticate, auth_require_tls=require_tls)
        if implicit_tls:
            kwargs["ssl_context"] = tls_context
        elif tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> MailBox:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        return list(self.messages)


@dataclass
class Hook:
    headers: dict[str, str]
    body: bytes

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    def signature_ok(self, secret: str = WEBHOOK_SECRET) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("X-Monitor-Signature", ""), expected)


@dataclass
class WebhookReceiver:
    """A real HTTP server that records POSTs; `down` makes it answer 503, `redirect_to` 302."""

    received: list[Hook] = field(default_factory=list)
    refused: int = 0
    down: bool = False
    delay: float = 0.0
    redirect_to: str = ""

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.down:
                    receiver.refused += 1
                    self.send_response(503)
                elif receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                else:
                    receiver.received.append(Hook(dict(self.headers.items()), body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def channels(mailbox: MailBox, hooks: WebhookReceiver) -> list[dict[str, Any]]:
    """An email channel and a signed webhook channel pointing at the loopback receivers."""
    return [
        {
            "name": "mail",
            "type": "email",
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "security": "none",
            "sender": "monitor@example.org",
            "recipients": ["desk@example.org"],
            "timeout": 3.0,
        },
        {
            "name": "hook",
            "type": "webhook",
            "url": hooks.url(),
            "secret_env": "MONITOR_TEST_WEBHOOK_SECRET",
            "timeout": 3.0,
        },
    ]
