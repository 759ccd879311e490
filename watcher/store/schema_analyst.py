"""Schema steps 0016…: one numbering of versions, typed ``latest`` columns, who watches what.

Why a module of its own: :mod:`watcher.store.schema` holds the steps before; these
register on the same list (imported at its end, so they apply after every earlier
step) and read best together, since the views they make share their columns.
"""

from __future__ import annotations

from sqlite_utils import Database

from watcher.store.schema import _script, migration


@migration("0016_version_numbers")
def _m0016_version_numbers(db: Database) -> None:
    """ctwatch's own number for each version it observed, given once and never changed.

    ``number`` is 1, 2, 3… per trial in the order ctwatch saw the versions: what
    ``history`` prints as ``#n`` and ``diff``/``show`` take. It is given at
    insert (the write transaction makes the next one unique; the index makes
    sure) and never rewritten, so a later import of older registry versions
    renumbers nothing. Imported versions have none: they are named by their
    registry number (``r7``), which the registry never changes either.
    ``position`` stays the order in time (it moves when older versions are
    imported) and is no one's name. Existing observed versions are numbered in
    the order they were written, which is the order they were seen.
    ``versions_seen`` lets ``ctwatch changes --since`` start where it should.
    """
    _script(
        db,
        """
        ALTER TABLE versions ADD COLUMN number INTEGER;
        UPDATE versions SET number = (
            SELECT COUNT(*) FROM versions AS earlier
            WHERE earlier.nct_id = versions.nct_id AND earlier.source = 'observed'
              AND earlier.id <= versions.id
        ) WHERE source = 'observed';
        CREATE UNIQUE INDEX versions_by_number ON versions(nct_id, number);
        CREATE INDEX versions_seen ON versions(fetched_at)
        """,
    )


def _status_words_sql(column: str) -> str:
    """``CASE column WHEN 'RECRUITING' THEN 'Recruiting' … END`` (the website's words)."""
    from watcher.core.describe import status_words  # noqa: PLC0415 - migration time only

    whens = " ".join(
        f"WHEN '{code}' THEN '{words.replace(chr(39), chr(39) * 2)}'"
        for code, words in status_words().items()
    )
    return f"CASE {column} {whens} ELSE {column} END"


@migration("0016b_latest_columns")
def _m0016b_latest_columns(db: Database) -> None:
    """Typed columns for ``latest`` (like AACT's ``studies``), kept in a narrow table.

    ``trial_facts`` holds one row per trial with the facts of its newest
    version (:mod:`watcher.core.facts`), written in the same transaction as
    that version, so ``latest`` needs no JSON. Trials recorded before are
    filled here from their newest stored body (0.6 s of CPU for 10,000 trials).
    ``trials.record`` (the whole record as JSON text) stays in the view; it is
    kept only with ``database.readable_records = "json"``.
    """
    from watcher.core.facts import COLUMNS, facts  # noqa: PLC0415 - migration time only
    from watcher.store.bodies import BodyCodec, BodyError  # noqa: PLC0415
    from watcher.store.versions import FACTS_INTO  # noqa: PLC0415

    columns = ",\n".join(f"{name} {_FACT_TYPES.get(name, 'TEXT')}" for name in COLUMNS)
    db.execute(f"CREATE TABLE trial_facts (nct_id TEXT PRIMARY KEY, {columns}) WITHOUT ROWID")
    codec = BodyCodec()
    after = ""
    while True:  # a page of trials at a time: a whole registry's bodies never sit in memory
        page = db.execute(
            """SELECT t.nct_id, v.body FROM trials t JOIN versions v ON v.id = (
                   SELECT id FROM versions WHERE nct_id = t.nct_id ORDER BY position DESC LIMIT 1)
               WHERE t.latest_hash IS NOT NULL AND t.nct_id > ? ORDER BY t.nct_id LIMIT 500""",
            [after],
        ).fetchall()
        if not page:
            break
        after = page[-1][0]
        for nct, body in page:
            try:
                record = codec.record(db, body)
            except BodyError:
                continue  # a damaged body: the trial's next version fills its row
            db.execute("INSERT " + FACTS_INTO, [nct, *facts(record)])
    _latest_view(db)


_FACT_TYPES = {"enrollment": "INTEGER", "has_results": "INTEGER", "locations_count": "INTEGER"}


