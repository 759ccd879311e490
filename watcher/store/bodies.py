"""Version bodies on disk: zstd with a dictionary trained on this database's own records.

Why zstd with a dictionary: a record is ~10 KB of JSON whose keys, enum
values and boilerplate repeat from record to record. Compressed alone, each
body pays again for all of that (zlib level 6 kept ~23% of the bytes, and cost
a seventh of a cycle's CPU); with a dictionary trained on records like it,
zstd level 3 keeps ~12% at a seventh of zlib's CPU (bench records,
2026-11-30). The dictionary is trained on the
records this database already holds (no record data ships with ctwatch), and
stored in the database itself (``body_dictionaries``), so the file stays
self-contained for any tool that reads it.

When: the first dictionary is trained as soon as the database holds
``TRAIN_AT`` versions (mid-batch, between two trials), from the newest
``SAMPLES`` bodies; a new one each time the database has grown
``GROWTH``-fold since the last. Bodies written before stay as they are
(zstd without a dictionary, or with an older one): rewriting them in place
would shrink the rows but not the pages they sit on. Training runs inside
the batch's transaction, so two processes can never train at once and a
crash leaves no half-state.

Reading: the first bytes of a body say how to read it. A zstd frame (magic
``28 b5 2f fd``) names its dictionary by ID in its own header (0: none; else
the ``body_dictionaries`` row of that ID), so every dictionary stays readable
for as long as bodies name it. Anything else is a zlib stream, as ctwatch
wrote before the ``0006_compression`` migration; those bodies are read as
they are and never rewritten.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from typing import Any

import zstandard
from sqlite_utils import Database

from watcher.core.jsoncodec import loads

log = logging.getLogger(__name__)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LEVEL = 3  # level 6 saves 6% more at almost five times the CPU (bench records, 2026-11-30)
DICT_SIZE = 64 * 1024
TRAIN_AT = 200
SAMPLES = 500  # ~5 MB of records: enough for a 64 KB dictionary
GROWTH = 16
SEGMENT, DMER = 2000, 8
"""The trainer's segment and d-mer sizes, fixed at what zstd's own search settles on for
records like these (k≈2000, d=8): the search costs 0.19 s a training, these 0.05 s, for
the same ratio on the bench's records (0.123) and within 2% on 32 real ones (2026-12-07).
A 10,000-trial baseline trains twice."""


class BodyError(Exception):
    """A stored body cannot be read (a missing dictionary, a damaged blob)."""


class BodyCodec:
    """Compresses bodies with the newest dictionary; reads every codec ever written.

    One per Store; it caches dictionaries by ID (they never change once
    written). Its own lock makes it safe to share between the scheduler's
    threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest = 0  # ID of the dictionary new bodies use (0: none)
        self._newest_data: bytes | None = None  # ... and its bytes
        self._due_at = TRAIN_AT  # the number of versions at which to train the next one
        self._compressor = zstandard.ZstdCompressor(level=LEVEL)
        self._readers: dict[int, zstandard.ZstdDecompressor] = {0: zstandard.ZstdDecompressor()}

    # ---- writing -----------------------------------------------------------------

    def refresh(self, db: Database) -> None:
        """Use the newest dictionary the database holds (at the start of every batch).

        Picks up what another process trained, and forgets one whose
        transaction never committed: new bodies only ever name a stored one.
        """
        row = db.execute(
            "SELECT id, trained_on, data FROM body_dictionaries ORDER BY id DESC LIMIT 1"
        ).fetchone()
        newest_id, trained_on = (0, 0) if row is None else (int(row[0]), int(row[1]))
        data = None if row is None else bytes(row[2])
        with self._lock:
            if (newest_id, data) == (self._newest, self._newest_data):
                return
            # Compared by content, not ID: a dictionary this process trained in a batch
            # that was rolled back leaves its ID free, and another process may store a
            # different dictionary under it. Cached readers of such IDs go too.
            for undone in [i for i in self._readers if i >= newest_id and i != 0]:
                del self._readers[undone]
            self._use(newest_id, trained_on, data)

    def compress(self, body: bytes) -> bytes:
        with self._lock:
            return self._compressor.compress(body)

    def train_if_due(self, db: Database, held: int) -> None:
        """After a trial whose version brought the database to ``held`` versions.

        Called between trials, outside their savepoints: a dictionary is never
        undone while the batch's later bodies still name it (if the whole
        batch is undone, so are they). One that cannot be trained (too few or
        too alike records) is tried again after a later trial.
        """
        if held < self._due_at:
            return
        new_id = self._newest + 1
        try:
            trained = zstandard.train_dictionary(
                DICT_SIZE, self._samples(db), dict_id=new_id, level=LEVEL, k=SEGMENT, d=DMER
            )
        except zstandard.ZstdError as exc:
            log.debug("body dictionary not trained: %s", exc)
            self._due_at = 2 * held  # try again when there is twice as much to learn from
            return
        db.execute(
            "INSERT INTO body_dictionaries (id, trained_on, data) VALUES (?, ?, ?)",
            [new_id, held, trained.as_bytes()],
        )
        with self._lock:
            self._use(new_id, held, trained.as_bytes())
        log.info("body dictionary %d trained on the newest of %d versions", new_id, held)

    def _samples(self, db: Database) -> list[bytes | bytearray | memoryview]:
        """The newest bodies that can be read (a damaged one is left out, not fatal)."""
        samples: list[bytes | bytearray | memoryview] = []
        for (blob,) in db.execute("SELECT body FROM versions ORDER BY id DESC LIMIT ?", [SAMPLES]):
            try:
                samples.append(self.decompress(db, blob))
            except BodyError:
                continue
        return samples

    def _use(self, dict_id: int, trained_on: int, data: bytes | None) -> None:
        self._newest, self._newest_data = dict_id, data
        self._due_at = GROWTH * trained_on if dict_id else TRAIN_AT
        dictionary = None if data is None else zstandard.ZstdCompressionDict(data)
        self._compressor = zstandard.ZstdCompressor(level=LEVEL, dict_data=dictionary)

    # ---- reading -----------------------------------------------------------------

    def decompress(self, db: Database, blob: bytes) -> bytes:
        """The canonical body bytes of a stored blob, whatever wrote it."""
        try:
            if blob[:4] != ZSTD_MAGIC:
                return zlib.decompress(blob)
            dict_id = zstandard.get_frame_parameters(blob).dict_id
            with self._lock:
                reader = self._readers.get(dict_id)
                if reader is None:
                    reader = zstandard.ZstdDecompressor(dict_data=self._dictionary(db, dict_id))
                    self._readers[dict_id] = reader
                return reader.decompress(blob)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise BodyError(f"a stored version body cannot be read ({exc})") from None

    def record(self, db: Database, blob: bytes) -> dict[str, Any]:
        """A stored blob parsed back to the record."""
        data: dict[str, Any] = loads(self.decompress(db, blob))
        return data

    def _dictionary(self, db: Database, dict_id: int) -> zstandard.ZstdCompressionDict:
        try:
            row = db.execute(
                "SELECT data FROM body_dictionaries WHERE id = ?", [dict_id]
            ).fetchone()
        except sqlite3.OperationalError as exc:
            raise BodyError(f"body dictionary {dict_id} cannot be read ({exc})") from None
        if row is None:
            raise BodyError(f"body dictionary {dict_id} is missing from the database")
        return zstandard.ZstdCompressionDict(row[0])
