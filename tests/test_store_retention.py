"""Retention: finished jobs lose their spool copy after retention_days; review cases never do."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pydicom

from node.cli import main
from node.config import load_config
from node.jobs.jobdb import JobDB
from node.jobs.model import JobState
from node.store import Store


def _cfg(tmp_path: Path):
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(json.dumps({"data_dir": str(tmp_path / "var"),
                                    "store": {"min_free_bytes": 0, "retention_days": 30,
                                              "cleanup_free_bytes": 0}}))
    return cfg_file, load_config(cfg_file)


def _ingest(cfg, files: list[Path], study_uid: str) -> list[Path]:
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    paths = []
    try:
        for f in files:
            ds = pydicom.dcmread(f)
            ds.StudyInstanceUID = study_uid
            ds.SOPInstanceUID = f"{study_uid}.{ds.InstanceNumber}"
            rec = store.store_instance(ds, transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
                                       calling_ae="TEST").record
            paths.append(rec.path)
    finally:
        store.close()
    return paths


def test_old_delivered_job_is_cleaned_but_review_job_and_results_stay(tmp_path: Path,
                                                                      siemens_study: Path) -> None:
    cfg_file, cfg = _cfg(tmp_path)
    files = sorted((siemens_study / "3_t1_fl2d_sag").glob("*.dcm"))[:3]
    done_paths = _ingest(cfg, files, "1.2.826.0.1.3680043.8.498.1")
    review_paths = _ingest(cfg, files, "1.2.826.0.1.3680043.8.498.2")
    db = JobDB(cfg.db_path)
    db.create("1.2.826.0.1.3680043.8.498.1", job_id="jdone")
    db.create("1.2.826.0.1.3680043.8.498.2", job_id="jreview")
    db.update("jdone", state=JobState.DELIVERED, finished=True)
    db.update("jreview", state=JobState.NEEDS_REVIEW)
    db.close()
    for job in ("jdone", "jreview"):
        (cfg.jobs_dir / job / "report").mkdir(parents=True)
        (cfg.jobs_dir / job / "result.json").write_text("{}")
        (cfg.jobs_dir / job / "mask.nii.gz").write_bytes(b"x" * 1000)

    assert main(["--config", str(cfg_file), "cleanup"]) == 0  # nothing is 30 days old yet
    assert all(p.exists() for p in done_paths)

    from node.app.retention import cleanup

    dry = cleanup(cfg, now=time.time() + 31 * 86400, dry_run=True)
    assert dry.jobs == ["jdone"] and dry.instances == 3 and all(p.exists() for p in done_paths)
    report = cleanup(cfg, now=time.time() + 31 * 86400)
    assert report.jobs == ["jdone"] and report.bytes_freed > 1000
    assert not any(p.exists() for p in done_paths)
    assert all(p.exists() for p in review_paths), "a case waiting for review is never cleaned"
    assert (cfg.jobs_dir / "jdone" / "result.json").exists() and (cfg.jobs_dir / "jdone" / "report").is_dir()
    assert not (cfg.jobs_dir / "jdone" / "mask.nii.gz").exists()
    assert (cfg.jobs_dir / "jreview" / "mask.nii.gz").exists()
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    try:
        assert store.study_uids() == ["1.2.826.0.1.3680043.8.498.2"]
    finally:
        store.close()
