"""The chain closed for the people who run it: Orthanc routes (plugin) or is polled (pull mode),
the node processes the study, SEG + SR appear in that Orthanc with P(ALT) in the SR.

Real processes only: Debian Orthanc (+ DICOMweb, + Python plugin running
deploy/orthanc/lipo_forward.py), dcmtk ``storescu`` as the modality, ``lipo-node serve``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from orthanc_api_client import OrthancApiClient

from node.config import REPO_DIR
from node.dcmtk import dcmtk
from node.demo import NODE_AET, write_node_config
from node.orthanc.admin import results
from node.orthanc.local import LocalOrthanc, free_port
from node.segment.config import SegmentConfig

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not (SegmentConfig().model_folder() / "plans.json").exists(),
                       reason="bundled demo nnU-Net model missing (node/models/demo/seg)"),
]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    from node.synthetic.study import StudySpec, generate_study

    return generate_study(tmp_path_factory.mktemp("study"), StudySpec(seed=11, max_matrix=256))


def _storescu(folder: Path, port: int, aet: str = "MODALITY", called: str = "ORTHANC") -> None:
    files = sorted(str(p) for p in folder.rglob("*.dcm"))
    env = dict(os.environ, TCP_NODELAY="1")
    proc = subprocess.run([dcmtk("storescu"), "-aet", aet, "-aec", called, "127.0.0.1", str(port), *files],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def node_and_orthanc(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple]:
    pull = request.param == "pull"
    node_port, http_port = free_port(), free_port()
    orthanc = LocalOrthanc(tmp_path / "orthanc")
    orthanc.configure(node_aet=NODE_AET, node_port=node_port, forward=not pull)
    orthanc.start()
    cfg_file = write_node_config(tmp_path, orthanc, node_port, http_port, pull=pull)
    log = (tmp_path / "node.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(cfg_file), "serve"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=REPO_DIR)
    try:
        yield orthanc, proc, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        orthanc.stop()
        log.close()


def _wait_for_results(orthanc: LocalOrthanc, proc: subprocess.Popen, log: Path, timeout_s: float):
    client = OrthancApiClient(orthanc.url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        found = results(client)
        if {r.modality for r in found} == {"SEG", "SR"}:
            return client, found
        time.sleep(2)
    pytest.fail(f"no SEG+SR in Orthanc after {timeout_s:.0f} s; node log:\n{log.read_text()[-3000:]}")


def _palt_from_sr(client: OrthancApiClient, sr_series_uid: str) -> float:
    series_id = client.series.lookup(sr_series_uid)
    instance_id = client.series.get_instances_ids(series_id)[0]
    sr = pydicom.dcmread(io.BytesIO(client.instances.get_file(instance_id)))
    values = []

    def walk(items) -> None:
        for item in items:
            name = item.ConceptNameCodeSequence[0] if "ConceptNameCodeSequence" in item else None
            if item.get("ValueType") == "NUM" and name is not None and name.CodeValue == "PALT":
                measured = item.MeasuredValueSequence[0]
                assert measured.MeasurementUnitsCodeSequence[0].CodeValue == "%"
                values.append(float(measured.NumericValue) / 100)
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(sr.ContentSequence)
    assert len(values) == 1, "exactly one P(ALT) measurement in the SR"
    return values[0]


@pytest.mark.parametrize("node_and_orthanc", ["plugin", "pull"], indirect=True)
def test_study_sent_to_orthanc_comes_back_with_seg_and_sr(study, node_and_orthanc) -> None:
    orthanc, proc, workdir = node_and_orthanc
    for series in study.series:
        _storescu(series.folder, orthanc.dicom_port)
    client, found = _wait_for_results(orthanc, proc, workdir / "node.log", timeout_s=420)
    sr = next(r for r in found if r.modality == "SR")
    assert sr.study_uid == study.study_uid, "results land in the patient's study"
    p_alt = _palt_from_sr(client, sr.series_uid)
    assert 0.0 <= p_alt <= 1.0
    assert f"{p_alt:.2f}" in sr.description, "headline with P(ALT) in SeriesDescription"
    # our own results are not routed back to the node (no second job)
    time.sleep(4)
    from node.config import load_config
    from node.jobs.jobdb import JobDB

    db = JobDB(load_config(workdir / "demo-config.yaml").db_path)
    try:
        jobs = db.list()
    finally:
        db.close()
    assert len(jobs) == 1
    # the PACS lost the SR: the admin resends the job; the same SR (same UID) comes back
    client.series.delete(client.series.lookup(sr.series_uid))
    assert "SR" not in {r.modality for r in results(client)}
    from node.cli import main

    assert main(["--config", str(workdir / "demo-config.yaml"), "orthanc", "resend", jobs[0].job_id]) == 0
    back = [r for r in results(client) if r.modality == "SR"]
    assert [r.series_uid for r in back] == [sr.series_uid]
