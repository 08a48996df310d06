"""Orthanc Python plugin: auto-route stable MR studies to lipo-node, keep what it sends back.

Loaded by Orthanc (``"PythonScript"`` in orthanc.json, package ``orthanc-python``). It reacts
to ``StableStudy`` (the study has been quiet for Orthanc's ``StableAge``), applies the filters
of the ``"LipoNode"`` configuration section and C-STOREs the matching MR series to the
lipo-node modality. Results coming back from lipo-node (SEG + SR, calling AE in
``ExcludeCallingAets``) are stored like any other instance and never routed again.

Routing survives node downtime and Orthanc restarts. Its state lives in Orthanc's own database,
as user metadata (declare both under ``"UserMetadata"``):

- ``LipoNodeRouting`` on the study: JSON ``{"state", "attempts", "next", "error", "updated"}``
  with state ``waiting`` (seen, not yet stable), ``pending`` (to be sent, or a send failed and
  will be retried at ``next``) or ``forwarded``;
- ``LipoNodeForwarded`` on each series sent, so a series is never sent twice.

A study is marked ``waiting`` when it first appears and ``pending`` before each send, so an
Orthanc restart at any point finds it again: at start the plugin scans the studies' metadata
and re-queues every ``waiting``/``pending`` one. A failed send is retried by a sweep with
exponential back-off (``RetryBaseSeconds`` doubling up to ``RetryMaxSeconds``), for ever: a
PACS administrator expects the study to arrive once the node is back. A study arrives once: a
series is marked forwarded only after Orthanc's synchronous C-STORE succeeded, and the node
answers a repeated instance from its index (duplicate, not stored twice).

``GET /lipo-node/routing`` (Orthanc REST) reports the state; ``lipo-node orthanc status``
shows it. It names Orthanc study ids, attempts and error kinds only, never patient data.

Configuration (all optional except Modality)::

    "LipoNode": {
      "Modality": "lipo-node",               // key in DicomModalities
      "Modalities": ["MR"],                   // series Modality to forward
      "BodyPartPatterns": [],                 // regexes on BodyPartExamined (any series); [] = any
      "StudyDescriptionPatterns": [],         // regexes on StudyDescription; [] = any
      "SeriesDescriptionExclude": ["(?i)localizer|scout"],
      "CallingAets": [],                      // forward only studies sent by these AEs; [] = any
      "ExcludeCallingAets": ["LIPONODE"],     // never forward what these AEs sent (lipo-node itself)
      "RetryBaseSeconds": 30,                 // first retry after a failed send
      "RetryMaxSeconds": 3600,                // back-off ceiling
      "SweepSeconds": 5                       // how often due retries are looked for
    }
"""

import json
import queue
import re
import threading
import time

import orthanc  # provided by the Orthanc Python plugin at run time

METADATA = "LipoNodeForwarded"
STATE = "LipoNodeRouting"
WAITING, PENDING, FORWARDED = "waiting", "pending", "forwarded"

_queue: "queue.Queue[tuple[str, str]]" = queue.Queue()
_due: dict = {}  # study id -> monotonic time of the next attempt
_status: dict = {"forwarded": 0, "failed_attempts": 0, "scanned_at_start": 0, "started": time.time()}
_lock = threading.Lock()


def _settings() -> dict:
    cfg = json.loads(orthanc.GetConfiguration()).get("LipoNode", {})
    cfg.setdefault("Modality", "lipo-node")
    cfg.setdefault("Modalities", ["MR"])
    cfg.setdefault("BodyPartPatterns", [])
    cfg.setdefault("StudyDescriptionPatterns", [])
    cfg.setdefault("SeriesDescriptionExclude", [])
    cfg.setdefault("CallingAets", [])
    cfg.setdefault("ExcludeCallingAets", ["LIPONODE"])
    cfg.setdefault("RetryBaseSeconds", 30)
    cfg.setdefault("RetryMaxSeconds", 3600)
    cfg.setdefault("SweepSeconds", 5)
    return cfg


def _get(uri: str):
    return json.loads(orthanc.RestApiGet(uri))


def _any_match(patterns: list, value: str) -> bool:
    return any(re.search(p, value or "") for p in patterns)


