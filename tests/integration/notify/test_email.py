"""E-mail through a real SMTP server (aiosmtpd) that requires STARTTLS and AUTH."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.notify.receivers import SMTP_PORT
from whistle.delivery.attempt import judge
from whistle.notify.channels import Destination, EmailChannel, SmtpConfig
from whistle.notify.message import CaseFacts, Message
from whistle.settings import Settings

pytestmark = pytest.mark.integration

USER, PASSWORD = "notifier@whistle.example.gov.cn", "s3cret-口令"
CASE = CaseFacts("WH-20261202-7K3M9QX2PA", "滨海浪漫线游客激增，占道摆摊")
LINK = f"https://whistle.example.gov.cn/cases/{CASE.case_id}"
DEADLINE = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A CA-flagged self-signed certificate for 127.0.0.1 / localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whistle test smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    """What the server accepted: raw message bytes, envelope, and the session's TLS/AUTH."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "content": envelope.original_content or envelope.content,
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                "authenticated": session.authenticated,
                "login": session.auth_data.login if session.auth_data else None,
            }
        )
        return "250 2.0.0 queued"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Mailbox, SmtpConfig]]:
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=SMTP_PORT,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    config = SmtpConfig(
        host="127.0.0.1",
        port=SMTP_PORT,
        security="starttls",
        username=USER,
        password=PASSWORD,
        sender="吹哨平台 <whistle@whistle.example.gov.cn>",
        ca_file=cert,
        timeout_s=10,
    )
    try:
        yield mailbox, config
    finally:
        controller.stop()


def message(language: str = "zh") -> Message:
    return Message.create(
        "escalated", CASE, LINK, DEADLINE, language, step="supervision", tier="street"
    )  # type: ignore[arg-type]


def parsed(raw: bytes) -> EmailMessage:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


async def test_a_chinese_message_arrives_over_starttls_with_auth(
    smtp: tuple[Mailbox, SmtpConfig],
) -> None:
    mailbox, config = smtp
    result = await EmailChannel(config).send(message(), Destination("liaison@cgj.example.gov.cn"))
    assert judge(result, 0).outcome == "delivered", result
    (got,) = mailbox.messages
    assert got["tls"] and got["authenticated"] and got["login"] == USER.encode()
    assert got["mail_from"] == "whistle@whistle.example.gov.cn"
    assert got["rcpt_tos"] == ["liaison@cgj.example.gov.cn"]
    raw: bytes = got["content"]
    assert raw.isascii()  # every header and the body encoded for 7-bit transport
    assert b"Subject: =?utf-8?" in raw
    mail = parsed(raw)
    assert (
        mail["Subject"] == "【吹哨】街道督办｜WH-20261202-7K3M9QX2PA｜滨海浪漫线游客激增，占道摆摊"
    )
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Content-Transfer-Encoding"] == "base64"
    assert mail["X-Whistle-Case"] == CASE.case_id
    assert mail["Content-Language"] == "zh-CN"
    assert str(mail["From"]) == "吹哨平台 <whistle@whistle.example.gov.cn>"
    body = mail.get_content()
    assert "请您：按督办要求立即办理并反馈" in body
    assert "办理期限：2026年12月2日 14:30" in body
    assert f"案件页面：{LINK}" in body
    assert f"案件编号：{CASE.case_id}" in body


async def test_an_english_message(smtp: tuple[Mailbox, SmtpConfig]) -> None:
    mailbox, config = smtp
    result = await EmailChannel(config).send(message("en"), Destination("liaison@example.cn"))
    assert judge(result, 0).outcome == "delivered"
    mail = parsed(mailbox.messages[0]["content"])
    assert str(mail["Subject"]).startswith("[Whistle] supervision (督办) by the street office |")
    assert "Deadline: 2 Dec 2026 14:30 (UTC+8)" in mail.get_content()
    assert mail["Content-Language"] == "en"


async def test_a_wrong_password_is_retried_and_nothing_is_sent(
    smtp: tuple[Mailbox, SmtpConfig],
) -> None:
    mailbox, config = smtp
    result = await EmailChannel(replace(config, password="wrong")).send(
        message(), Destination("liaison@example.cn")
    )
    assert result.status_code == 535 and judge(result, 0).outcome == "retry"
    assert mailbox.messages == []


async def test_no_starttls_is_refused_by_the_server(smtp: tuple[Mailbox, SmtpConfig]) -> None:
    mailbox, config = smtp
    result = await EmailChannel(replace(config, security="none")).send(
        message(), Destination("liaison@example.cn")
    )
    assert judge(result, 0).outcome == "retry" and result.error
    assert mailbox.messages == []


async def test_an_untrusted_certificate_is_refused(smtp: tuple[Mailbox, SmtpConfig]) -> None:
    """Without the test CA the server's certificate does not verify: nothing is sent."""
    mailbox, config = smtp
    result = await EmailChannel(replace(config, ca_file=None)).send(
        message(), Destination("liaison@example.cn")
    )
    assert judge(result, 0).outcome == "retry"
    assert (
        "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
        or "certificate" in (result.error or "").lower()
    )
    assert mailbox.messages == []


async def test_a_refused_mailbox_is_a_dead_letter(smtp: tuple[Mailbox, SmtpConfig]) -> None:
    mailbox, config = smtp
    mailbox.refuse.add("gone@example.cn")
    result = await EmailChannel(config).send(message(), Destination("gone@example.cn"))
    assert result.status_code == 550 and judge(result, 0).outcome == "dead"
    assert mailbox.messages == []


def test_the_config_comes_from_the_whistle_settings(tmp_path: Path) -> None:
    settings = Settings(
        smtp_host="smtp.example.gov.cn",
        smtp_port=465,
        smtp_security="tls",
        smtp_username="u",
        smtp_password="p",  # type: ignore[arg-type]
        smtp_ca_file=tmp_path / "ca.pem",
    )
    config = SmtpConfig.from_settings(settings)
    assert (config.host, config.port, config.security) == ("smtp.example.gov.cn", 465, "tls")
    assert (config.username, config.password, config.ca_file) == ("u", "p", tmp_path / "ca.pem")
    with pytest.raises(ValueError, match="WHISTLE_SMTP_HOST"):
        SmtpConfig.from_settings(Settings())
