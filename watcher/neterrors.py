"""Why a network call failed, in words a person can act on.

Why one helper: httpx, slack-sdk (urllib) and smtplib each wrap the operating
system's error differently, and a message that says only ``ConnectError``
hides whether the host is wrong, the port closed or the name unknown. Every
adapter words its failure as ``cannot reach <where> (<reason>)`` with the
reason found here.
"""

from __future__ import annotations

import socket
import ssl

_SEEN_LIMIT = 10


def network_reason(exc: BaseException) -> str:
    """``connection refused``, ``timed out``, ``name not resolved``… for an exception chain."""
    current: BaseException | None = exc
    seen = 0
    while current is not None and seen < _SEEN_LIMIT:
        seen += 1
        reason = _one(current)
        if reason is not None:
            return reason
        inner = getattr(current, "reason", None)
        if isinstance(inner, BaseException) and inner is not current:
            current = inner
            continue
        current = current.__cause__ or current.__context__
    return _class_words(exc)


def _one(exc: BaseException) -> str | None:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate not trusted"
    if isinstance(exc, ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, socket.gaierror):
        return "host name not resolved"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return None


def _class_words(exc: BaseException) -> str:
    """``RemoteProtocolError`` -> ``remote protocol error`` when nothing better is known."""
    name = exc.__class__.__name__
    words = []
    current = ""
    for char in name:
        if char.isupper() and current:
            words.append(current)
            current = char
        else:
            current += char
    words.append(current)
    text = " ".join(w.lower() for w in words if w)
    detail = str(exc).split("\n", 1)[0][:120]
    return f"{text}: {detail}" if detail and "[Errno" not in detail else text