def _remote_aet(series_id: str) -> str:
    instances = _get(f"/series/{series_id}/instances")
    if not instances:
        return ""
    try:
        return orthanc.RestApiGet(f"/instances/{instances[0]['ID']}/metadata/RemoteAET").decode()
    except Exception:  # instance uploaded over REST has no RemoteAET
        return ""


def _already_forwarded(series_id: str) -> bool:
    try:
        orthanc.RestApiGet(f"/series/{series_id}/metadata/{METADATA}")
        return True
    except Exception:
        return False


def _any_forwarded(study_id: str) -> bool:
    try:
        return any(_already_forwarded(s) for s in _get(f"/studies/{study_id}").get("Series", []))
    except Exception:
        return False


def series_to_forward(study_id: str, cfg: dict) -> list:
    """The MR series of a stable study that match the filters and were not sent before."""
    study = _get(f"/studies/{study_id}")
    if cfg["StudyDescriptionPatterns"] and not _any_match(
        cfg["StudyDescriptionPatterns"], study.get("MainDicomTags", {}).get("StudyDescription", "")
    ):
        return []
    picked, body_parts = [], []
    for series_id in study.get("Series", []):
        series = _get(f"/series/{series_id}")
        tags = series.get("MainDicomTags", {})
        body_parts.append(tags.get("BodyPartExamined", ""))
        if tags.get("Modality", "") not in cfg["Modalities"]:
            continue
        if _any_match(cfg["SeriesDescriptionExclude"], tags.get("SeriesDescription", "")):
            continue
        aet = _remote_aet(series_id)
        if aet in cfg["ExcludeCallingAets"]:
            continue
        if cfg["CallingAets"] and aet not in cfg["CallingAets"]:
            continue
        if _already_forwarded(series_id):
            continue
        picked.append(series_id)
    if cfg["BodyPartPatterns"] and not any(_any_match(cfg["BodyPartPatterns"], b) for b in body_parts):
        return []
    return picked


# -- persistent state ----------------------------------------------------------------------
def _read_state(study_id: str):
    try:
        return json.loads(orthanc.RestApiGet(f"/studies/{study_id}/metadata/{STATE}"))
    except Exception:  # no state yet (or the study is gone)
        return None


def _write_state(study_id: str, state: str, attempts: int = 0, next_at: float = 0.0,
                 error: str = "") -> None:
    body = json.dumps({"state": state, "attempts": attempts, "next": next_at, "error": error,
                       "updated": time.time()})
    try:
        orthanc.RestApiPut(f"/studies/{study_id}/metadata/{STATE}", body)
    except Exception as exc:  # e.g. LipoNodeRouting not declared: route anyway, in memory only
        if not _status.get("state_warning"):
            _status["state_warning"] = True
            orthanc.LogError(f"lipo-node: cannot keep routing state ({exc}); declare "
                             f"'{STATE}' under UserMetadata or retries will not survive a restart")


def _error_kind(exc: Exception) -> str:
    """Orthanc's error text for a failed C-STORE names the network problem, not the data;
    kept short all the same."""
    return (f"{type(exc).__name__}: {exc}")[:160]


# -- the work --------------------------------------------------------------------------------
def _exists(study_id: str) -> bool:
    try:
        orthanc.RestApiGet(f"/studies/{study_id}")
        return True
    except Exception:
        return False


def _retry(study_id: str, cfg: dict, attempts: int, exc: Exception) -> None:
    """Record a failed attempt and schedule the next one (exponential back-off)."""
    delay = min(float(cfg["RetryMaxSeconds"]), float(cfg["RetryBaseSeconds"]) * 2 ** max(0, attempts - 1))
    with _lock:
        _due[study_id] = time.monotonic() + delay
        _status["failed_attempts"] += 1
    _write_state(study_id, PENDING, attempts, time.time() + delay, _error_kind(exc))
    orthanc.LogWarning(f"lipo-node: forwarding study {study_id} failed (attempt {attempts}), "
                       f"retry in {delay:.0f} s")


