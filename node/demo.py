"""``lipo-node demo``: the whole chain once, on this machine, with the bundled demo models.

What a site sees on day one: a synthetic study (the digital twin, no patient data) goes into a
temporary Orthanc (the PACS stand-in) when the Debian package is installed, Orthanc's
auto-routing plugin C-STOREs it to a real ``lipo-node serve`` process, the node selects,
segments, checks, classifies and reports, and delivers SEG + SR back to Orthanc. Without
Orthanc the study is C-STOREd straight to the node and the results stay in the job folder.
Everything binds to 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from node.config import DEFAULT_CONFIG, REPO_DIR, NodeConfig, load_config
from node.errors import LipoNodeError
from node.jobs.folder import Artefact, JobFolder
from node.jobs.jobdb import JobDB, JobRow
from node.jobs.model import JobResult, JobState
from node.orthanc.local import LocalOrthanc, free_port, orthanc_available

FINAL = {JobState.DELIVERED, JobState.NEEDS_REVIEW, JobState.FAILED}
NODE_AET = "LIPO_NODE"
DEMO_AET = "DEMO"
PIPELINE = ["select", "segment", "qc", "radiomics", "classify", "report", "send"]


class DemoError(LipoNodeError):
    code = "demo_failed"


@dataclass
class DemoRun:
    workdir: Path
    config_file: Path
    orthanc: LocalOrthanc | None
    node_port: int
    http_port: int


def write_node_config(workdir: Path, orthanc: LocalOrthanc | None, node_port: int, http_port: int,
                      *, pull: bool = False) -> Path:
    """The repository's config.yaml with the demo's folders, ports and destination.

    ``pull``: the node polls ``orthanc`` itself (pull mode) instead of being routed to.
    """
    data = yaml.safe_load(DEFAULT_CONFIG.read_text()) if DEFAULT_CONFIG.exists() else {}
    data["data_dir"] = str(workdir / "node")
    data.setdefault("receive", {}).update(
        ae_title=NODE_AET, host="127.0.0.1", port=node_port,
        allowed_callers={"ORTHANC": ["127.0.0.1"], DEMO_AET: ["127.0.0.1"]}, tls=None,
    )
    data.setdefault("select", {})["quiet_s"] = 2.0
    data.setdefault("jobs", {}).update(stages=PIPELINE, poll_interval_s=0.5, workers=1)
    data.setdefault("http", {}).update(host="127.0.0.1", port=http_port, enabled=True)
    destinations = []
    if orthanc is not None:
        destinations = [{"kind": "dicom", "name": "orthanc", "host": "127.0.0.1",
                         "port": orthanc.dicom_port, "ae_title": orthanc.aet,
                         "calling_ae_title": NODE_AET}]
    send = data.setdefault("send", {})
    send.update(destinations=destinations, default_destinations=[])
    send.setdefault("retry", {}).update(base_delay_s=2.0, max_delay_s=10.0)
    if orthanc is not None and pull:
        data.setdefault("orthanc", {}).update(url=orthanc.url, pull_enabled=True, poll_interval_s=1.0)
    path = workdir / "demo-config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_config(path)  # valid or raise now, not in the child process
    return path


def _say(t0: float, text: str) -> None:
    print(f"[{time.monotonic() - t0:6.1f} s] {text}", flush=True)


def first_job(cfg: NodeConfig) -> JobRow | None:
    """The node's (only) job in a demo/bench data folder, or None before it exists."""
    if not cfg.db_path.exists():
        return None
    db = JobDB(cfg.db_path)
    try:
        rows = db.list()
    finally:
        db.close()
    return rows[0] if rows else None


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"lipo-node serve exited with {proc.returncode}; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.3)
    raise DemoError(f"lipo-node serve did not answer {url} within {timeout_s:.0f} s")


def cstore_folder(folder: Path, port: int) -> int:
    """Send every DICOM file of ``folder`` to the node (no Orthanc on this machine)."""
    import pydicom
    from pynetdicom import AE, StoragePresentationContexts

    ae = AE(ae_title=DEMO_AET)
    ae.requested_contexts = StoragePresentationContexts[:120]
    assoc = ae.associate("127.0.0.1", port, ae_title=NODE_AET)
    if not assoc.is_established:
        raise DemoError("the node refused the association")
    sent = 0
    try:
        for path in sorted(p for p in folder.rglob("*.dcm")):
            status = assoc.send_c_store(pydicom.dcmread(path))
            if status and status.Status == 0:
                sent += 1
    finally:
        assoc.release()
    return sent


def _follow(cfg_file: Path, t0: float, timeout_s: float, proc: subprocess.Popen) -> JobResult:
    cfg = load_config(cfg_file)
    seen: JobState | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"lipo-node serve exited with {proc.returncode} during the run")
        row = first_job(cfg)
        if row is not None:
            if row.state != seen:
                seen = row.state
                _say(t0, f"job {row.job_id[:12]}: {row.state.value}")
            if row.state in FINAL:
                return JobFolder.of(cfg, row.job_id).read_result()
        time.sleep(0.5)
    raise DemoError(f"no final job state within {timeout_s:.0f} s (last: {seen})")


