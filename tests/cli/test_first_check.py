"""A failing first check says so (issue 21.4): offline, ``ctwatch check`` gives up on
a name that does not resolve or a refused connection at once (the daemon keeps
retrying), in one line with a hint, and no summary pretends all went well."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli, write_config
from watcher.registry.errors import RegistryUnavailable
from watcher.registry.http import HttpPolicy, JsonGetter
from watcher.testing.samples import SEED_NCT


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline_config(tmp_path: Path, incremental: bool = True) -> Path:
    url = f"http://127.0.0.1:{closed_port()}/api/v2"
    path = write_config(tmp_path, url, [SEED_NCT], incremental=incremental)
    text = path.read_text().replace("retries = 2", "retries = 4").replace("backoff = 0", "")
    path.write_text(text)  # the defaults' patience: 4 retries, 2 s doubling, incremental
    return path


def test_refused_connection_fails_the_check_in_one_line_with_a_hint(tmp_path: Path) -> None:
    result = run_cli(offline_config(tmp_path), "check")
    assert result.exit_code == 1
    assert result.stdout == ""  # no "checked 0 · … · errors 0"
    (line,) = result.stderr.splitlines()
    assert line.startswith("ctwatch: the registry could not be read: cannot reach")
    assert "(connection refused); nothing answers there: check [registry] url" in line


def test_the_summary_never_says_errors_0_for_a_failed_cycle(tmp_path: Path) -> None:
    result = run_cli(offline_config(tmp_path, incremental=False), "check")
    assert result.exit_code == 1
    assert "errors 0" not in result.stdout
    assert f"errors 1 ({SEED_NCT})" in result.stdout  # the batch that failed, named
    assert "the registry could not be read" in result.stderr


def unresolvable(request: httpx.Request) -> httpx.Response:
    """What httpx raises when the resolver knows no such name (offline laptop)."""
    raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution") from (
        socket.gaierror(-3, "Temporary failure in name resolution")
    )


@pytest.mark.parametrize("retry_unreachable", [False, True])
def test_only_the_daemon_retries_an_unknown_name(retry_unreachable: bool) -> None:
    slept: list[float] = []
    policy = HttpPolicy(retries=4, backoff=2.0, pace=0, retry_unreachable=retry_unreachable)
    getter = JsonGetter(
        "https://clinicaltrials.gov",
        policy,
        transport=httpx.MockTransport(unresolvable),
        sleep=slept.append,
    )
    with pytest.raises(RegistryUnavailable, match="host name not resolved"):
        getter.get("https://clinicaltrials.gov/api/v2/version", {})
    getter.close()
    assert len(slept) == (4 if retry_unreachable else 0)


def test_a_refused_connection_is_not_retried_by_check_over_a_real_socket() -> None:
    slept: list[float] = []
    origin = f"http://127.0.0.1:{closed_port()}"
    getter = JsonGetter(origin, HttpPolicy(pace=0, retry_unreachable=False), sleep=slept.append)
    with pytest.raises(RegistryUnavailable, match="connection refused"):
        getter.get(f"{origin}/api/v2/version", {})
    getter.close()
    assert slept == []


def test_search_prints_the_api_parameters_before_the_network(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    url = "https://clinicaltrials.gov/search?cond=Rectal%20Cancer&intr=PD-1"
    result = run_cli(config, "search", url)
    assert result.exit_code == 1
    assert result.stdout.startswith("API parameters:\n  query.cond = Rectal Cancer\n")
    assert "connection refused" in result.stderr
