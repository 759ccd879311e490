"""What a scheduled digest costs: 1,000 changes across 500 trials, built and rendered.

    python bench/digest.py                  # 500 trials, two changes each
    python bench/digest.py --trials 2000

The project's registry double (in this process) serves N synthetic real-shaped
trials (bench/synth.py); real cycles record a baseline and then two registry
updates of every trial, each change held for a weekly digest. With the clock
moved past the slot it then times, in CPU seconds: the pass that decides what
is due and writes the digest row (``Digester.run``), reading the digest back as
alerts (``Deliverer.digest_of``), and rendering it for every channel (Slack
blocks, the email, the Teams card, the webhook event, the console text). It
counts the registry requests made after the last cycle (deciding is from the
database and the clock alone). Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synth import edited, nct, study  # noqa: E402

from watcher.alerts.email_message import build_digest  # noqa: E402
from watcher.alerts.teams_card import digest_card, encode  # noqa: E402
from watcher.alerts.webhook_payload import build_digest_payload  # noqa: E402
from watcher.alerts.webhook_payload import encode as encode_event  # noqa: E402
from watcher.app import App  # noqa: E402
from watcher.config import load_config  # noqa: E402
from watcher.core.digest import Digest, digest_text  # noqa: E402
from watcher.slack.blocks import digest_message  # noqa: E402
from watcher.store.digests import DIGEST_KIND  # noqa: E402
from watcher.testing.registry_double import RegistryDouble  # noqa: E402

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday; the digest is Monday 08:00


def cpu(label: str, work: Callable[[], object]) -> object:
    started = time.process_time()
    result = work()
    print(f"  {label:<44} {time.process_time() - started:8.3f} s CPU")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=500)
    args = parser.parse_args()
    ids = [nct(i) for i in range(args.trials)]
    with tempfile.TemporaryDirectory() as folder, RegistryDouble() as registry:
        path = Path(folder) / "ctwatch.toml"
        trial_list = ", ".join(f'"{n}"' for n in ids)
        path.write_text(
            f'[registry]\nurl = "{registry.url}"\npace = 0\nbackoff = 0\nincremental = false\n'
            f'[database]\npath = "{folder}/ctwatch.db"\n'
            f'[[watch]]\nname = "bench"\ntrials = [{trial_list}]\n'
            'digest = "weekly mon 08:00"\n',
            encoding="utf-8",
        )
        config = load_config(path)
        now = [START]
        records = [study(i) for i in range(args.trials)]
        for record in records:
            registry.put(record)
        app = App.build(config, out=io.StringIO(), clock=lambda: now[0])
        app.check()  # baseline
        for round_, day in enumerate(("2026-12-02", "2026-12-03"), start=1):
            for record in records:
                changed = edited(record, day)
                changed["protocolSection"]["statusModule"]["whyStopped"] = f"round {round_}"
                registry.put(changed)
            now[0] += timedelta(days=1)
            app.check()
        held = sum(w.count for w in app.store.digests.waiting())
        asked = len(registry.requests)
        print(f"{args.trials} trials, {held} changes held for the weekly digest")
        now[0] = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        digester = app.deliverer.digester
        assert digester is not None
        made = cpu("decide what is due, write the digest row", digester.run)
        (digest_id,) = made.digests  # type: ignore[attr-defined]
        (claim,) = [c for c in app.store.outbox.claims_of([digest_id]) if c.kind == DIGEST_KIND]
        digest = cpu("read it back as alerts", lambda: app.deliverer.digest_of(claim))
        assert isinstance(digest, Digest)
        print(f"  ({len(digest.alerts)} alerts, {digest.trial_count} trials: {digest.headline})")
        cpu("Slack blocks", lambda: digest_message(digest.alerts, digest=digest))
        cpu(
            "email (text and HTML)",
            lambda: build_digest(digest, "ctwatch@example.org", ["a@example.org"], now[0]),
        )
        cpu(
            "Teams card (fitted under 28 KB)",
            lambda: encode(digest_card(digest.alerts, digest=digest)),
        )
        cpu(
            "webhook event",
            lambda: encode_event(build_digest_payload(digest, "msg_1", now[0])),
        )
        cpu("console text", lambda: digest_text(digest))
        print(f"  registry requests while deciding and building: {len(registry.requests) - asked}")
        app.close()


if __name__ == "__main__":
    main()
