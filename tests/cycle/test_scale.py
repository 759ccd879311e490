"""Whole-registry scale: what keeps memory and CPU in step with the batch (issue 16).

The figures live in bench/run.py; these tests pin the mechanisms.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

from tests.conftest import write_config
from watcher.memory import MIDDLE_EVERY
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
print(froze, gc.get_freeze_count() > 0, middle, gc.get_threshold()[1])
"""
CHECK_COUNTING_COLLECTIONS = """
import gc, sys
from watcher.cli.main import main
from watcher.memory import MIDDLE_EVERY
def count(phase, info):  # walks of the middle generation once settle_memory spaced them out
    middle.append(info["generation"] == 1 and gc.get_threshold()[1] == MIDDLE_EVERY)
middle = []
gc.callbacks.append(count)
try:
    main(["--config", sys.argv[1], "check", "-q"], standalone_mode=False)
except SystemExit:
    pass
print(gc.get_threshold()[1], sum(middle) // 2)  # a start and a stop for each
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
    default = str(gc.get_threshold()[1])  # Python's own (10), as the child starts with it
    assert answers == [
        ["False", "False", default, default],
        ["True", "True", default, str(MIDDLE_EVERY)],
    ]


def test_a_big_check_still_walks_the_middle_generation_after_every_batch(tmp_path: Path) -> None:
    """The collector walks its middle generation every MIDDLE_EVERY young collections in a
    big one-shot check: never, in a cycle this size. A cycle some recording left behind
    (a traceback that holds a record) would then live to the end; the pipeline walks the
    young and middle generations itself after each batch instead, three here."""
    trials = [f"NCT{20_000_000 + i:08d}" for i in range(2500)]
    with RegistryDouble(make_study(t, t) for t in trials) as registry:
        config = write_config(tmp_path, registry.url, trials)
        out = subprocess.run(
            [sys.executable, "-c", CHECK_COUNTING_COLLECTIONS, str(config)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    threshold, walks = (int(x) for x in out.stdout.split())
    assert threshold == MIDDLE_EVERY
    assert walks >= 3


def test_the_caller_alone_holds_a_batch() -> None:
    """The generator keeps no reference to the batch it handed over: the caller's ``del``
    frees it at once (and the collection after it has little to walk)."""
    trials = [f"NCT{20_000_000 + i:08d}" for i in range(4)]
    freed: list[bool] = []
    with RegistryDouble(make_study(t, t) for t in trials) as registry:
        client = RegistryClient(registry.url, batch_size=2)
        for batch in client.iter_batches(trials):
            ref = weakref.ref(batch)
            del batch
            freed.append(ref() is None)
        client.close()
    assert freed == [True, True]


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
