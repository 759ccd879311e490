"""The composition root: build everything a command needs from a Config.

Why one place: tests and the demo swap the registry transport, the clock, the
output stream or a notifier here, and nowhere else; the rest of the code takes
its collaborators as arguments and never reaches for globals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

import httpx

from watcher.config import Config
from watcher.notifiers import Notifier
from watcher.notifiers.console import ConsoleNotifier
from watcher.outbox import Deliverer, DeliveryReport
from watcher.pipeline import Clock, CycleReport, Pipeline, utc_now
from watcher.registry import RegistryClient
from watcher.routing import build_routes
from watcher.store import Store


@dataclass
class App:
    """Everything one process needs, wired together."""

    config: Config
    store: Store
    registry: RegistryClient
    pipeline: Pipeline
    deliverer: Deliverer

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        out: TextIO,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> App:
        store = Store.open(config.database.path)
        reg = config.registry
        registry = RegistryClient(
            reg.url,
            timeout=reg.timeout_seconds,
            pace=reg.pace,
            retries=reg.retries,
            backoff=reg.backoff,
            contact=reg.contact,
            transport=transport,
            sleep=sleep,
        )
        chosen = dict(notifiers) if notifiers is not None else default_notifiers(config, out)
        return cls(
            config=config,
            store=store,
            registry=registry,
            pipeline=Pipeline(store, registry, clock),
            deliverer=Deliverer(store, chosen, clock),
        )

    def check(self) -> tuple[CycleReport, DeliveryReport]:
        """One cycle, then an attempt at every pending alert (a cron run tries all)."""
        report = self.pipeline.run_cycle(self.config.trials, build_routes(self.config))
        delivery = self.deliverer.deliver(force=True)
        return report, delivery

    def close(self) -> None:
        self.registry.close()
        self.store.close()


def default_notifiers(config: Config, out: TextIO) -> dict[str, Notifier]:
    """The notifiers a config asks for; the console one always exists."""
    return {"console": ConsoleNotifier(out)}
