"""Build the orthanc-api-client from config, and the filters shared by pull mode and admin."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orthanc_api_client import OrthancApiClient

from node.orthanc.config import OrthancConfig, OrthancFilters


def make_client(cfg: OrthancConfig) -> OrthancApiClient:
    pwd = cfg.password.get_secret_value() if cfg.password else None
    return OrthancApiClient(cfg.url, user=cfg.username, pwd=pwd)


@dataclass(frozen=True)
class SeriesPick:
    orthanc_id: str
    series_uid: str
    description: str


def _any(patterns: list[str], value: str) -> bool:
    return any(re.search(p, value or "") for p in patterns)


def series_to_process(client: OrthancApiClient, study_id: str, filters: OrthancFilters) -> list[SeriesPick]:
    """MR series of an Orthanc study that pass the site's filters (the same as the plugin's).

    The whole set of matching series is taken, not only the T1: selection happens in the node
    and needs every candidate. Our own results (Manufacturer ``lipo-node``) are never taken.
    """
    study = client.studies.get_json(study_id)
    if filters.study_description_patterns and not _any(
        filters.study_description_patterns, study.get("MainDicomTags", {}).get("StudyDescription", "")
    ):
        return []
    picks: list[SeriesPick] = []
    body_parts: list[str] = []
    for series_id in study.get("Series", []):
        tags = client.series.get_json(series_id).get("MainDicomTags", {})
        body_parts.append(tags.get("BodyPartExamined", ""))
        if tags.get("Modality", "") not in filters.modalities:
            continue
        if _any(filters.series_description_exclude, tags.get("SeriesDescription", "")):
            continue
        if tags.get("Manufacturer", "") in filters.exclude_manufacturers:
            continue
        uid, description = tags.get("SeriesInstanceUID", ""), tags.get("SeriesDescription", "")
        picks.append(SeriesPick(series_id, uid, description))
    if filters.body_part_patterns and not any(_any(filters.body_part_patterns, b) for b in body_parts):
        return []
    return picks
