"""Rebuild this corpus from checkouts of the public dcm_qa repositories (not run by the tests).

Usage: ``python tests/data/select_corpus/reduce.py SRC_ROOT`` where SRC_ROOT holds one folder per
repository (``dcm_qa_ge/``, ``dcm_qa_uih/`` ...), each a checkout of github.com/neurolabusc/<name>.

Why the reduction keeps what it keeps: selection reads headers only (``stop_before_pixels``), so
pixel data and private tags go; the number of images per series matters (few-slice penalty,
localizer rule) so each kind of image in a series (ImageType × EchoTime × orientation) keeps up
to ``PER_KIND`` instances, which is above every count threshold of the rules; an Enhanced MR
file keeps all its functional groups (frame count and per-frame physics) and a series keeps at
most ``PER_ENHANCED`` of them. Completeness (ImagesInAcquisition, InstanceNumber holes) is
therefore not representative here and is not tested on this corpus.
"""

from __future__ import annotations

import gzip
import io
import shutil
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

import pydicom
import yaml
from pydicom.uid import ExplicitVRLittleEndian

HERE = Path(__file__).resolve().parent
PER_KIND = 12
PER_ENHANCED = 2
PER_SERIES_MAX = 48
_DROP = ("PixelData", "FloatPixelData", "DoubleFloatPixelData", "SpectroscopyData",
         "EncapsulatedDocument", "IconImageSequence")


def _read(path: Path) -> pydicom.Dataset | None:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        return pydicom.dcmread(io.BytesIO(raw), force=False)
    except Exception:  # not DICOM (readme, nifti, json ...)
        return None


def _kind(ds: pydicom.Dataset) -> tuple[str, str, str]:
    iop = ds.get("ImageOrientationPatient")
    ori = ",".join(f"{float(v):.1f}" for v in iop) if iop is not None else ""
    return (str(ds.get("ImageType", "")), str(ds.get("EchoTime", "")), ori)


def _strip(ds: pydicom.Dataset) -> pydicom.Dataset:
    ds.remove_private_tags()
    for kw in _DROP:
        if kw in ds:
            delattr(ds, kw)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def build_case(src_root: Path, case: dict, out: Path) -> int:
    src = case["source"]
    files = []
    for prefix in src["paths"]:
        base = src_root / src["repo"] / prefix
        files += sorted(p for p in ([base] if base.is_file() else base.rglob("*")) if p.is_file())
    series: dict[str, list[tuple[pydicom.Dataset, Path]]] = defaultdict(list)
    for p in files:
        ds = _read(p)
        if ds is None or "SeriesInstanceUID" not in ds:
            continue
        wanted = src.get("study_uid_endswith")
        if wanted and not str(ds.StudyInstanceUID).endswith(wanted):
            continue
        series[str(ds.SeriesInstanceUID)].append((ds, p))
    written = 0
    ordered = sorted(series.values(), key=lambda items: str(items[0][0].get("SeriesNumber", "")))
    for n, items in enumerate(ordered):
        kinds: dict[tuple[str, str, str], list[tuple[pydicom.Dataset, Path]]] = defaultdict(list)
        for ds, p in items:
            multiframe = "NumberOfFrames" in ds
            kinds[("enhanced", str(ds.SOPClassUID), p.name) if multiframe else _kind(ds)].append((ds, p))
        keep: list[pydicom.Dataset] = []
        enhanced = 0
        for kind, members in kinds.items():
            members.sort(key=lambda dp: (int(dp[0].get("InstanceNumber") or 0), dp[1].name))
            if kind[0] == "enhanced":
                if enhanced < PER_ENHANCED:
                    keep.append(members[0][0])
                    enhanced += 1
            else:
                keep += [ds for ds, _ in members[:src.get("per_kind", PER_KIND)]]
        folder = out / case["id"] / f"s{n:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        # a spool has no file order: put non-image objects (Raw Data, reports) first on purpose,
        # so the corpus checks that a series' header comes from an image
        keep.sort(key=lambda ds: "Rows" in ds)
        for i, ds in enumerate(keep[:max(PER_SERIES_MAX, src.get("per_kind", 0))]):
            _strip(ds).save_as(folder / f"{i:04d}.dcm", enforce_file_format=True)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    src_root = Path(args[0])
    cases = yaml.safe_load((HERE / "cases.yaml").read_text())["cases"]
    only = set(args[1:])
    for case in cases:
        if only and case["id"] not in only:
            continue
        target = HERE / "studies"
        shutil.rmtree(target / case["id"], ignore_errors=True)
        print(case["id"], build_case(src_root, case, target), "files")
    with tarfile.open(HERE / "studies.tar.xz", "w:xz") as tar:
        tar.add(HERE / "studies", arcname="studies", filter=_reset)
    return 0


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


if __name__ == "__main__":
    raise SystemExit(main())
