"""Configuration section ``receive`` (see config.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pynetdicom import sop_class

#: MR-related storage SOP classes accepted by default (PS3.4 Annex B.5 Table B.5-1)
DEFAULT_SOP_CLASSES = [
    "MRImageStorage",
    "EnhancedMRImageStorage",
    "EnhancedMRColorImageStorage",
    "LegacyConvertedEnhancedMRImageStorage",
    "MRSpectroscopyStorage",
    "SecondaryCaptureImageStorage",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameTrueColorSecondaryCaptureImageStorage",
    "RawDataStorage",
]


class TlsConfig(BaseModel):
    """DICOM TLS (PS3.15 B.1): server certificate/key; with ``ca_file`` peers must present a
    certificate signed by that CA (mutual TLS)."""

    model_config = ConfigDict(extra="forbid")
    cert_file: Path
    key_file: Path
    ca_file: Path | None = None


class ReceiveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae_title: str = Field("LIPO_NODE", min_length=1, max_length=16, description="our AE title")
    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 for all interfaces")
    port: int = Field(11112, ge=0, le=65535)
    require_called_ae: bool = Field(True, description="reject (reason 7) a wrong Called AE Title")
    allowed_callers: dict[str, list[str]] = Field(
        default_factory=lambda: {"ORTHANC": ["127.0.0.1"], "STORESCU": ["127.0.0.1"]},
        description="calling AE title -> host IPs it may connect from ([] = any host); "
        "anything else is rejected with reason 3 (PS3.8 9.3.4)",
    )
    max_associations: int = Field(
        128, ge=1, description="concurrent established associations; one more gets a transient "
        "reject. Only a peer that sent a complete A-ASSOCIATE-RQ holds one")
    max_pending_connections: int = Field(
        128, ge=1, description="connections still before their A-ASSOCIATE-RQ (or TLS "
        "handshake); beyond this the oldest is dropped, so a flood cannot lock callers out")
    association_request_timeout_s: float = Field(
        5.0, gt=0, description="deadline from TCP accept to a complete A-ASSOCIATE-RQ, TLS "
        "handshake included")
    acse_timeout_s: float = Field(30.0, gt=0)
    dimse_timeout_s: float = Field(60.0, gt=0)
    network_timeout_s: float = Field(60.0, gt=0)
    max_pdu_bytes: int = Field(
        4_194_304, ge=0, description="our Maximum Length Received (PS3.8 D.1); a longer PDU is "
        "A-ABORTed before it is read; 0 = no negotiated limit (64 MiB hard cap)"
    )
    sop_classes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SOP_CLASSES),
        description="storage SOP classes accepted (pynetdicom keywords); others refused at "
        "negotiation",
    )
    tls: TlsConfig | None = None
    ingest_processes: int | Literal["auto"] = Field(
        0, description="worker processes that serve plain-TCP associations (node.receive."
        "workers): auto = twice the cores, 2 to 4; 0 = every association in the main process. "
        "TLS associations are always served by the main process")

    @field_validator("ae_title")
    @classmethod
    def _ae_chars(cls, v: str) -> str:
        if v != v.strip() or "\\" in v:
            raise ValueError("AE title may not have leading/trailing spaces or backslashes")
        return v

    @field_validator("ingest_processes")
    @classmethod
    def _processes(cls, v: int | str) -> int | str:
        if isinstance(v, int) and not 0 <= v <= 64:
            raise ValueError("ingest_processes: 0 to 64, or auto")
        return v

    @field_validator("sop_classes")
    @classmethod
    def _known_classes(cls, v: list[str]) -> list[str]:
        unknown = [k for k in v if not hasattr(sop_class, k)]
        if unknown:
            raise ValueError(f"unknown SOP class keywords: {unknown}")
        return v

    @model_validator(mode="after")
    def _callers_valid(self) -> ReceiveConfig:
        bad = [ae for ae in self.allowed_callers if not ae or len(ae) > 16]
        if bad:
            raise ValueError(f"allowed_callers: invalid AE titles {bad}")
        return self
