"""Schema steps for whole-registry watch lists (0021, 0022).

Registered from :mod:`watcher.store.schema` after the web UI's, so steps apply in the
order of their numbers on a database of any earlier ctwatch.
"""

from __future__ import annotations

from sqlite_utils import Database

from watcher.store.schema import _script, migration


@migration("0021_idle_reads")
def _m0021_idle_reads(db: Database) -> None:
    """What an idle cycle reads, at the size of a short list rather than of the watch list
    (at 580,000 trials each of these questions cost 0.14-0.17 s a cycle):

    * ``clock_missing``: the trials whose time-event facts are still to be read from
      their stored version. Only a database from before events (0017), or a version
      recorded without the event rules, holds such a trial: this step lists the first
      kind, the store adds the second as it records it, and the time pass reads this
      (usually empty) table instead of comparing every trial with ``event_clock``.
    * ``trials_unhealthy``: the trials a cycle must fetch in full (recorded never, or
      failing), a partial index that holds only them.
    * ``trials_forgotten``: a trial row deleted (by hand: ctwatch never does) is noted in
      ``forgotten_trials`` and forgets the stored watch list's digest, so the next
      cycles fetch it in full instead of trusting that every listed trial has a row (see
      ``Runs.needs_full_fetch``). Digests stored before this step are forgotten too: the
      next cycle reads the whole scope once and stores one it can trust.
    """
    _script(
        db,
        """
        CREATE TABLE clock_missing (nct_id TEXT PRIMARY KEY) WITHOUT ROWID;
        INSERT INTO clock_missing (nct_id)
            SELECT nct_id FROM trials WHERE latest_hash IS NOT NULL
                AND nct_id NOT IN (SELECT nct_id FROM event_clock);
        CREATE INDEX trials_unhealthy ON trials(nct_id)
            WHERE not_found = 0 AND (latest_hash IS NULL OR last_error IS NOT NULL);
        CREATE TABLE forgotten_trials (nct_id TEXT PRIMARY KEY) WITHOUT ROWID;
        DELETE FROM scope_digest
        """,
    )
    db.execute(  # its own statement: the body's ";" is not a separator
        """CREATE TRIGGER trials_forgotten AFTER DELETE ON trials BEGIN
               INSERT OR IGNORE INTO forgotten_trials (nct_id) VALUES (old.nct_id);
               DELETE FROM scope_digest;
           END"""
    )


@migration("0022_time_pass_index")
def _m0022_time_pass_index(db: Database) -> None:
    """The trials the time pass looks at, found through two partial indexes instead of a
    read of every ``event_clock`` row on every cycle (1 ms at 10,000 trials, about 50 ms at
    580,000): those whose facts moved (``evaluated_on`` NULL: a handful), and the relevant
    ones by the day they were last evaluated (the day's first cycle reads the older ones,
    later cycles none). A trial that can make no time event is in neither once evaluated.
    """
    _script(
        db,
        """
        CREATE INDEX event_clock_moved ON event_clock(nct_id) WHERE evaluated_on IS NULL;
        CREATE INDEX event_clock_relevant ON event_clock(evaluated_on) WHERE relevant = 1
        """,
    )
