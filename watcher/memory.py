"""The memory of a one-shot ``ctwatch check``: what the cyclic garbage collector walks.

Why: reference counting frees almost everything ctwatch makes (a parsed record is a
tree of dicts and lists, freed when its batch is recorded). Python's cyclic collector
looks for the rest by walking the containers it tracks, and it starts a walk every 700
allocations. A check of a long watch list gave it two kinds of work that find nothing:

- what lives for the whole process (modules, the config, its watch lists), walked again
  by every full collection. It is frozen (:func:`gc.freeze`) once the App is built: at
  10,000 trials that saved a seventh of a baseline's CPU (bench, 2026-11-30);
- the page of a thousand records being recorded. Every young collection during its
  recording promoted it a generation, and every tenth of those walked the middle
  generation (the page again), every hundredth the whole heap: the collector cost about
  0.2 s of a 10,000-trial baseline's 2 s, and the change below saves 0.11-0.13 s of it
  (bench, 2026-12-07). The middle generation is now
  walked every 1,000 young collections instead of every 10, which at 10,000 trials
  means never during the cycle, so the pipeline collects the young and middle
  generations itself after each batch, when the batch is gone and little is alive in
  them: a cycle that outlived a young collection (a traceback holding a record) lives
  one batch at most. Young garbage is still collected as often.

Only for watch lists of ``SETTLE_OVER`` trials or more, where it pays, and never in the
daemon: its reloads replace the config, and frozen objects are never collected.
"""

from __future__ import annotations

import gc

from watcher.config import Config

SETTLE_OVER = 1000
"""Trials; below this a cycle is too short for the collector to matter."""
MIDDLE_EVERY = 1000
"""Young collections between two walks of the middle generation (Python's default: 10)."""


def settle_memory(config: Config) -> bool:
    """Freeze what lives for the whole process and space out the middle generation's
    walks (see the module doc). Call once in a one-shot process, after the App is
    built. True when it did."""
    if sum(len(w.trials) for w in config.watch) < SETTLE_OVER:
        return False
    gc.collect()
    gc.freeze()
    young, _, oldest = gc.get_threshold()
    gc.set_threshold(young, MIDDLE_EVERY, oldest)
    return True
