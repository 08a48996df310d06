"""Store errors. Each carries the C-STORE status the SCP answers with (PS3.4 B.2.3)."""

from __future__ import annotations

from node.errors import InvalidInstance, LipoNodeError


class OutOfSpace(LipoNodeError):
    """The spool's file system is below the configured free-space watermark (or full)."""

    code = "out_of_space"
    #: Refused: Out of Resources (PS3.4 B.2.3, A7xx)
    dimse_status = 0xA700


class UndecodableDataset(InvalidInstance):
    """The data set cannot be parsed with its transfer syntax (wrong lengths, wrong VR mode)."""

    #: Error: Cannot understand (PS3.4 B.2.3, Cxxx); C210 = data set cannot be parsed
    dimse_status = 0xC210


class MissingUid(InvalidInstance):
    """SOP Class/Instance, Study or Series Instance UID is absent or not a valid UID."""

    #: Error: Cannot understand (PS3.4 B.2.3, Cxxx); C211 = identifying UID missing/invalid
    dimse_status = 0xC211


class BadPixelData(InvalidInstance):
    """Pixel Data is truncated or cannot be decoded with the installed pydicom handlers."""

    #: Error: Cannot understand (PS3.4 B.2.3, Cxxx); C212 = pixel data undecodable/truncated
    dimse_status = 0xC212
