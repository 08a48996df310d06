"""What an admin asks of the PACS side: is Orthanc there, send a study, where are our results.

Everything goes through orthanc-api-client's ``OrthancApiClient``; where the client has no
typed helper (C-ECHO, tools/find) its generic ``post`` is used with Orthanc's documented route.
"""

from __future__ import annotations

from dataclasses import dataclass

from orthanc_api_client import OrthancApiClient
from orthanc_api_client.exceptions import HttpError

from node.errors import LipoNodeError
from node.orthanc.config import OrthancConfig


def result_manufacturer(templates_file: str | None = None) -> str:
    """Manufacturer written into our SEG/SR (dicom_templates equipment, site-editable)."""
    from node.report.templates import load_templates

    return load_templates(templates_file).equipment.manufacturer


class OrthancUnavailable(LipoNodeError):
    code = "orthanc_unavailable"


class StudyNotInOrthanc(LipoNodeError):
    code = "study_not_in_orthanc"


@dataclass(frozen=True)
class OrthancStatus:
    url: str
    name: str
    version: str
    dicom_aet: str
    studies: int
    instances: int
    node_modality: str
    node_modality_configured: bool
    echo_ok: bool | None
    routing: RoutingStatus | None = None  # None: the auto-routing plugin is not loaded


@dataclass(frozen=True)
class PendingRoute:
    """A study the plugin still has to forward (``deploy/orthanc/lipo_forward.py``)."""

    study: str  # Orthanc study id (a hash; no patient data)
    state: str  # waiting | pending
    attempts: int
    next_in_s: float
    error: str


@dataclass(frozen=True)
class RoutingStatus:
    forwarded: int  # studies forwarded since Orthanc started
    failed_attempts: int
    pending: list[PendingRoute]


def routing_status(client: OrthancApiClient) -> RoutingStatus | None:
    """The plugin's ``/lipo-node/routing`` report, or None when the plugin is not loaded."""
    try:
        body = client.get_json("lipo-node/routing")
    except HttpError:
        return None
    pending = [PendingRoute(str(p["study"]), str(p["state"]), int(p["attempts"]),
                            float(p["next_in_s"]), str(p["error"])) for p in body.get("pending", [])]
    return RoutingStatus(int(body.get("forwarded", 0)), int(body.get("failed_attempts", 0)), pending)


@dataclass(frozen=True)
class ResultSeries:
    study_uid: str
    series_uid: str
    modality: str
    description: str
    instances: int


def status(client: OrthancApiClient, cfg: OrthancConfig) -> OrthancStatus:
    if not client.is_alive(timeout=3):
        raise OrthancUnavailable(f"Orthanc at {cfg.url} does not answer")
    system = client.get_system()
    stats = client.get_statistics()
    configured = cfg.node_modality in client.modalities.get_all_ids()
    echo: bool | None = None
    if configured:
        try:
            echo = client.post(f"modalities/{cfg.node_modality}/echo", json={}).status_code == 200
        except HttpError:
            echo = False
    return OrthancStatus(
        url=cfg.url,
        name=system.get("Name", ""),
        version=system.get("Version", ""),
        dicom_aet=system.get("DicomAet", ""),
        studies=stats.studies_count,
        instances=stats.instances_count,
        node_modality=cfg.node_modality,
        node_modality_configured=configured,
        echo_ok=echo,
        routing=routing_status(client),
    )


def resolve_study(client: OrthancApiClient, study: str) -> str:
    """Accept an Orthanc study ID or a StudyInstanceUID; return the Orthanc ID."""
    if client.studies.exists(study):
        return study
    orthanc_id = client.studies.lookup(study)
    if not orthanc_id:
        raise StudyNotInOrthanc(f"no study {study!r} in Orthanc")
    return orthanc_id


def send_study(client: OrthancApiClient, cfg: OrthancConfig, study: str) -> str:
    """Ask Orthanc to C-STORE a study to this node (what auto-routing does, by hand)."""
    orthanc_id = resolve_study(client, study)
    client.modalities.send(cfg.node_modality, orthanc_id, timeout=600)
    return orthanc_id


def results(client: OrthancApiClient, manufacturer: str | None = None) -> list[ResultSeries]:
    """SEG and SR series that this node wrote (identified by the templates' Manufacturer)."""
    manufacturer = manufacturer or result_manufacturer()
    found: list[ResultSeries] = []
    for modality in ("SEG", "SR"):
        rows = client.post(
            "tools/find", json={"Level": "Series", "Query": {"Modality": modality}, "Expand": True}
        ).json()
        for row in rows:
            tags = row.get("MainDicomTags", {})
            if tags.get("Manufacturer", "") != manufacturer:
                continue
            study_tags = client.studies.get_json(row["ParentStudy"]).get("MainDicomTags", {})
            found.append(
                ResultSeries(
                    study_uid=study_tags.get("StudyInstanceUID", ""),
                    series_uid=tags.get("SeriesInstanceUID", ""),
                    modality=modality,
                    description=tags.get("SeriesDescription", ""),
                    instances=len(row.get("Instances", [])),
                )
            )
    return found
