"""The state of long-lived connections, for ``ctwatch health`` in another process.

Why in the database: ``health`` runs as its own process (Docker's
``HEALTHCHECK``), so the daemon cannot simply be asked whether its Slack
Socket Mode connection is up. The daemon writes what it sees every check
interval; ``since`` moves only when the state flips, and ``checked_at`` says
whether anyone is still looking.
"""

from __future__ import annotations

from watcher.store.base import Connection
from watcher.store.rows import ServiceState, from_row

SOCKET_MODE = "slack_socket_mode"
"""The Slack Socket Mode connection of ``ctwatch run``/``serve``."""


class ServiceStates:
    """Reads and writes ``service_state``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, name: str, up: bool, now: str, detail: str | None = None) -> None:
        """What the connection looks like now (``detail`` is masked before it is stored)."""
        with self._conn.atomic() as db:
            db.execute(
                """INSERT INTO service_state (name, up, since, checked_at, detail)
                   VALUES (:name, :up, :now, :now, :detail)
                   ON CONFLICT(name) DO UPDATE SET
                       since = CASE WHEN service_state.up = excluded.up
                                    THEN service_state.since ELSE excluded.since END,
                       up = excluded.up, checked_at = excluded.checked_at,
                       detail = excluded.detail""",
                {"name": name, "up": int(up), "now": now,
                 "detail": self._conn.masked_optional(detail)},
            )  # fmt: skip

    def get(self, name: str) -> ServiceState | None:
        row = self._conn.one(
            "SELECT name, up, since, checked_at, detail FROM service_state WHERE name = ?", [name]
        )
        return from_row(ServiceState, row, up=bool(row["up"])) if row else None
