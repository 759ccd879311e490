"""Email delivery end to end: `ctwatch check` -> smtplib -> aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import database_text, run_cli, write_config
from tests.support.scripted_smtp import ScriptedSmtp
from tests.support.smtp_server import SmtpServer
from tests.support.trickle import TrickleServer
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

OTHER = "NCT01234567"
OTHER_WATCH = (
    '\n[[watch]]\nname = "other"\ntrials = ["NCT01234567"]\nemail = ["other@example.org"]\n'
)
ENV = {"SMTP_USERNAME": "ctwatch-bot", "SMTP_PASSWORD": "s3cret-pw-42"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(username="ctwatch-bot", password="s3cret-pw-42") as server:
        yield server


def part(message: EmailMessage, subtype: str) -> EmailMessage:
    """The text/``subtype`` body of a multipart message (it must exist)."""
    body = message.get_body((subtype,))
    assert isinstance(body, EmailMessage), f"no text/{subtype} part"
    return body


def email_config(tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer, watches: str) -> Path:
    extra = f"""
[email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
username = "${{SMTP_USERNAME}}"
password = "${{SMTP_PASSWORD}}"
sender = "ctwatch <alerts@example.org>"
timeout = "5s"
"""
    path = write_config(
        tmp_path,
        registry.url,
        [SEED_NCT],
        extra=extra,
        watch_extra='email = ["team@example.org", "lead@example.org"]',
    )
    path.write_text(path.read_text() + watches)
    return path


def test_change_set_is_one_multipart_message_to_the_watch(
    tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Other trial"))
    config = email_config(tmp_path, registry, smtp, OTHER_WATCH)
    assert run_cli(config, "check", env=ENV).exit_code == 0
    assert smtp.received == []  # baseline is silent

    registry.put(
        changed(
            seed_study(),
            status="TERMINATED",
            last_update="2026-03-02",
            why_stopped="Sponsor decision",
        )
    )
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0, result.stderr
    assert "alerts sent 1" in result.stdout
    (mail,) = smtp.received
    assert sorted(mail.rcpt_tos) == ["lead@example.org", "team@example.org"]
    assert "other@example.org" not in mail.raw.decode()
    msg = mail.message
    assert msg["Subject"] == "[ctwatch] NCT06850103 — Overall Status: Recruiting → Terminated"
    assert msg["From"] == "ctwatch <alerts@example.org>"
    assert msg["Date"] and msg["Message-ID"].endswith("@example.org>")
    assert msg.get_content_type() == "multipart/alternative"
    text = part(msg, "plain").get_content()
    html = part(msg, "html").get_content()
    assert "Overall Status: Recruiting → Terminated" in text
    assert "https://clinicaltrials.gov/study/NCT06850103?tab=history" in text
    assert "<td><b>Overall Status</b></td><td>Recruiting</td><td>Terminated</td>" in html
    assert '<a href="https://clinicaltrials.gov/study/NCT06850103?tab=history">' in html
    assert smtp.logins == ["ctwatch-bot"]
    assert ENV["SMTP_PASSWORD"] not in result.stderr + result.stdout

    again = run_cli(config, "check", env=ENV)  # a normal re-run never duplicates
    assert "alerts sent 0" in again.stdout and len(smtp.received) == 1


def test_record_text_cannot_inject_headers(
    tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer
) -> None:
    registry.put(seed_study())
    config = email_config(tmp_path, registry, smtp, "")
    run_cli(config, "check", env=ENV)
    evil = changed(seed_study(), status="WITHDRAWN", why_stopped="x")
    evil["protocolSection"]["statusModule"]["overallStatus"] = (
        "WITHDRAWN\r\nBcc: victim@example.com\r\n"
    )
    registry.put(evil)
    run_cli(config, "check", env=ENV)
    (mail,) = smtp.received
    assert mail.message["Bcc"] is None
    assert sorted(mail.rcpt_tos) == ["lead@example.org", "team@example.org"]
    subject = mail.message["Subject"]
    assert "\r" not in subject and "\n" not in subject
    assert "victim@example.com" in subject  # harmless text, not a header


def test_smtp_4xx_keeps_the_alert_then_delivers_once(
    tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer
) -> None:
    registry.put(seed_study())
    config = email_config(tmp_path, registry, smtp, "")
    run_cli(config, "check", env=ENV)
    registry.put(changed(seed_study(), status="SUSPENDED"))
    smtp.fail_next("451 4.3.0 Mail server temporarily rejected message", times=1)
    first = run_cli(config, "check", env=ENV)
    assert first.exit_code == 0
    assert "alerts sent 0 · alerts pending 1" in first.stdout
    status = json.loads(run_cli(config, "status", "--json", env=ENV).stdout)
    assert status["alerts"]["pending"] == 1
    assert "451 4.3.0" in status["alert_problems"][0]["error"]
    second = run_cli(config, "check", env=ENV)  # an explicit check retries despite backoff
    assert "alerts sent 1" in second.stdout
    assert len(smtp.received) == 1


def test_smtp_5xx_fails_visibly_and_does_not_block(
    tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Other trial"))
    config = email_config(tmp_path, registry, smtp, OTHER_WATCH)
    run_cli(config, "check", env=ENV)
    registry.put(changed(seed_study(), status="SUSPENDED"))
    registry.put(changed(make_study(OTHER, "Other trial"), status="COMPLETED"))
    smtp.fail_next("550 5.1.1 Mailbox unavailable", stage="RCPT")
    result = run_cli(config, "check", env=ENV)
    assert "alerts sent 1 · alerts failed 1" in result.stdout
    assert "550 5.1.1 Mailbox unavailable" in result.stderr
    status = run_cli(config, "status", env=ENV).stdout
    assert "FAILED" in status and "550 5.1.1" in status
    assert (
        "alerts sent 0" in run_cli(config, "check", env=ENV).stdout
    )  # failed rows are not retried


def test_unreachable_smtp_keeps_alerts_pending(tmp_path: Path, registry: RegistryDouble) -> None:
    with SmtpServer() as dead:
        port = dead.port
    registry.put(seed_study())
    extra = f'\n[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "a@example.org"\ntimeout = "2s"\n'
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='email = ["t@example.org"]'
    )
    run_cli(config, "check")
    registry.put(changed(seed_study(), status="SUSPENDED"))
    result = run_cli(config, "check")
    assert "alerts pending 1" in result.stdout
    assert "cannot reach SMTP server 127.0.0.1" in result.stderr


def test_test_alert_email(tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer) -> None:
    config = email_config(tmp_path, registry, smtp, "")
    result = run_cli(config, "test-alert", env=ENV)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (
        "ok      email team@example.org, lead@example.org" in result.stdout
        or "ok      email lead@example.org, team@example.org" in result.stdout
    )
    (mail,) = smtp.received
    assert mail.message["Subject"] == "[ctwatch] NCT06850103 — test alert"
    assert "test alert" in part(mail.message, "plain").get_content()
    smtp.fail_next("554 5.7.1 Relay access denied")
    failed = run_cli(config, "test-alert", "--watch", "test", env=ENV)
    assert failed.exit_code == 1
    assert "FAILED  email lead@example.org, team@example.org: SMTP 127.0.0.1" in failed.stdout
    assert "554 5.7.1 Relay access denied" in failed.stdout
    assert run_cli(config, "test-alert", "--watch", "nope", env=ENV).exit_code == 2


def test_a_greylisted_recipient_is_retried_alone(
    tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer
) -> None:
    registry.put(seed_study())
    config = email_config(tmp_path, registry, smtp, "")
    run_cli(config, "check", env=ENV)
    registry.put(changed(seed_study(), status="SUSPENDED"))
    smtp.fail_next("450 4.2.0 lead@example.org greylisted, try later", stage="RCPT")
    first = run_cli(config, "check", env=ENV)
    assert "alerts sent 1 · alerts pending 1" in first.stdout
    (delivered,) = smtp.received
    assert delivered.rcpt_tos == ["team@example.org"]
    status = json.loads(run_cli(config, "status", "--json", env=ENV).stdout)
    (problem,) = status["alert_problems"]
    assert problem["destination"] == "email lead@example.org" and problem["status"] == "pending"
    assert "450 4.2.0" in problem["error"]
    second = run_cli(config, "check", env=ENV)
    assert "alerts sent 1" in second.stdout
    assert [m.rcpt_tos for m in smtp.received] == [["team@example.org"], ["lead@example.org"]]
    assert "alerts sent 0" in run_cli(config, "check", env=ENV).stdout  # nobody twice


def test_a_refused_recipient_fails_alone_and_the_others_get_it_once(
    tmp_path: Path, registry: RegistryDouble, smtp: SmtpServer
) -> None:
    registry.put(seed_study())
    config = email_config(tmp_path, registry, smtp, "")
    run_cli(config, "check", env=ENV)
    registry.put(changed(seed_study(), status="SUSPENDED"))
    smtp.fail_next("550 5.1.1 lead@example.org: no such user", stage="RCPT")
    first = run_cli(config, "check", env=ENV)
    assert "alerts sent 1 · alerts failed 1" in first.stdout
    status = json.loads(run_cli(config, "status", "--json", env=ENV).stdout)
    (problem,) = status["alert_problems"]
    assert problem["destination"] == "email lead@example.org" and problem["status"] == "failed"
    assert "550 5.1.1" in problem["error"]
    assert status["alerts"] == {"pending": 0, "sent": 1, "failed": 1}
    assert "alerts sent 0" in run_cli(config, "check", env=ENV).stdout
    assert [m.rcpt_tos for m in smtp.received] == [["team@example.org"]]


def test_a_trickling_smtp_server_is_cut_off_at_the_timeout(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with TrickleServer(b"220 " + b"slow " * 200 + b"\r\n", interval=0.05) as slow:
        registry.put(seed_study())
        extra = (
            f'\n[email]\nhost = "127.0.0.1"\nport = {slow.port}\nsecurity = "none"\n'
            'sender = "a@example.org"\ntimeout = "1s"\n'
        )
        config = write_config(
            tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='email = ["t@example.org"]'
        )
        run_cli(config, "check")
        registry.put(changed(seed_study(), status="SUSPENDED"))
        started = time.monotonic()
        result = run_cli(config, "check")
        elapsed = time.monotonic() - started
    assert "alerts pending 1" in result.stdout
    assert "cannot reach SMTP server 127.0.0.1" in result.stderr
    assert "no complete answer in time" in result.stderr
    assert elapsed < 10  # one second of trickle, not 200 lines of it


def scripted_config(tmp_path: Path, registry: RegistryDouble, port: int, auth: bool) -> Path:
    login = 'username = "${SMTP_USERNAME}"\npassword = "${SMTP_PASSWORD}"\n' if auth else ""
    extra = (
        f'\n[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n{login}'
        'sender = "ctwatch@example.org"\ntimeout = "5s"\n'
    )
    return write_config(
        tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='email = ["a@example.org"]'
    )


def test_a_relay_that_says_goodbye_oddly_still_got_the_message_once(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with ScriptedSmtp() as relay:
        relay.replies["QUIT"] = "421 4.4.2 closing, idle too long"
        config = scripted_config(tmp_path, registry, relay.port, auth=False)
        registry.put(seed_study())
        run_cli(config, "check")
        registry.put(changed(seed_study(), status="SUSPENDED"))
        outs = [run_cli(config, "check").stdout for _ in range(3)]
        assert relay.accepted == 1
    assert "alerts sent 1" in outs[0] and "alerts sent 0" in outs[2]


def test_a_login_refusal_that_echoes_the_credentials_is_not_repeated(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with ScriptedSmtp() as relay:
        relay.replies["AUTH"] = "535 5.7.8 authentication failed: {line}"
        config = scripted_config(tmp_path, registry, relay.port, auth=True)
        registry.put(seed_study())
        run_cli(config, "check", env=ENV)
        registry.put(changed(seed_study(), status="SUSPENDED"))
        result = run_cli(config, "--log-level", "debug", "check", env=ENV)
        test_alert = run_cli(config, "test-alert", env=ENV)
    stored = database_text(tmp_path / "ctwatch.db")
    for text in (result.stdout + result.stderr, test_alert.stdout, stored):
        assert "AUTH" not in text and "AGN0d2F0Y2gtYm90" not in text and "s3cret" not in text
    assert "SMTP 127.0.0.1" in test_alert.stdout and "refused the login (535)" in test_alert.stdout