def _summary(result: JobResult, folder: JobFolder, orthanc: LocalOrthanc | None, *,
             viewer: bool = False, keep: bool = False) -> None:
    print("\n=== lipo-node demo result ===")
    print(f"state            {result.state.value}")
    if result.alt_probability is not None:
        print(f"P(ALT)           {result.alt_probability:.2f}  ->  {result.label}"
              f"{'  (out of distribution!)' if result.ood_flag else ''}")
    print(f"QC               {result.qc.status} {', '.join(result.qc.reason_codes)}")
    if result.volume_ml is not None:
        print(f"tumour volume    {result.volume_ml:.1f} mL, longest axial diameter {result.diameter_mm} mm")
    if result.selection:
        print(f"T1 series        {result.selection.description!r} (score {result.selection.score:.0f})")
    for key in ("seg", "sr", "key_image"):
        if key in result.artefacts:
            print(f"{key.upper().replace('_', ' '):16} {folder / result.artefacts[key]}")
    print(f"result.json      {folder / Artefact.RESULT}")
    print(f"delivery         {result.delivery.status} {' '.join(result.delivery.destinations)}")
    if result.timings_s:
        print("stage timings    " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items()))
    if orthanc is not None:
        from orthanc_api_client import OrthancApiClient

        from node.orthanc.admin import results

        rows = results(OrthancApiClient(orthanc.url))
        print(f"in Orthanc       {len(rows)} result series at {orthanc.url}: "
              + "; ".join(f"{r.modality} '{r.description}'" for r in rows))
        if viewer:
            from node.orthanc.ohif import viewer_url

            print(f"OHIF viewer      {viewer_url(orthanc.url, result.study_uid)}"
                  + ("" if keep else "  (open while it runs: lipo-node demo --keep-running)"))
    if result.error_code:
        print(f"error            {result.error_code}: {result.error_message}")


def run_demo(workdir: Path, seed: int, use_orthanc: bool, timeout_s: float, keep: bool) -> int:
    from node.synthetic.study import StudySpec, generate_study

    t0 = time.monotonic()
    shutil.rmtree(workdir, ignore_errors=True)  # idempotent: every demo starts clean
    workdir.mkdir(parents=True)
    _say(t0, f"generating a synthetic T1/STIR/post-contrast study (seed {seed}) ...")
    study = generate_study(workdir / "study", StudySpec(seed=seed, label="alt", location="thigh"))
    _say(t0, f"study written: {study.study_dir} ({len(study.series)} series, truth in truth/)")
    node_port, http_port = free_port(), free_port()
    orthanc: LocalOrthanc | None = None
    viewer = False
    if use_orthanc and orthanc_available():
        from node.orthanc.ohif import ohif_installed

        viewer = ohif_installed()  # OHIF under /ohif/ of the same Orthanc (deploy/install.sh)
        orthanc = LocalOrthanc(workdir / "orthanc")
        orthanc.configure(node_aet=NODE_AET, node_port=node_port, forward=True, viewer=viewer)
    cfg_file = write_node_config(workdir, orthanc, node_port, http_port)
    log = (workdir / "lipo-node.log").open("ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(cfg_file), "serve"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_DIR)
    try:
        if orthanc is not None:
            orthanc.start()
            _say(t0, f"temporary Orthanc (PACS stand-in) with auto-routing at {orthanc.url}")
        wait_http(f"http://127.0.0.1:{http_port}/healthz", proc, 120)
        _say(t0, f"lipo-node serving: DICOM {NODE_AET}@127.0.0.1:{node_port}, "
                 f"HTTP http://127.0.0.1:{http_port}")
        if orthanc is not None:
            from orthanc_api_client import OrthancApiClient

            client = OrthancApiClient(orthanc.url)
            n = sum(len(client.upload_folder(str(s.folder))) for s in study.series)
            _say(t0, f"uploaded {n} instances to Orthanc; its plugin forwards the stable study by C-STORE")
        else:
            n = sum(cstore_folder(s.folder, node_port) for s in study.series)
            _say(t0, f"no Orthanc here: C-STOREd {n} instances straight to the node")
        result = _follow(cfg_file, t0, timeout_s, proc)
        _summary(result, JobFolder.of(load_config(cfg_file), result.job_id), orthanc,
                 viewer=viewer, keep=keep)
        _say(t0, "done")
        if keep:
            print("services keep running; Ctrl-C stops them")
            with contextlib.suppress(KeyboardInterrupt):
                proc.wait()
        return 0 if result.state is not JobState.FAILED else 1
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if orthanc is not None:
            orthanc.stop()
        log.close()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole chain once on a synthetic study (bundled models)")
    p.add_argument("--workdir", type=Path, default=REPO_DIR / "var" / "demo")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-orthanc", action="store_true", help="do not start a temporary Orthanc")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the result")
    p.add_argument("--keep-running", action="store_true")
    p.set_defaults(func=lambda a: run_demo(a.workdir.resolve(), a.seed, not a.no_orthanc,
                                           a.timeout, a.keep_running))
