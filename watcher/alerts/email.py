"""Email notifier: one multipart message per change set, over smtplib.

Why classify SMTP replies: 4xx means "try later" (greylisting, a full queue),
5xx means "never" (bad address, relay denied). The first keeps the alert
pending with backoff; the second marks it failed with the server's reply so
``ctwatch status`` can show what to fix. Every connection has a time-out.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.utils import parseaddr

from watcher.alerts.email_message import build_message
from watcher.alerts.notifier import DeliveryError
from watcher.config import EmailConfig
from watcher.core.destination import Destination
from watcher.core.render import Alert
from watcher.neterrors import network_reason
from watcher.timeutil import Clock, utc_now


class EmailNotifier:
    """Sends alerts through one SMTP submission server."""

    digest_over: int | None = None

    def __init__(self, config: EmailConfig, clock: Clock = utc_now) -> None:
        self._config = config
        self._clock = clock

    def send(self, destination: Destination, alert: Alert) -> None:
        recipients = list(destination.targets)
        message = build_message(alert, self._config.sender, recipients, self._clock())
        self._deliver(message.as_bytes(), recipients)

    def send_digest(self, destination: Destination, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.send(destination, alert)

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        timeout = config.timeout.total_seconds()
        context = ssl.create_default_context()
        if config.security == "tls":
            return smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
        if config.security == "starttls":
            smtp.starttls(context=context)
        return smtp

    def _deliver(self, data: bytes, recipients: list[str]) -> None:
        config = self._config
        where = f"{config.host}:{config.port}"
        try:
            with self._connect() as smtp:
                if config.username is not None and config.password is not None:
                    smtp.login(
                        config.username.get_secret_value(), config.password.get_secret_value()
                    )
                refused = smtp.sendmail(_address(config.sender), recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = list(exc.recipients.values())
            who = ", ".join(exc.recipients)
            raise DeliveryError(
                f"SMTP {where} refused {who} ({_reply(*replies[0])})",
                permanent=any(code >= 500 for code, _ in replies),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {where}: {_reply(exc.smtp_code, exc.smtp_error)}",
                permanent=exc.smtp_code >= 500,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(f"SMTP {where} does not support STARTTLS", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"cannot reach SMTP server {where} ({network_reason(exc)})"
            ) from None
        if refused:  # some recipients got it; re-sending would duplicate theirs
            details = "; ".join(f"{who}: {_reply(*reply)}" for who, reply in refused.items())
            raise DeliveryError(f"SMTP {where} refused {details}", permanent=True)


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())[:200]}"


def _address(sender: str) -> str:
    return parseaddr(sender)[1] or sender
