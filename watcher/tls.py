"""One verified TLS context per process, shared by every httpx client ctwatch makes.

Why: httpx builds a new :class:`ssl.SSLContext` for each client, and loading the CA
bundle into it costs about 20 ms of CPU each time. ctwatch makes a client for the
registry, one per Teams or webhook post and one per web UI test; sharing the context
(an :class:`ssl.SSLContext` may serve many connections and threads at once) pays
that once, on first use: a command that sends nothing over HTTPS never loads it.
The context is httpx's own default (``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set,
else certifi), so verification is exactly what it was.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl


@functools.cache
def verified_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once (see the module doc)."""
    import httpx  # noqa: PLC0415 - the network library loads where it is used

    return httpx.create_ssl_context()
