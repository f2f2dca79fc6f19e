"""Email delivery against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import socket
import ssl
from email import policy
from pathlib import Path

import pytest
import report_marts as marts

from revops.outputs.delivery import deliver_report
from revops.outputs.reports import render_report


class Recorder:
    """An SMTP handler that answers the queued codes first, then accepts and records."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        if self.answers:
            return self.answers.pop(0)
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    def start(answers=(), **kwargs):
        handler = Recorder(answers)
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), **kwargs)
        controller.start()
        started.append(controller)
        return handler, controller.port

    started: list = []
    yield start
    for controller in started:
        controller.stop()


def _email_settings(tmp_path, port, **extra):
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "revops@example.test",
        "to": ["cmo@example.test", "ops@example.test"],
    }
    values.update(extra)
    return marts.make_settings(tmp_path, email=values)


def test_email_has_html_body_inline_charts_and_attachments(filled_duck, tmp_path, smtp):
    handler, port = smtp()
    settings = _email_settings(tmp_path, port)
    bundle = render_report(filled_duck, settings, marts.DAY, run_id=marts.RUN_ID)
    result = deliver_report(settings, bundle, filled_duck)
    assert result.ok, result.as_dict()
    ((rcpts, raw),) = handler.messages
    assert rcpts == ["cmo@example.test", "ops@example.test"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "マーケティング効果分析レポート 2026-11-16"
    html = msg.get_body(("html",)).get_content()
    assert "data:image" not in html
    cids = {
        p["Content-ID"].strip("<>"): p for p in msg.walk() if p.get_content_type() == "image/png"
    }
    assert len(cids) == 6
    for cid, part in cids.items():
        assert f'src="cid:{cid}"' in html
        assert part.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'data-figure="total_ad_cost"' in html and "¥2,450,000" in html
    attachments = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert set(attachments) == {"marketing_report_2026-11-16.txt", "channel_kpi_2026-11-16.csv"}
    # Text parts travel with CRLF line ends (RFC 5322); the content is the same.
    text = attachments["marketing_report_2026-11-16.txt"].replace("\r\n", "\n")
    assert text == bundle.text_path.read_text(encoding="utf-8")
    csv = attachments["channel_kpi_2026-11-16.csv"].replace("\r\n", "\n")
    assert csv == bundle.csv_path.read_text(encoding="utf-8")


def test_temporary_refusal_is_retried(filled, tmp_path, smtp):
    handler, port = smtp(answers=["451 4.3.0 try again later"])
    settings = _email_settings(tmp_path, port)
    result = deliver_report(settings, render_report(filled, settings, marts.DAY), filled)
    assert result.ok
    assert result.outcomes[0].attempts == 2
    assert len(handler.messages) == 1
    statuses = [
        r["status"]
        for r in filled.query(
            "SELECT status FROM revops.audit_events WHERE action LIKE 'deliver:email:%' "
            'ORDER BY "at"'
        )
    ]
    assert statuses == ["retrying", "ok"]


def test_permanent_refusal_fails_at_once_and_keeps_the_files(filled_duck, tmp_path, smtp):
    handler, port = smtp(answers=["550 5.7.1 message rejected"] * 5)
    settings = _email_settings(tmp_path, port)
    bundle = render_report(filled_duck, settings, marts.DAY)
    result = deliver_report(settings, bundle, filled_duck)
    (failed,) = result.failed
    assert failed.attempts == 1 and "550" in failed.reason
    assert handler.messages == []
    assert all(p.exists() for _, _, p in bundle.files())


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_with_login_from_the_environment(filled_duck, tmp_path, smtp):
    from aiosmtpd.smtp import AuthResult

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    handler, port = smtp(
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],
    )
    settings = _email_settings(
        tmp_path,
        port,
        security="starttls",
        user="reports@example.test",
        ca_file=str(cert),
        timeout_seconds=5,
    )
    settings.env = {"REVOPS_EMAIL__PASSWORD": "s3cret"}
    result = deliver_report(settings, render_report(filled_duck, settings, marts.DAY))
    assert result.ok, result.as_dict()
    assert logins == [(b"reports@example.test", b"s3cret")]
    assert len(handler.messages) == 1

    settings.env = {"REVOPS_EMAIL__PASSWORD": "wrong"}
    (failed,) = deliver_report(settings, render_report(filled_duck, settings, marts.DAY)).failed
    assert failed.attempts == 1 and "SMTPAuthenticationError" in failed.reason
    assert "wrong" not in failed.reason


def test_login_without_a_password_names_the_variable(filled_duck, tmp_path, smtp):
    _, port = smtp()
    settings = _email_settings(tmp_path, port, user="reports@example.test")
    (failed,) = deliver_report(settings, render_report(filled_duck, settings, marts.DAY)).failed
    assert "REVOPS_EMAIL__PASSWORD" in failed.reason
