"""Email notifier: one multipart message per change set, over smtplib.

Why classify SMTP replies: 4xx means "try later" (greylisting, a full queue),
5xx means "never" (bad address, relay denied). The first keeps the alert
pending with backoff; the second marks it failed with the server's reply so
``ctwatch status`` can show what to fix. Replies are read per recipient: the
recipients who got the message are never sent it again, a greylisted one is
retried alone, a refused one fails alone. A whole transaction has one
deadline (``timeout``), whatever the server trickles.
"""

from __future__ import annotations

import smtplib
import ssl
from email.utils import parseaddr

from watcher.alerts.channel import ChannelDeps, ChannelKind
from watcher.alerts.email_message import build_digest, build_message
from watcher.alerts.notifier import DeliveryError, PartialOutcome
from watcher.config import Config, EmailConfig
from watcher.config.destinations import EMAIL_KEY
from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert
from watcher.deadline import SocketWatchdog
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

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        """A busy cycle: one mail per alert, as before; a scheduled digest: one mail."""
        if not digest.scheduled:
            for alert in digest.alerts:
                self.send(destination, alert)
            return
        recipients = list(destination.targets)
        message = build_digest(digest, self._config.sender, recipients, self._clock())
        self._deliver(message.as_bytes(), recipients)

    def _open(self, smtp: smtplib.SMTP) -> None:
        """Connect (and STARTTLS) an unconnected SMTP object."""
        config = self._config
        smtp.connect(config.host, config.port)
        if config.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())

    def _deliver(self, data: bytes, recipients: list[str]) -> None:
        """One SMTP transaction within ``timeout`` in total: a watchdog shuts the socket
        down at the deadline, so a trickling server cannot hold a cycle for hours."""
        config = self._config
        where = f"{config.host}:{config.port}"
        timeout = config.timeout.total_seconds()
        smtp = (
            smtplib.SMTP_SSL(timeout=timeout, context=ssl.create_default_context())
            if config.security == "tls"
            else smtplib.SMTP(timeout=timeout)
        )
        watchdog = SocketWatchdog(lambda: getattr(smtp, "sock", None), timeout)
        try:
            with watchdog:
                try:
                    self._open(smtp)
                    if config.username is not None and config.password is not None:
                        smtp.login(
                            config.username.get_secret_value(), config.password.get_secret_value()
                        )
                    refused = smtp.sendmail(_address(config.sender), recipients, data)
                finally:
                    _hang_up(smtp)
        except smtplib.SMTPAuthenticationError as exc:  # its text may echo the credentials
            raise DeliveryError(
                f"SMTP {where} refused the login ({exc.smtp_code}) — check [email] username "
                "and password (many providers want an app password)",
                permanent=True,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise _per_recipient(where, (), exc.recipients) from None
        except smtplib.SMTPResponseException as exc:
            hint = ""
            if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code >= 500:
                hint = " — check [email] sender: an address this server lets you send from"
            raise DeliveryError(
                f"SMTP {where}: {_reply(exc.smtp_code, exc.smtp_error)}{hint}",
                permanent=exc.smtp_code >= 500,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(f"SMTP {where} does not support STARTTLS", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = "no complete answer in time" if watchdog.fired else network_reason(exc)
            raise DeliveryError(f"cannot reach SMTP server {where} ({reason})") from None
        if refused:  # the others got it: only the refused are retried (4xx) or failed (5xx)
            accepted = tuple(r for r in recipients if r not in refused)
            raise _per_recipient(where, accepted, refused)


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT, whatever the server answers to it: once DATA was accepted the message is the
    server's, and an odd goodbye (``421``) must not make it look unsent (it would be
    sent again on every run)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _per_recipient(
    where: str, accepted: tuple[str, ...], refused: dict[str, tuple[int, bytes]]
) -> DeliveryError:
    """Refused recipients: 4xx ones are tried again later, 5xx ones fail with the reply."""
    later = {who: reply for who, reply in refused.items() if reply[0] < 500}
    never = {who: reply for who, reply in refused.items() if reply[0] >= 500}

    def said(replies: dict[str, tuple[int, bytes]]) -> str:
        return "; ".join(f"{who}: {_reply(*reply)}" for who, reply in replies.items())

    message = f"SMTP {where} refused {said(refused)}{relay_hint(never)}"
    if not accepted and not never:
        return DeliveryError(message)
    if not accepted and not later:
        return DeliveryError(message, permanent=True)
    outcome = PartialOutcome(
        accepted=accepted,
        retry=tuple(later),
        failed=tuple(never),
        retry_reason=f"SMTP {where} refused {said(later)}" if later else "",
        failed_reason=f"SMTP {where} refused {said(never)}{relay_hint(never)}" if never else "",
    )
    return DeliveryError(message, partial=outcome)


_RELAY_WORDS = ("relay", "5.7.1", "not permitted", "authentication required", "not allowed")


def relay_hint(refused: dict[str, tuple[int, bytes]]) -> str:
    """A clause for recipients refused because the server will not relay for us."""
    replies = [_reply(*reply).lower() for reply in refused.values()]
    if not any(word in reply for reply in replies for word in _RELAY_WORDS):
        return ""
    return (
        " — the server will not relay for ctwatch: set [email] username and password, "
        "or use your provider's submission server (port 587)"
    )


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())[:200]}"


def _address(sender: str) -> str:
    return parseaddr(sender)[1] or sender


def _notifier(config: Config, deps: ChannelDeps) -> EmailNotifier | None:
    return EmailNotifier(config.email, deps.clock) if config.email is not None else None


EMAIL = ChannelKind("email", _notifier, EMAIL_KEY, "email")
"""``email = ["a@x.org", …]`` with an ``[email]`` section: one message to all of them."""