def _latest_view(db: Database) -> None:
    db.execute("DROP VIEW IF EXISTS latest")
    db.execute(
        f"""CREATE VIEW latest AS
            SELECT t.nct_id AS nct_id, t.title AS title, f.acronym AS acronym,
                   f.lead_sponsor AS lead_sponsor, f.sponsor_class AS sponsor_class,
                   f.study_type AS study_type, f.phases AS phases,
                   t.overall_status AS overall_status,
                   {_status_words_sql("t.overall_status")} AS overall_status_text,
                   f.why_stopped AS why_stopped,
                   f.enrollment AS enrollment, f.enrollment_type AS enrollment_type,
                   f.start_date AS start_date, f.start_date_type AS start_date_type,
                   f.primary_completion_date AS primary_completion_date,
                   f.primary_completion_date_type AS primary_completion_date_type,
                   f.completion_date AS completion_date,
                   f.completion_date_type AS completion_date_type,
                   f.has_results AS has_results,
                   f.results_first_posted AS results_first_posted,
                   f.first_posted AS first_posted,
                   t.last_update_posted AS last_update_posted,
                   f.status_verified_date AS status_verified_date,
                   f.conditions AS conditions, f.interventions AS interventions,
                   f.locations_count AS locations_count,
                   'https://clinicaltrials.gov/study/' || t.nct_id AS url,
                   t.last_checked_at AS last_checked_at,
                   t.record AS record
            FROM trials t LEFT JOIN trial_facts f ON f.nct_id = t.nct_id
            WHERE t.latest_hash IS NOT NULL"""  # noqa: S608 - fixed fragments
    )


@migration("0016c_trial_watches")
def _m0016c_trial_watches(db: Database) -> None:
    """Which watch, search or Slack channel follows each trial; versions and changes with
    their numbers, for analysts.

    ``watch_members``: the config's watches by name, written by each ``check``
    (only what differs; ``watch_digest`` recognises an unchanged config).
    ``trial_watches``: those, the searches' members and the Slack subscriptions.
    ``trial_versions``: every version with ``ref`` (``#3`` for ctwatch's own
    number, ``r7`` for an imported registry version: what ``history`` prints),
    ``number``, ``registry_version``, ``source`` (``observed``/``imported``),
    ``seen_at``. ``trial_changes`` gains the same, and ``version`` becomes
    ctwatch's own number (NULL for an imported version) instead of the order in
    time, which moved when older versions were imported.
    """
    _script(db, _TRIAL_VIEWS)


_TRIAL_VIEWS = """
CREATE TABLE watch_members (
    watch TEXT NOT NULL,
    nct_id TEXT NOT NULL,
    PRIMARY KEY (watch, nct_id)
) WITHOUT ROWID;
CREATE INDEX watch_members_by_trial ON watch_members(nct_id);
CREATE TABLE watch_digest (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    digest TEXT NOT NULL
);
CREATE VIEW trial_watches AS
    SELECT nct_id, watch AS name, 'watch' AS kind FROM watch_members
    UNION ALL SELECT nct_id, search, 'search' FROM search_members
    UNION ALL SELECT nct_id, '#' || COALESCE(channel_name, channel_id), 'slack'
              FROM subscriptions;
CREATE VIEW trial_versions AS
    SELECT v.id AS version_id, v.nct_id AS nct_id,
           COALESCE('#' || v.number, 'r' || v.registry_version) AS ref,
           v.number AS number, v.registry_version AS registry_version,
           CASE v.source WHEN 'registry' THEN 'imported' ELSE v.source END AS source,
           v.position AS position, v.fetched_at AS seen_at,
           COALESCE(v.submitted, v.last_update_posted, substr(v.fetched_at, 1, 10))
               AS date,
           v.overall_status AS overall_status, v.change_count AS change_count
    FROM versions v;
DROP VIEW trial_changes;
CREATE VIEW trial_changes AS
    SELECT c.id AS change_id, v.nct_id AS nct_id, t.title AS title,
           v.number AS version,
           COALESCE('#' || v.number, 'r' || v.registry_version) AS version_ref,
           v.registry_version AS registry_version,
           CASE v.source WHEN 'registry' THEN 'imported' ELSE v.source END AS source,
           v.fetched_at AS seen_at,
           COALESCE(v.submitted, v.last_update_posted, substr(v.fetched_at, 1, 10))
               AS date,
           c.path AS field,
           c.label AS label,
           c.kind AS kind,
           COALESCE(c.old_text, json_extract(c.old, '$')) AS old,
           COALESCE(c.new_text, json_extract(c.new, '$')) AS new,
           v.position AS position, v.id AS version_id
    FROM changes c
    JOIN versions v ON v.id = c.version_id
    LEFT JOIN trials t ON t.nct_id = v.nct_id
"""
