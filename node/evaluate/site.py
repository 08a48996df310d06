"""Site acceptance: run the installed pipeline on a local labelled cohort and report.

Before go-live a hospital runs ``lipo-node evaluate site --cohort DIR`` on its own cases:
each case is segmented with the configured nnU-Net model (or its reference mask with
``--truth-masks``), features are extracted with the configured parameter file, the classifier
bundle(s) score it, and the Table-2 report is written with bootstrap CIs. Where a reference
``segmentation.nii.gz`` exists the automatic mask is also scored (Dice, Jaccard, HD95).

Cohort layouts (``labels.csv``: Patient,label[,age,sex,location,depth,...] in both):

* WORC: ``<Patient>/image.nii.gz`` (+ optional ``<Patient>/segmentation.nii.gz``);
* DICOM: ``<Patient>/`` holding one study's files; the T1 series is chosen by
  :func:`node.select.rules.choose_series`, as the node does for a received study.

A case that fails (unreadable, no T1 series, empty mask...) is listed with its reason in
``failures.csv`` and in the report: it is never dropped silently.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.errors import LipoNodeError
from node.evaluate.api import CohortFiles, ReportFiles, evaluate_and_report, evaluate_files
from node.evaluate.segmetrics import SegmentationScores, score_images, summarise
from node.logs import phash

if TYPE_CHECKING:
    from node.config import NodeConfig

__all__ = ["CohortLayout", "SiteCohortError", "SiteOptions", "run_site"]

log = logging.getLogger(__name__)
IMAGE, SEGMENTATION, LABELS = "image.nii.gz", "segmentation.nii.gz", "labels.csv"


class SiteCohortError(LipoNodeError):
    """The cohort folder is unusable as a whole (no labels.csv, no cases, unknown layout)."""

    code = "bad_site_cohort"


@dataclass(frozen=True)
class SiteOptions:
    use_truth_masks: bool = False
    limit: int | None = None
    n_boot: int = 10_000
    seed: int = 0
    bundles: dict[str, Path] = field(default_factory=dict)  # name -> bundle; {} = configured
    layout: str = "auto"  # "auto" (image.nii.gz present -> worc), "worc" or "dicom"


@dataclass(frozen=True)
class CohortLayout:
    kind: str                     # "worc" or "dicom"
    cases: tuple[Path, ...]
    labels: dict[str, dict[str, str]]


def read_layout(cohort: Path, limit: int | None = None, layout: str = "auto") -> CohortLayout:
    lpath = cohort / LABELS
    if not lpath.is_file():
        raise SiteCohortError(f"{cohort}: no {LABELS} (Patient,label[,age,sex,location,...])")
    with lpath.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"Patient", "label"} <= set(rows[0]):
        raise SiteCohortError(f"{lpath}: needs columns Patient,label")
    labels = {r["Patient"].strip(): r for r in rows}
    cases = tuple(cohort / p for p in sorted(labels) if (cohort / p).is_dir())[:limit]
    if not cases:
        raise SiteCohortError(f"{cohort}: none of the {len(labels)} labelled patients has a folder")
    if layout not in ("auto", "worc", "dicom"):
        raise SiteCohortError(f"layout {layout!r}: expected auto, worc or dicom")
    kind = layout if layout != "auto" else ("worc" if (cases[0] / IMAGE).is_file() else "dicom")
    return CohortLayout(kind, cases, labels)


class _Pipeline:
    """The installed pipeline pieces, loaded once (segmenter lazily: not with truth masks)."""

    def __init__(self, cfg: NodeConfig, opts: SiteOptions) -> None:
        from node.classify.bundle import DEMO_BUNDLE, load_bundle
        from node.radiomics.settings import load_settings

        self.cfg = cfg
        self.settings = load_settings(cfg.radiomics.params_file)
        paths = opts.bundles or {"radiomics": Path(cfg.classify.bundle or DEMO_BUNDLE)}
        self.bundles = {name: load_bundle(p) for name, p in paths.items()}
        self._segmenter: Any = None

    def image_of(self, case: Path, kind: str) -> sitk.Image:
        if kind == "worc":
            return sitk.ReadImage(str(case / IMAGE))
        from node.segment.geometry import read_series_files, to_sitk
        from node.select.index import StudyIndex
        from node.select.rules import choose_series

        study = StudyIndex.from_folder(case)
        choice = choose_series(study, self.cfg.select.rules)
        volume = read_series_files(study.series[choice.series_uid].paths)
        return to_sitk(volume.array, volume.geometry)

    def segment(self, image: sitk.Image) -> sitk.Image:
        from node.segment.evaluate import volume_from_image
        from node.segment.geometry import to_sitk
        from node.segment.nnunet import load_segmenter

        if self._segmenter is None:
            self._segmenter = load_segmenter(self.cfg.segment)
        volume = volume_from_image(sitk.Cast(image, sitk.sitkFloat32))
        mask = self._segmenter.predict(volume)
        out = to_sitk(mask.array, mask.geometry)
        out.CopyInformation(image)
        return out


def _on_grid(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """``mask`` on ``image``'s voxel grid: same grid up to float noise, else resampled
    (nearest neighbour in physical space, e.g. a NIfTI reference on a DICOM series)."""
    same = (mask.GetSize() == image.GetSize()
            and np.allclose(mask.GetSpacing(), image.GetSpacing(), atol=1e-3)
            and np.allclose(mask.GetOrigin(), image.GetOrigin(), atol=1e-2)
            and np.allclose(mask.GetDirection(), image.GetDirection(), atol=1e-4))
    if same:
        out = sitk.Cast(mask, sitk.sitkUInt8)
        out.CopyInformation(image)
        return out
    return sitk.Resample(sitk.Cast(mask, sitk.sitkUInt8), image, sitk.Transform(),
                         sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def _label01(value: str) -> str:
    return "alt" if value.strip().lower() in ("alt", "1") else "lipoma"


def run_site(cohort: Path, out_dir: Path, cfg: NodeConfig, opts: SiteOptions) -> ReportFiles:
    """Run the pipeline on every case of ``cohort`` and write the report into ``out_dir``."""
    from node.radiomics.features import extract

    layout = read_layout(cohort, opts.limit, opts.layout)
    pipe = _Pipeline(cfg, opts)
    out_dir.mkdir(parents=True, exist_ok=True)
    preds: dict[str, list[tuple[str, str, float]]] = {n: [] for n in pipe.bundles}
    seg_scores: list[SegmentationScores] = []
    failures: list[tuple[str, str]] = []
    for case in layout.cases:
        pid = case.name
        row = layout.labels[pid]
        try:
            image = pipe.image_of(case, layout.kind)
            truth_path = case / SEGMENTATION
            if opts.use_truth_masks:
                if not truth_path.is_file():
                    raise SiteCohortError(f"no {SEGMENTATION}")
                mask = _on_grid(sitk.ReadImage(str(truth_path)), image)
            else:
                mask = pipe.segment(image)
                if truth_path.is_file():
                    truth = _on_grid(sitk.ReadImage(str(truth_path)), image)
                    seg_scores.append(score_images(mask, truth, pid))
            features = extract(image, mask, pipe.settings)
            clinical = {k: row.get(k) for k in ("age", "sex", "location", "depth")}
            for name, bundle in pipe.bundles.items():
                p = bundle.predict(features, clinical)
                preds[name].append((pid, _label01(row["label"]), p.alt_probability))
        except (LipoNodeError, RuntimeError, ValueError) as exc:
            failures.append((pid, f"{type(exc).__name__}: {exc}"))
            log.warning("site case %s failed: %s", phash(pid), type(exc).__name__)
    files = []
    for name, rows in preds.items():
        path = out_dir / f"predictions_{name}.csv"
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["Patient", "label", "prob"])
            w.writerows((p, lab, f"{v:.6f}") for p, lab, v in rows)
        files.append(path)
    with (out_dir / "failures.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("Patient", "reason"), *failures])
    if seg_scores:
        with (out_dir / "segmentation.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["Patient", "dice", "jaccard", "hd95_mm", "truth_ml", "predicted_ml"])
            w.writerows((s.case, f"{s.dice:.4f}", f"{s.jaccard:.4f}", f"{s.hd95_mm:.2f}",
                         f"{s.truth_ml:.2f}", f"{s.predicted_ml:.2f}") for s in seg_scores)
    if not any(preds.values()):
        raise SiteCohortError(f"{cohort}: every case failed (see {out_dir / 'failures.csv'})")
    # the AUC needs both classes among the *scored* cases: failures can take one class away even
    # when labels.csv has both (a model that misses every small ALT); say so, keep the CSVs
    for name, rows in preds.items():
        scored = {lab for _, lab, _ in rows}
        if len(scored) < 2:
            only = "ALT" if scored == {1} else "lipoma"
            raise SiteCohortError(
                f"{cohort}: the {len(rows)} case(s) {name} scored are all {only}; an AUC needs "
                f"both classes ({len(failures)} failed, see {out_dir / 'failures.csv'}; "
                f"predictions in {out_dir / f'predictions_{name}.csv'})")
    results = evaluate_files([CohortFiles(cohort.name, tuple(files))], n_boot=opts.n_boot,
                             seed=opts.seed, reference=next(iter(pipe.bundles)))
    intro = (f"Site acceptance run on {len(layout.cases)} cases ({layout.kind} layout), "
             f"{len(failures)} failed (failures.csv). Masks: "
             + ("reference segmentations" if opts.use_truth_masks else "automatic (nnU-Net)")
             + ".")
    if seg_scores:
        s = summarise(seg_scores)
        intro += (f" Segmentation vs reference (n={s.n}): Dice mean {s.dice_mean:.3f}, median "
                  f"{s.dice_median:.3f} [IQR {s.dice_iqr[0]:.3f}-{s.dice_iqr[1]:.3f}], Jaccard "
                  f"mean {s.jaccard_mean:.3f}, HD95 median {s.hd95_median_mm:.1f} mm, "
                  f"{s.n_empty_predictions} empty predictions.")
    return evaluate_and_report(results, out_dir, f"Site acceptance: {cohort.name}", intro,
                               seed=opts.seed)
