"""A watch with a digest: its Atom feed has one entry per digest period that has ended."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

from tests.web.test_web import ENV, server_config, two_changes
from watcher.config import load_config
from watcher.store import Store
from watcher.testing.registry_double import RegistryDouble
from watcher.timeutil import utc_now
from watcher.web.feeds import Sources, build, resolve

ATOM = "{http://www.w3.org/2005/Atom}"


def entries(tmp_path: Path, config: Path, hours: float) -> list[ET.Element]:
    loaded = load_config(config, ENV)
    scope = resolve(Sources(loaded), "watch/test")
    assert scope is not None
    store = Store.open(tmp_path / "ctwatch.db")
    try:
        document = build(store, scope, utc_now() + timedelta(hours=hours))
    finally:
        store.close()
    return list(ET.fromstring(document).iter(f"{ATOM}entry"))


def test_one_entry_per_ended_period_with_every_change_in_it(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    slot = utc_now() + timedelta(minutes=30)  # a daily digest half an hour from now
    cron = f"{slot.minute} {slot.hour} * * *"
    config = server_config(tmp_path, registry, watch_extra=f'digest = "{cron}"')
    two_changes(config, registry)
    assert entries(tmp_path, config, 0) == []  # today's digest has not gone yet
    (entry,) = entries(tmp_path, config, 1)
    title = entry.findtext(f"{ATOM}title") or ""
    assert title.startswith(f"ctwatch digest: 2 trials changed · 1 high · 1 medium ({cron} (UTC), ")
    summary = entry.findtext(f"{ATOM}summary") or ""
    assert "Overall Status: Recruiting → Suspended" in summary
    assert "Overall Status: Recruiting → Completed" in summary
    again = entries(tmp_path, config, 2)
    assert [e.findtext(f"{ATOM}id") for e in again] == [entry.findtext(f"{ATOM}id")]


def test_a_watch_without_digest_keeps_one_entry_per_change(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = server_config(tmp_path, registry)
    two_changes(config, registry)
    assert len(entries(tmp_path, config, 0)) == 2
