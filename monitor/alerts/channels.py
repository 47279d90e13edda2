"""Send one rendered message through one channel: SMTP, a webhook or Apprise.

Each function either returns (delivered) or raises ChannelError with one line
saying why; the sender logs it and retries later. Secrets are read from the
environment variables the channel names, never from the config file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from monitor.alerts.render import Message
from monitor.config import AlertChannelSettings
from monitor.errors import MonitorError

SIGNATURE_HEADER = "X-Monitor-Signature"


class ChannelError(MonitorError):
    """A channel refused or could not be reached; the message is retried."""


def send(
    channel: AlertChannelSettings, message: Message, env: Mapping[str, str] | None = None
) -> None:
    env = os.environ if env is None else env
    if channel.type == "email":
        send_email(channel, message, env)
    elif channel.type == "webhook":
        send_webhook(channel, message, env)
    elif channel.type == "apprise":
        send_apprise(channel, message, env)
    else:
        raise ChannelError(f"channel {channel.name}: unknown type {channel.type!r}")


def _secret(channel: AlertChannelSettings, var: str, env: Mapping[str, str]) -> str:
    if not var:
        return ""
    value = env.get(var)
    if not value:
        raise ChannelError(f"channel {channel.name}: environment variable {var} is not set")
    return value


def email_message(channel: AlertChannelSettings, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="discourse-monitor")
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def send_email(channel: AlertChannelSettings, message: Message, env: Mapping[str, str]) -> None:
    """SMTP with STARTTLS, implicit TLS ('ssl') or none (a local relay)."""
    username = _secret(channel, channel.username_env, env)
    password = _secret(channel, channel.password_env, env)
    mail = email_message(channel, message)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if channel.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                channel.smtp_host, channel.smtp_port, timeout=channel.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=channel.timeout)
        with smtp:
            if channel.security == "starttls":
                smtp.starttls(context=context)
            if username:
                smtp.login(username, password)
            refused = smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise ChannelError(f"channel {channel.name}: SMTP {type(exc).__name__}: {exc}") from None
    if refused:
        raise ChannelError(f"channel {channel.name}: recipients refused: {sorted(refused)}")


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header: 'sha256=' and the HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(channel: AlertChannelSettings, message: Message, env: Mapping[str, str]) -> None:
    """POST the JSON body; signed when the channel names a secret."""
    body = json.dumps(message.data, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    secret = _secret(channel, channel.secret_env, env)
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    request = urllib.request.Request(channel.url, data=body, headers=headers, method="POST")
    try:
        with _NO_REDIRECTS.open(request, timeout=channel.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
        raise ChannelError(f"channel {channel.name}: {type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise ChannelError(f"channel {channel.name}: HTTP {status}")


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """A redirect is the endpoint's answer, not a place to post again."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_Unfollowed)


def send_apprise(channel: AlertChannelSettings, message: Message, env: Mapping[str, str]) -> None:
    """Apprise URLs reach Slack, Teams, Telegram, Matrix and many more.

    A URL written `env:NAME` is read from that environment variable (URLs carry tokens).
    """
    try:
        import apprise
    except ImportError:
        raise ChannelError(
            f"channel {channel.name}: the 'apprise' package is not installed"
        ) from None
    notifier = apprise.Apprise()
    for written in channel.apprise_urls:
        url = _secret(channel, written[4:], env) if written.startswith("env:") else written
        if not notifier.add(url):
            raise ChannelError(f"channel {channel.name}: apprise cannot use the URL {written!r}")
    if not notifier.notify(title=message.subject, body=message.text):
        raise ChannelError(f"channel {channel.name}: apprise could not deliver")
