"""Configuration section ``send`` (see config.yaml): destinations and the retry policy.

Destination kinds are told apart by the ``kind`` field (a ``Literal``), each kind has its own
validated model and one sender class (``node.send.senders``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientTls(_Base):
    """DICOM TLS for the association we open (PS3.15 B.1): CA to trust, optional client cert."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    server_hostname: str | None = Field(None, description="name checked in the peer certificate")

    @model_validator(mode="after")
    def _pair(self) -> ClientTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class DicomDestination(_Base):
    """A DICOM peer: C-STORE to send, C-FIND (Study Root, IMAGE level) to confirm."""

    kind: Literal["dicom"] = "dicom"
    name: str = Field(min_length=1, max_length=64)
    host: str
    port: int = Field(ge=1, le=65535)
    ae_title: str = Field(min_length=1, max_length=16)
    calling_ae_title: str = Field("LIPO_NODE", min_length=1, max_length=16)
    tls: ClientTls | None = None
    timeout_s: float = Field(30.0, gt=0)


class DicomWebDestination(_Base):
    """A DICOMweb origin server: STOW-RS to send, QIDO-RS to confirm (PS3.18 10.5, 10.6)."""

    kind: Literal["dicomweb"] = "dicomweb"
    name: str = Field(min_length=1, max_length=64)
    url: str = Field(description="service root, e.g. http://pacs:8042/dicom-web")
    auth: Literal["none", "basic", "bearer"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    verify_tls: bool | Path = Field(True, description="true, false, or a CA bundle path")
    timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _credentials(self) -> DicomWebDestination:
        if self.auth == "basic" and (self.username is None or self.password is None):
            raise ValueError("auth basic needs username and password")
        if self.auth == "bearer" and self.token is None:
            raise ValueError("auth bearer needs token")
        return self


Destination = Annotated[DicomDestination | DicomWebDestination, Field(discriminator="kind")]


class RetryPolicy(_Base):
    """Exponential backoff: delay = min(max_delay_s, base_delay_s * factor ** (attempt - 1))."""

    base_delay_s: float = Field(30.0, gt=0)
    factor: float = Field(2.0, ge=1.0)
    max_delay_s: float = Field(3600.0, gt=0)
    max_attempts: int = Field(12, ge=1, description="failed attempts before the dead-letter state")

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * self.factor ** max(0, attempt - 1))


class SendConfig(_Base):
    destinations: list[Destination] = Field(default_factory=list)
    default_destinations: list[str] = Field(
        default_factory=list, description="names results go to; [] = every destination"
    )
    retry: RetryPolicy = RetryPolicy()
    confirm: bool = Field(True, description="delivered only after C-FIND/QIDO-RS finds every UID")
    poll_interval_s: float = Field(5.0, gt=0, description="how often the outbox looks for due items")

    @model_validator(mode="after")
    def _names(self) -> SendConfig:
        names = [d.name for d in self.destinations]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"destination names must be unique: {sorted(dupes)}")
        unknown = set(self.default_destinations) - set(names)
        if unknown:
            raise ValueError(f"default_destinations not configured: {sorted(unknown)}")
        return self

    def destination(self, name: str) -> DicomDestination | DicomWebDestination:
        for d in self.destinations:
            if d.name == name:
                return d
        raise KeyError(name)
