"""Orthanc Python plugin: auto-route stable MR studies to lipo-node, keep what it sends back.

Loaded by Orthanc (``"PythonScript"`` in orthanc.json, package ``orthanc-python``). It reacts
to ``StableStudy`` (the study has been quiet for Orthanc's ``StableAge``), applies the filters
of the ``"LipoNode"`` configuration section and C-STOREs the matching MR series to the
lipo-node modality. A series is forwarded once: the plugin marks it with the user metadata
``LipoNodeForwarded`` (declare it under ``"UserMetadata"``). Results coming back from lipo-node
(SEG + SR, calling AE in ``ExcludeCallingAets``) are stored like any other instance and never
routed again.

Configuration (all optional except Modality)::

    "LipoNode": {
      "Modality": "lipo-node",               // key in DicomModalities
      "Modalities": ["MR"],                   // series Modality to forward
      "BodyPartPatterns": [],                 // regexes on BodyPartExamined (any series); [] = any
      "StudyDescriptionPatterns": [],         // regexes on StudyDescription; [] = any
      "SeriesDescriptionExclude": ["(?i)localizer|scout"],
      "CallingAets": [],                      // forward only studies sent by these AEs; [] = any
      "ExcludeCallingAets": ["LIPONODE"]      // never forward what these AEs sent (lipo-node itself)
    }
"""

import json
import queue
import re
import threading

import orthanc  # provided by the Orthanc Python plugin at run time

METADATA = "LipoNodeForwarded"
_queue: "queue.Queue[str]" = queue.Queue()


def _settings() -> dict:
    cfg = json.loads(orthanc.GetConfiguration()).get("LipoNode", {})
    cfg.setdefault("Modality", "lipo-node")
    cfg.setdefault("Modalities", ["MR"])
    cfg.setdefault("BodyPartPatterns", [])
    cfg.setdefault("StudyDescriptionPatterns", [])
    cfg.setdefault("SeriesDescriptionExclude", [])
    cfg.setdefault("CallingAets", [])
    cfg.setdefault("ExcludeCallingAets", ["LIPONODE"])
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


def _forward(study_id: str) -> None:
    cfg = _settings()
    series = series_to_forward(study_id, cfg)
    if not series:
        return
    body = json.dumps({"Resources": series, "Synchronous": True})
    orthanc.RestApiPost(f"/modalities/{cfg['Modality']}/store", body)
    for series_id in series:
        orthanc.RestApiPut(f"/series/{series_id}/metadata/{METADATA}", "1")
    orthanc.LogWarning(f"lipo-node: forwarded {len(series)} series of study {study_id}")


def _worker() -> None:
    # REST calls from inside the change callback can deadlock Orthanc: do them here.
    while True:
        study_id = _queue.get()
        try:
            _forward(study_id)
        except Exception as exc:  # keep the worker alive; Orthanc logs the failure
            orthanc.LogError(f"lipo-node: forwarding study {study_id} failed: {exc}")


def on_change(change_type, level, resource_id) -> None:
    if change_type == orthanc.ChangeType.STABLE_STUDY:
        _queue.put(resource_id)


threading.Thread(target=_worker, name="lipo-node-forward", daemon=True).start()
orthanc.RegisterOnChangeCallback(on_change)
