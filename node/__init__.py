"""lipo-node: a DICOM node that gives a second opinion (P(ALT)) on lipomatous tumour MRI."""

__version__ = "0.1.0"
