"""Pull mode: for sites that will not add a plugin or a modality to their Orthanc.

Polls Orthanc's ``/changes`` for ``StableStudy``, takes the matching MR series and ingests
their instances through the same :class:`node.store.Store` path as the SCP (fsync, index), so
the runner cannot tell a pulled study from a pushed one. The last change sequence number is
kept in the node database, so a restart resumes where it stopped and nothing is fetched twice
(a re-fetched instance would be idempotent anyway: same SOP Instance UID).
"""

from __future__ import annotations

import io
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from orthanc_api_client import OrthancApiClient
from orthanc_api_client.change import ChangeType

from node.orthanc.client import series_to_process
from node.orthanc.config import OrthancConfig
from node.store.db import connect, ensure_schema

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orthanc_pull (
    url TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
"""
PULL_AE = "ORTHANC-PULL"


@dataclass(frozen=True)
class PulledStudy:
    orthanc_study_id: str
    series: int
    instances: int


class OrthancPuller:
    """Poll loop; ``store`` is the node's Store (anything with ``store_instance``)."""

    def __init__(self, cfg: OrthancConfig, store, db_path: Path, client: OrthancApiClient,
                 on_stored: Callable[[object], None] | None = None) -> None:
        self._cfg = cfg
        self._on_stored = on_stored
        self._store = store
        self._client = client
        self._db: sqlite3.Connection = connect(db_path)
        ensure_schema(self._db, SCHEMA)

    def _last_seq(self) -> int | None:
        row = self._db.execute("SELECT last_seq FROM orthanc_pull WHERE url=?", (self._cfg.url,)).fetchone()
        return None if row is None else int(row[0])

    def _save_seq(self, seq: int) -> None:
        self._db.execute(
            "INSERT INTO orthanc_pull(url, last_seq) VALUES(?, ?) "
            "ON CONFLICT(url) DO UPDATE SET last_seq=excluded.last_seq",
            (self._cfg.url, seq),
        )

    def pull_study(self, study_id: str) -> PulledStudy:
        picks = series_to_process(self._client, study_id, self._cfg.filters)
        count = 0
        for pick in picks:
            for instance_id in self._client.series.get_instances_ids(pick.orthanc_id):
                raw = self._client.instances.get_file(instance_id)
                ds = pydicom.dcmread(io.BytesIO(raw))
                stored = self._store.store_instance(
                    ds, transfer_syntax=str(ds.file_meta.TransferSyntaxUID), calling_ae=PULL_AE, raw=raw
                )
                count += 1
                if self._on_stored is not None and not stored.duplicate:
                    self._on_stored(stored.record)
        return PulledStudy(study_id, len(picks), count)

    def _end_of_changes(self, max_pages: int = 10_000) -> int:
        since = 0
        for _ in range(max_pages):
            _, since, done = self._client.get_changes(since=since, limit=1000)
            if done:
                break
        return int(since)

    def poll_once(self, limit: int = 100) -> list[PulledStudy]:
        """Process the changes since the last poll; the sequence only advances past handled ones."""
        since = self._last_seq()
        if since is None and not self._cfg.pull_history:
            # first start: skip the archive's history, take only what arrives from now on
            since = self._end_of_changes()
            self._save_seq(since)
            return []
        changes, last, _done = self._client.get_changes(since=since or 0, limit=limit)
        pulled: list[PulledStudy] = []
        for change in changes:
            if change.change_type == ChangeType.STABLE_STUDY:
                result = self.pull_study(change.resource_id)
                if result.instances:
                    log.info("pulled %d instances of Orthanc study %s", result.instances, change.resource_id)
                    pulled.append(result)
            self._save_seq(change.sequence_id)
        self._save_seq(int(last))
        return pulled

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # Orthanc down or restarting: keep polling, say so
                log.exception("orthanc pull failed; retrying in %.0f s", self._cfg.poll_interval_s)
            stop.wait(self._cfg.poll_interval_s)
