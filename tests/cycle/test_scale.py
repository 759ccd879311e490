"""Whole-registry scale: what keeps memory and CPU in step with the batch (issue 16).

The figures live in bench/run.py; these tests pin the mechanisms.
"""

from __future__ import annotations

import subprocess
import sys
import weakref
from pathlib import Path

from tests.conftest import write_config
from watcher.registry.client import FetchResult, RegistryClient
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study

SETTLE = """
import gc, sys
from pathlib import Path
from watcher.memory import settle_memory
from watcher.config import load_config
middle = gc.get_threshold()[1]
froze = settle_memory(load_config(Path(sys.argv[1]), {}))
print(froze, gc.get_freeze_count() > 0, gc.get_threshold()[1] == middle)
"""


def test_check_freezes_the_collector_only_for_big_watch_lists(tmp_path: Path) -> None:
    answers = []
    for count in (10, 1000):
        trials = [f"NCT{20_000_000 + i:08d}" for i in range(count)]
        config = write_config(tmp_path, "http://127.0.0.1:9/api/v2", trials, name=f"{count}.toml")
        out = subprocess.run(
            [sys.executable, "-c", SETTLE, str(config)], capture_output=True, text=True, check=True
        )
        answers.append(out.stdout.split())
    assert answers == [["False", "False", "True"], ["True", "True", "False"]]


def test_the_client_lets_go_of_a_batch_before_reading_the_next() -> None:
    """While a batch is being read, no earlier batch is alive (weak references tell)."""
    trials = [f"NCT{20_000_000 + i:08d}" for i in range(6)]
    alive: list[weakref.ref[FetchResult]] = []
    seen_while_reading: list[list[bool]] = []

    def reading(count: int) -> None:  # called as each page arrives, inside the next fetch
        seen_while_reading.append([ref() is not None for ref in alive])

    with RegistryDouble(make_study(t, t) for t in trials) as registry:
        client = RegistryClient(registry.url, batch_size=2)
        for batch in client.iter_batches(trials, on_progress=reading):
            alive.append(weakref.ref(batch))
            del batch  # as the pipeline does
        client.close()
    assert seen_while_reading == [[], [False], [False, False]]
