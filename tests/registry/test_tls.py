"""HTTPS is verified, over a real TLS socket on 127.0.0.1, with the one shared context.

The server's certificate (``tests/fixtures/tls``) is self-signed for 127.0.0.1: a
client that verifies refuses it, and trusts it only when ``SSL_CERT_FILE`` names it
when the process starts (the rule of httpx's own default, which the shared context
keeps). Sharing the context (:mod:`watcher.tls`) must not weaken any of this.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from watcher.alerts.http_post import Unreachable, post
from watcher.registry.errors import RegistryError
from watcher.registry.http import HttpPolicy, JsonGetter
from watcher.tls import verified_context

TLS = Path(__file__).resolve().parents[1] / "fixtures" / "tls"
ROOT = Path(__file__).resolve().parents[2]


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = json.dumps({"apiVersion": "2.0.5"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "localhost.pem", TLS / "localhost.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_shared_context_verifies_certificates_and_names() -> None:
    context = verified_context()
    assert context is verified_context()  # made once per process
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_the_registry_client_refuses_an_untrusted_certificate(https_url: str) -> None:
    getter = JsonGetter(https_url, HttpPolicy(pace=0, retries=0))
    try:
        with pytest.raises(RegistryError, match="certificate"):
            getter.get(f"{https_url}/api/v2/version", {})
    finally:
        getter.close()


def test_a_post_refuses_an_untrusted_certificate(https_url: str) -> None:
    with pytest.raises(Unreachable, match="certificate"):
        post(f"{https_url}/hook", b"{}", {}, timeout=5)


PROBE = """
import sys
from watcher.alerts.http_post import post
from watcher.registry.http import HttpPolicy, JsonGetter
getter = JsonGetter(sys.argv[1], HttpPolicy(pace=0, retries=0))
print(getter.get(sys.argv[1] + "/api/v2/version", {})["apiVersion"])
print(post(sys.argv[1] + "/hook", b"{}", {}, timeout=5).status)
"""


def test_a_certificate_named_by_ssl_cert_file_is_trusted(https_url: str) -> None:
    """Both clients, in a fresh process whose environment trusts the test certificate."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, https_url],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SSL_CERT_FILE": str(TLS / "localhost.pem")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2.0.5", "200"]
