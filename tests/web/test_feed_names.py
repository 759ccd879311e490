"""Every watch and search name the config accepts reaches its feed over HTTP."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx

from tests.conftest import write_config
from watcher.app import build_services
from watcher.config import load_config
from watcher.testing.registry_double import RegistryDouble

TOKEN = "feed-token-0123456789abcdef"
NAMES = ["onc/rectal", "a b?c#d", "100% & more", "x.atom"]


def test_names_with_slashes_and_reserved_characters_are_addressable(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    watches = "".join(
        f'\n[[watch]]\nname = "{name}"\ntrials = ["NCT0000003{i}"]\n'
        for i, name in enumerate(NAMES)
    )
    server = f'[server]\nlisten = "127.0.0.1:0"\nfeed_token = "{TOKEN}"\n'
    config = write_config(tmp_path, registry.url, ["NCT00000039"], extra=server)
    config.write_text(config.read_text() + watches)
    loaded = load_config(config, {})
    services = build_services(lambda: loaded).start()
    try:
        assert services.web is not None
        origin = services.web.origin
        for name in NAMES:
            url = f"{origin}/feeds/watch/{quote(name, safe='')}.atom?token={TOKEN}"
            answer = httpx.get(url)
            assert answer.status_code == 200, (name, answer.text)
            assert f"watch “{name.replace('&', '&amp;')}”" in answer.text
        as_typed = httpx.get(f"{origin}/feeds/watch/onc/rectal.atom", params={"token": TOKEN})
        assert as_typed.status_code == 200
        unknown = httpx.get(f"{origin}/feeds/watch/onc/other.atom", params={"token": TOKEN})
        assert unknown.status_code == 404
    finally:
        services.stop()
