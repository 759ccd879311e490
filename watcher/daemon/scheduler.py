"""``ctwatch run``: APScheduler wiring, live config reload, clean stops.

Why these choices:

* BlockingScheduler with a cycle job (``every`` or ``cron``) that runs once at
  start, coalesces missed runs and never overlaps itself, plus a delivery job
  about every minute, so an alert held up by a Slack outage does not wait for
  the next cycle.
* The config file is re-read before every cycle and on SIGHUP; a bad edit is
  logged and the daemon keeps its last good config. Nobody restarts a daemon to
  follow one more trial.
* With ``registry.backfill``, queued registry histories are imported after each
  cycle, within ``registry.backfill_per_cycle`` requests, stopping for a
  shutdown or when the next cycle is due.
* SIGTERM/SIGINT set a stop event: the cycle stops between trials (each trial is
  its own transaction) and pacing sleeps wake up at once, so the process exits
  within seconds with nothing half-written; unsent alerts stay in the outbox.
* A signal handler only posts the signal's number; a control thread acts on it.
  A handler runs between two bytecodes of the main thread, which may be holding
  a lock the scheduler needs to stop (submitting a job holds the thread pool's),
  so stopping from the handler itself could wait forever on its own thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Generic, Protocol, TypeVar

from apscheduler.events import EVENT_SCHEDULER_START, SchedulerEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watcher.alerts.delivery import DeliveryReport
from watcher.config import Config, ConfigError, ScheduleConfig, load_config, serving
from watcher.config.crontab import cron_trigger
from watcher.config.destinations import ChannelKey
from watcher.config.trials_file import FileStamp, file_stamp
from watcher.core.text import counted, one_line
from watcher.cycle.backfill import QueueReport
from watcher.cycle.report import CycleReport, Interrupted
from watcher.store import Busy, StoreError

log = logging.getLogger(__name__)

DELIVERY_EVERY = 60
STOP_GRACE = 5  # seconds a stop waits for an in-flight cycle before leaving anyway
CYCLE_LOCK_WAIT = 60  # seconds a cycle waits for another ctwatch on the same database
CYCLE_JOB = "cycle"
DELIVERY_JOB = "deliver"
_NO_MORE_SIGNALS = 0  # posted when run() ends: the control thread's last word


class Runtime(Protocol):
    """What the daemon needs from one built App (the composition root builds it)."""

    def check(
        self,
        *,
        force: bool = True,
        full: bool = False,
        should_stop: Callable[[], bool] = ...,
        wait: float | None = None,
    ) -> tuple[CycleReport, DeliveryReport]: ...

    def deliver(self, wait: float | None = None) -> DeliveryReport: ...

    def backfill_queued(
        self, should_stop: Callable[[], bool], wait: float = ...
    ) -> QueueReport: ...

    def outbox_counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


R = TypeVar("R", bound=Runtime)


def cycle_trigger(schedule: ScheduleConfig) -> IntervalTrigger | CronTrigger:
    """The APScheduler trigger for ``[schedule]``."""
    jitter = int(schedule.jitter.total_seconds()) if schedule.jitter else None
    if schedule.cron is not None:
        trigger = cron_trigger(schedule.cron, schedule.timezone)
        trigger.jitter = jitter
        return trigger
    return IntervalTrigger(seconds=schedule.interval_seconds or 0, jitter=jitter, timezone=UTC)


@dataclass
class ConfigSource:
    """The config file and a fingerprint of what was last loaded from it.

    The fingerprint covers the config's bytes and the stamp (inode, size, mtime) of each
    ``trials_file`` it named, taken before that file was read: an edited or replaced ID
    file is noticed without re-reading 600,000 IDs every cycle.
    """

    path: Path
    fingerprint: str = ""
    channels: Mapping[str, ChannelKey] = field(default_factory=dict)
    """The registered channels' destination keys (:func:`load_config`'s ``channels``)."""
    stamps: dict[Path, FileStamp | None] = field(default_factory=dict)
    """The trials files of the config last loaded, with their stamps."""

    def read_if_changed(self) -> Config | None:
        """A new Config when the file or one of its trials files changed, else None;
        ConfigError on a bad edit."""
        data = self.path.read_bytes()
        fingerprint = hashlib.sha256(data).hexdigest()
        if fingerprint == self.fingerprint and all(
            file_stamp(path) == stamp for path, stamp in self.stamps.items()
        ):
            return None
        stamps: dict[Path, FileStamp | None] = {}
        config = load_config(self.path, channels=self.channels, stamps=stamps)
        self.fingerprint = fingerprint
        self.stamps = stamps
        return config


class Daemon(Generic[R]):
    """Owns the scheduler, the current App and the stop event."""

    def __init__(
        self,
        source: ConfigSource,
        config: Config,
        build_app: Callable[[Config, Callable[[float], None]], R],
        on_reload: Callable[[Config], None] = lambda config: None,
    ) -> None:
        self.source = source
        self._on_reload = on_reload
        self.config = config
        self.stop_event = threading.Event()
        self._build_app = build_app
        self._lock = threading.Lock()
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()  # put() is reentrant
        self._started = threading.Event()  # the scheduler can be shut down from now on
        self.app = build_app(config, self.sleep)
        self.scheduler = self.build_scheduler()

    # ---- building --------------------------------------------------------------

    def build_scheduler(self) -> BlockingScheduler:
        """The scheduler with its two jobs, not started."""
        scheduler = BlockingScheduler(timezone=UTC)
        once = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        scheduler.add_job(
            self.run_cycle,
            cycle_trigger(self.config.schedule),
            id=CYCLE_JOB,
            name="check watched trials",
            next_run_time=datetime.now(UTC),
            **once,
        )
        scheduler.add_job(
            self.deliver_pending,
            IntervalTrigger(seconds=DELIVERY_EVERY, timezone=UTC),
            id=DELIVERY_JOB,
            name="retry pending alerts",
            **once,
        )
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_START)
        return scheduler

    def _on_started(self, event: SchedulerEvent) -> None:
        self._started.set()

    # ---- jobs ------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Pacing and backoff sleeps that wake up when the daemon stops."""
        if self.stop_event.wait(seconds):
            raise Interrupted

    def run_cycle(self) -> None:
        """Reload the config if it changed, then one cycle and its deliveries; log when
        the next one is due (a user tailing the log sees the daemon is alive)."""
        try:
            self._run_cycle()
        finally:
            self._log_next_check()

    def _log_next_check(self) -> None:
        job = self.scheduler.get_job(CYCLE_JOB) if self.scheduler.running else None
        due = job.next_run_time if job is not None else None
        if due is not None and not self.stop_event.is_set():
            log.info("next check due at %s", due.astimezone(UTC).isoformat(timespec="seconds"))

    def _run_cycle(self) -> None:
        self.reload()
        with self._lock:
            if self.stop_event.is_set():
                return
            started = time.monotonic()
            app = self.app
            try:
                report, delivery = app.check(
                    force=False, should_stop=self.stop_event.is_set, wait=CYCLE_LOCK_WAIT
                )
            except Interrupted:
                log.info("cycle interrupted by shutdown")
                return
            except Busy as exc:
                log.warning("cycle skipped: %s; the next one will try again", exc)
                return
            except StoreError as exc:
                log.error("cycle failed: %s", exc)
                return
            counts: dict[str, int]
            try:
                counts = app.outbox_counts()
            except Exception as exc:  # the database; the cycle itself is recorded already
                log.error("the outbox could not be counted: %s", one_line(str(exc), 300))
                log.debug("the outbox could not be counted", exc_info=True)
                counts = {}
            log.info(
                "cycle: checked %d, changed %d, new %d, not found %d, errors %d; "
                "alerts sent %d, pending %s, failed %s; registry requests %d; %.1fs",
                report.checked, len(report.changed), len(report.new), len(report.not_found),
                len(report.errors), delivery.sent, counts.get("pending", "?"),
                counts.get("failed", "?"),
                report.requests, time.monotonic() - started,
            )  # fmt: skip
            if report.error is not None:
                log.error("the cycle failed: %s", report.error)
            if self.config.registry.backfill:
                self._import_history(app)

    def _import_history(self, app: R) -> None:
        """Work through queued history imports until the budget, a stop or the next cycle.

        A failure here is logged and never touches checks: the queue waits.
        """
        try:
            report = app.backfill_queued(self._history_should_stop, wait=0)
        except Interrupted:
            log.info("history import interrupted by shutdown; the queue keeps the rest")
            return
        except Busy as exc:
            log.info("history import skipped: %s", exc)
            return
        except Exception as exc:  # the database, or a fault nobody foresaw
            log.error("history import stopped: %s", exc)
            log.debug("history import stopped", exc_info=True)
            return
        if report.imported or report.unavailable:
            versions = sum(len(r.imported) for r in report.imported)
            log.info(
                "history: %s imported (%s), %d unavailable, %d still queued; "
                "registry requests %d",
                counted(len(report.imported), "trial"), counted(versions, "version"),
                len(report.unavailable), report.left,
                report.requests,
            )  # fmt: skip

    def _history_should_stop(self) -> bool:
        """Stop importing on shutdown, or when the next cycle is due (checks come first)."""
        if self.stop_event.is_set():
            return True
        job = self.scheduler.get_job(CYCLE_JOB) if self.scheduler.running else None
        due = job.next_run_time if job is not None else None
        return due is not None and due <= datetime.now(UTC)

    def deliver_pending(self) -> None:
        """Retry due alerts between cycles."""
        with self._lock:
            if self.stop_event.is_set():
                return
            try:
                delivery = self.app.deliver(wait=0)
            except Busy:
                return  # another ctwatch is sending; the next minute tries again
            except StoreError as exc:
                log.error("alerts not sent: %s", exc)
                return
        if delivery.sent or delivery.retrying or delivery.failed:
            log.info(
                "alerts: sent %d, still pending %d, failed %d",
                delivery.sent, delivery.retrying, delivery.failed,
            )  # fmt: skip

    # ---- reload and signals ---------------------------------------------------

    def reload(self) -> bool:
        """Adopt an edited config file; keep the last good one on error."""
        try:
            config = self.source.read_if_changed()
        except ConfigError as exc:
            log.error("config reload failed, keeping the last good config: %s", exc)
            return False
        except OSError as exc:
            log.error("config reload failed (%s), keeping the last good config", exc)
            return False
        if config is None or config == self.config:
            return False
        with self._lock:
            old_app, old_schedule = self.app, self.config.schedule
            old_listen = serving(self.config).listen
            try:
                self.app = self._build_app(config, self.sleep)
            except Exception as exc:  # the database, a client: the last good app keeps running
                what = f"{exc.__class__.__name__}: {one_line(str(exc), 300)}"
                log.error("config reload failed (%s), keeping the last good config", what)
                log.debug("config reload failed", exc_info=True)
                self.source.fingerprint = ""  # the next cycle tries the same file again
                return False
            self.config = config
            old_app.close()
        self._on_reload(config)
        listen = serving(config).listen
        if listen != old_listen:  # the socket is bound once; the UI's token rule follows it
            log.warning(
                "server listen changed (%s -> %s): the web server keeps %s until a restart",
                old_listen, listen, old_listen,
            )  # fmt: skip
        if config.schedule != old_schedule:
            self.scheduler.reschedule_job(CYCLE_JOB, trigger=cycle_trigger(config.schedule))
        log.info(
            "config reloaded: %s, %s",
            counted(len(config.watch), "watch"),
            counted(len(config.trials), "trial"),
        )
        return True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.post_signal)
        signal.signal(signal.SIGINT, self.post_signal)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self.post_signal)

    def post_signal(self, signum: int, frame: FrameType | None) -> None:
        """The handler: no lock, no logging, no call into the scheduler (see the module)."""
        self._signals.put(signum)

    def _handle_signals(self) -> None:
        """The control thread: acts on each posted signal, in order, until run() ends."""
        while (signum := self._signals.get()) != _NO_MORE_SIGNALS:
            if hasattr(signal, "SIGHUP") and signum == signal.SIGHUP:
                self._on_hup(signum, None)
            else:
                self._on_stop(signum, None)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        self.stop_event.set()
        self._started.wait()  # a stop before the scheduler started still stops it
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        log.info("received SIGHUP; reloading the config")
        self.scheduler.add_job(self.reload, id="reload-now", replace_existing=True)

    def run(self) -> None:
        """Block until stopped; then release everything."""
        control = threading.Thread(target=self._handle_signals, name="signals", daemon=True)
        control.start()
        self.install_signal_handlers()
        log.info(
            "ctwatch running: %s, schedule %s",
            counted(len(self.config.trials), "trial"), self.config.schedule.describe(),
        )  # fmt: skip
        try:
            self.scheduler.start()
        finally:
            self.stop_event.set()
            self._started.set()  # start() failed: a stop waiting for it need not
            self._signals.put(_NO_MORE_SIGNALS)
            if not self._lock.acquire(timeout=STOP_GRACE):
                # a registry or Slack call is still in flight; every write is a
                # transaction, so leaving now loses nothing (pending alerts stay pending)
                log.warning("a request is still in flight after %ss; stopping anyway", STOP_GRACE)
                logging.shutdown()
                os._exit(0)
            try:
                self.app.close()
            finally:
                self._lock.release()
        log.info("ctwatch stopped")
