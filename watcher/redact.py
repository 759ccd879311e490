"""One mask for every string that leaves: logs, the database, ``status``, replies.

Why one mask and why patterns too: a proxy, an SMTP server or a library can
echo a token, a password or a signed URL back in an error message, and that
message travels to ``last_error``, the status table and the logs. Masking the
configured secrets catches what we know; masking token-shaped strings
(``xoxb-…``, ``Bearer …``, ``whsec_…``, ``sig=`` in a URL) catches what we
were never told about, such as a token in a proxy's echo of the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_SECRET = 4  # shorter values would mask ordinary words

_PATTERNS = (
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{4,}"),  # Slack bot/user/app-config tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{4,}"),  # Slack app-level (Socket Mode) tokens
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]{4,}"),  # Standard Webhooks secrets
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"),  # Authorization values
    # signatures, tokens and keys in URL query strings (Teams Workflows carry sig=, feed
    # URLs token=, Socket Mode WebSocket URLs ticket=)
    re.compile(
        r"(?i)([?&](?:sig|signature|token|access_token|key|api_key|apikey|code|sv|se|sp|ticket)=)"
        r"[^&#\s\"'<>]+"
    ),
)


# credentials written into a URL (``https://user:pass@proxy/…``): keep the scheme
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")


class Redactor:
    """Masks configured secret values and token-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Mask these values from now on (a reloaded config may bring new ones)."""
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(_masked, text)
        return _USERINFO.sub(rf"\g<1>{MASK}@", text)

    def optional(self, text: str | None) -> str | None:
        """:meth:`__call__` for a value that may be absent."""
        return None if text is None else self(text)


def _masked(match: re.Match[str]) -> str:
    """Keep a URL parameter's name or the auth scheme, hide the value."""
    if match.re.groups and match.group(1):
        return match.group(1) + (" " if not match.group(1).endswith("=") else "") + MASK
    return MASK


def url_credentials(url: str) -> list[str]:
    """The user name and password written into ``url``, raw and percent-decoded, for masks."""
    parsed = urlsplit(url)
    found = [part for part in (parsed.username, parsed.password) if part]
    netloc_userinfo = parsed.netloc.rpartition("@")[0]
    if netloc_userinfo:
        found.append(netloc_userinfo)
    return found + [unquote(part) for part in found if unquote(part) != part]


def redact(text: str) -> str:
    """Token-shaped strings masked (no configured secrets): for code that knows none."""
    return Redactor()(text)
