"""E-mail over SMTP (aiosmtplib): STARTTLS or implicit TLS, AUTH, UTF-8 MIME.

aiosmtplib rather than smtplib in a thread: it is asyncio-native (the notifier sends many
messages concurrently on one loop), maintained, typed, and does STARTTLS and AUTH
(PLAIN/LOGIN/CRAM-MD5) itself. The message is a stdlib :class:`email.message.EmailMessage`
under the SMTP policy, so the Chinese subject is RFC 2047 encoded (``=?utf-8?b?…?=``) and
the body is ``text/plain; charset="utf-8"`` in base64 (7-bit safe: no reliance on the
server's 8BITMIME).

SMTP reply codes read like HTTP's for the shared ``judge``: 2xx accepted. A permanent refusal
(5xx) of the recipient or of the message dead-letters at once; 4xx, a lost connection or a
failed login retry on the shared schedule.

The answer comes as soon as the server has accepted the message (its 250 after DATA); the
session's QUIT follows in the background. A notifier killed after the server took a message
and before it recorded the attempt sends that message again (the window at-least-once cannot
close); answering before the QUIT round trip keeps that window to the record's own write.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib

from whistle.delivery.attempt import AttemptResult, Refusal
from whistle.notify.channels.base import Destination
from whistle.notify.message import Message
from whistle.settings import Settings


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to submit mail (from ``WHISTLE_SMTP_*``)."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = None
    sender: str = "吹哨 Whistle <whistle@localhost>"
    ca_file: Path | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """The configuration of ``settings``; raises ValueError when no host is set."""
        if not settings.smtp_host:
            raise ValueError("WHISTLE_SMTP_HOST is not set")
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=password,
            sender=settings.smtp_from,
            ca_file=settings.smtp_ca_file,
            timeout_s=settings.smtp_timeout_s,
        )

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verified, against ``ca_file`` or the system CAs."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def message_id(message: Message, sender: str) -> str:
    """A Message-ID in the sender's domain: derived from the message's key when it has one
    (a redelivery is then the same message to the recipient's mail system), else unique."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    if message.key is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(message.key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class EmailChannel:
    """Sends a notification as one e-mail to one address."""

    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        if config.security not in {"starttls", "tls", "none"}:
            raise ValueError("SMTP security is starttls, tls or none")
        self.config = config
        self._closing: set[asyncio.Task[None]] = set()

    def compose(self, message: Message, to: Destination) -> EmailMessage:
        """The MIME message: UTF-8 text body, encoded subject, the case id in a header."""
        mail = EmailMessage(policy=SMTP)
        mail["From"] = self.config.sender
        mail["To"] = to.target
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id(message, self.config.sender)
        mail["X-Whistle-Case"] = message.case_id
        mail["X-Whistle-Kind"] = message.kind
        mail.set_content(message.text() + "\n", charset="utf-8", cte="base64")  # 7-bit safe
        mail["Content-Language"] = "zh-CN" if message.language == "zh" else "en"  # after:
        return mail  # set_content replaces every Content-* header

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """Submit the e-mail once; never raises for SMTP or network failures."""
        config = self.config
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        tls = config.security != "none"
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=config.tls_context() if tls else None,
            validate_certs=tls,
            username=config.username,
            password=config.password,
            timeout=config.timeout_s,
        )
        try:
            try:
                await client.connect()  # with STARTTLS and AUTH as configured
                errors, _reply = await client.send_message(self.compose(message, to))
            finally:
                self._quit_later(client)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = bool(codes) and all(c >= 500 for c in codes)
            return self._failed(started, t0, codes[0] if codes else None, str(exc), permanent)
        except aiosmtplib.SMTPAuthenticationError as exc:
            return self._failed(started, t0, exc.code, f"AUTH: {exc.message}", False)
        except aiosmtplib.SMTPResponseException as exc:
            return self._failed(started, t0, exc.code, exc.message, exc.code >= 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            return self._failed(started, t0, None, f"{type(exc).__name__}: {exc}", False)
        elapsed = (time.perf_counter() - t0) * 1000
        if errors:  # some recipient refused though the message was accepted for others
            code = next(iter(errors.values())).code
            return AttemptResult(started, elapsed, code, str(errors)[:500], refused="dead")
        return AttemptResult(started, elapsed, 250, None)

    def _quit_later(self, client: aiosmtplib.SMTP) -> None:
        """End the session without holding up the answer (a broken one is just closed)."""
        task = asyncio.get_running_loop().create_task(_quit(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    def _failed(
        started: datetime, t0: float, code: int | None, error: str, permanent: bool
    ) -> AttemptResult:
        elapsed = (time.perf_counter() - t0) * 1000
        refused: Refusal = "dead" if permanent else "retry"
        return AttemptResult(started, elapsed, code, error[:500], refused=refused)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError):
        with contextlib.suppress(Exception):
            client.close()