def _attempt(study_id: str) -> None:
    cfg = _settings()
    previous = _read_state(study_id) or {}
    try:
        series = series_to_forward(study_id, cfg)
    except Exception as exc:
        if _exists(study_id):  # Orthanc busy or starting: try again later, never forget it
            _retry(study_id, cfg, int(previous.get("attempts", 0)), exc)
        else:  # deleted meanwhile
            with _lock:
                _due.pop(study_id, None)
        return
    if not series:
        if previous.get("state") == PENDING and not _any_forwarded(study_id):
            # It matched when it became pending and none of it reached the node: an empty answer
            # now is Orthanc being busy (a metadata read failing under load reads as "no calling
            # AE"), not a study that stopped matching. Retrying keeps it; marking it forwarded
            # would forget it for good.
            _retry(study_id, cfg, int(previous.get("attempts", 0)),
                   RuntimeError("no series to forward this time"))
            return
        if previous.get("state") in (WAITING, PENDING):
            _write_state(study_id, FORWARDED if previous.get("state") == PENDING else "not_matching",
                         previous.get("attempts", 0))
        with _lock:
            _due.pop(study_id, None)
        return
    attempts = int(previous.get("attempts", 0)) + 1
    _write_state(study_id, PENDING, attempts - 1, time.time(), previous.get("error", ""))
    try:
        body = json.dumps({"Resources": series, "Synchronous": True})
        orthanc.RestApiPost(f"/modalities/{cfg['Modality']}/store", body)
    except Exception as exc:
        _retry(study_id, cfg, attempts, exc)
        return
    for series_id in series:
        orthanc.RestApiPut(f"/series/{series_id}/metadata/{METADATA}", "1")
    _write_state(study_id, FORWARDED, attempts)
    with _lock:
        _due.pop(study_id, None)
        _status["forwarded"] += 1
    orthanc.LogWarning(f"lipo-node: forwarded {len(series)} series of study {study_id}")


def _scan_at_start() -> None:
    """Re-queue what a previous run left waiting or pending (the in-memory queue is gone)."""
    found = 0
    for study_id in _get("/studies"):
        state = _read_state(study_id)
        if state and state.get("state") in (WAITING, PENDING):
            with _lock:
                _due[study_id] = time.monotonic()
            found += 1
    _status["scanned_at_start"] = found


def _worker() -> None:
    # REST calls from inside the change callback can deadlock Orthanc: do them here.
    try:
        _scan_at_start()
    except Exception as exc:
        orthanc.LogError(f"lipo-node: start-up scan failed: {exc}")
    while True:
        try:
            kind, study_id = _queue.get(timeout=float(_settings()["SweepSeconds"]))
        except queue.Empty:
            kind, study_id = "sweep", ""
        try:
            if kind == "new":
                if _read_state(study_id) is None:
                    _write_state(study_id, WAITING)
            elif kind == "stable":
                _attempt(study_id)
            now = time.monotonic()
            with _lock:
                due = [s for s, at in _due.items() if at <= now]
            for sid in due:
                _attempt(sid)
        except Exception as exc:  # keep the worker alive; Orthanc logs the failure
            orthanc.LogError(f"lipo-node: routing {kind} {study_id} failed: {exc}")


def on_change(change_type, level, resource_id) -> None:
    if change_type == orthanc.ChangeType.NEW_STUDY:
        _queue.put(("new", resource_id))
    elif change_type == orthanc.ChangeType.STABLE_STUDY:
        _queue.put(("stable", resource_id))
    elif change_type == orthanc.ChangeType.ORTHANC_STARTED:
        threading.Thread(target=_worker, name="lipo-node-forward", daemon=True).start()


def routing_status(output, uri, **request) -> None:
    """``GET /lipo-node/routing``: what is waiting, pending (with attempts and next try) and
    how much was forwarded since this Orthanc started."""
    now_m, now = time.monotonic(), time.time()
    with _lock:
        due = dict(_due)
        counters = dict(_status)
    pending = []
    for study_id, at in sorted(due.items(), key=lambda kv: kv[1]):
        state = _read_state(study_id) or {}
        pending.append({"study": study_id, "state": state.get("state", PENDING),
                        "attempts": state.get("attempts", 0), "next_in_s": round(max(0.0, at - now_m), 1),
                        "error": state.get("error", "")})
    body = {"pending": pending, "now": now, **counters}
    output.AnswerBuffer(json.dumps(body), "application/json")


orthanc.RegisterOnChangeCallback(on_change)
orthanc.RegisterRestCallback("/lipo-node/routing", routing_status)
