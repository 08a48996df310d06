"""``/metrics`` in the Prometheus text format (prometheus_client).

The node runs several processes (server, workers), so in-process counters would disagree.
Instead a dedicated ``CollectorRegistry`` holds one custom collector that computes every value
from the SQLite database at scrape time: instances (store ``instances`` table), associations by
result (store ``audit`` table), jobs by state (``jobs``), and the stage-duration histogram
(``job_stage_runs``). Counts are therefore exact and survive restarts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from node.jobs.model import JobState
from node.send.outbox import SCHEMA as OUTBOX_SCHEMA
from node.send.outbox import outbox_counts_conn
from node.store.db import connect, ensure_schema

router = APIRouter(tags=["metrics"])

STAGE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def _rows(conn: sqlite3.Connection, sql: str) -> list[sqlite3.Row]:
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # table not created yet (module never opened)
        return []


class DbCollector(Collector):
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def collect(self) -> Iterator[Metric]:
        conn = connect(self.db_path)
        try:
            ensure_schema(conn, OUTBOX_SCHEMA)
            yield from self._collect(conn)
        finally:
            conn.close()

    def _collect(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        n = _rows(conn, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM instances")
        inst = CounterMetricFamily("lipo_node_instances_received", "instances stored in the spool")
        inst.add_metric([], n[0][0] if n else 0)
        yield inst
        size = CounterMetricFamily("lipo_node_instances_received_bytes", "bytes stored in the spool")
        size.add_metric([], n[0][1] if n else 0)
        yield size
        assoc = CounterMetricFamily("lipo_node_associations", "DICOM associations by result",
                                    labels=["result"])
        # 'open' rows become released/aborted later: left out so the counter never goes down
        for r in _rows(conn, "SELECT result, COUNT(*) FROM audit WHERE kind='association'"
                             " AND result != 'open' GROUP BY result"):
            assoc.add_metric([r[0]], r[1])
        yield assoc
        failed = CounterMetricFamily("lipo_node_instances_refused", "C-STORE requests not stored",
                                     labels=["result"])
        for r in _rows(conn, "SELECT result, COUNT(*) FROM audit WHERE kind='instance' "
                             "AND result IN ('failed', 'refused') GROUP BY result"):
            failed.add_metric([r[0]], r[1])
        yield failed
        jobs = GaugeMetricFamily("lipo_node_jobs", "jobs by state", labels=["state"])
        counts = {r[0]: r[1] for r in _rows(conn, "SELECT state, COUNT(*) FROM jobs GROUP BY state")}
        for state in JobState:
            jobs.add_metric([state.value], counts.get(state.value, 0))
        yield jobs
        outbox = GaugeMetricFamily("lipo_node_outbox_items", "SEG/SR deliveries by state",
                                   labels=["state"])
        for state, n in outbox_counts_conn(conn).items():
            outbox.add_metric([state], n)
        yield outbox
        yield from self._stage_histogram(conn)

    def _stage_histogram(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        hist = HistogramMetricFamily("lipo_node_stage_duration_seconds", "job stage run time",
                                     labels=["stage", "outcome"])
        runs: dict[tuple[str, str], list[float]] = {}
        for r in _rows(conn, "SELECT stage, ok, seconds FROM job_stage_runs"):
            runs.setdefault((r[0], "ok" if r[1] else "error"), []).append(float(r[2]))
        for (stage, outcome), secs in sorted(runs.items()):
            buckets = [(str(b), sum(1 for s in secs if s <= b)) for b in STAGE_BUCKETS]
            buckets.append(("+Inf", len(secs)))
            hist.add_metric([stage, outcome], buckets, sum(secs))
        yield hist


def build_registry(db_path: Path) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DbCollector(db_path))
    return registry


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
