"""nnU-Net v2 inference on a :class:`~node.segment.geometry.Volume`, result on its grid.

Loads an nnU-Net results folder once (``nnUNetPredictor.initialize_from_trained_model_folder``)
and predicts many volumes. Nothing is downloaded: the folder must exist locally (the published
lipoma model, Zenodo 10964138, is such a folder once extracted). The array is handed to
nnU-Net in (z, y, x) with spacing (z, y, x) — the axis order of nnU-Net's SimpleITK reader that
the models were trained with — so nnU-Net's own preprocessing, sliding window and resampling back
to the input shape apply unchanged; the output is therefore on the source grid, frame for frame.

QC needs a second opinion: with ``agreement_pass`` the volume is also predicted mirrored
left-right along x (the input flipped, the output flipped back), and the Dice between the
two masks is stored in ``Mask.agreement``. With TTA on that is one extra forward pass per tile
(9 instead of 8); with TTA off it doubles the inference time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from node.errors import SegmentationError
from node.segment.config import DevicePolicy, SegmentConfig
from node.segment.geometry import Mask, Volume


class ModelNotFound(SegmentationError):
    """The configured nnU-Net model folder or one of its folds is missing."""

    code = "model_not_found"


@dataclass(frozen=True)
class Timing:
    """Seconds of one ``predict`` call: network forward passes (sliding window, TTA) ⊂ nnU-Net
    inference (plus its normalisation and resampling to/from the model spacing) ⊂ total."""

    network_s: float
    inference_s: float
    total_s: float


def choose_device(policy: DevicePolicy) -> str:
    """``cuda`` when asked for or (``auto``) available, else ``cpu``; decided at run time."""
    import torch

    policy = DevicePolicy(policy)  # also accept the plain string
    if policy is DevicePolicy.CUDA:
        if not torch.cuda.is_available():
            raise SegmentationError("segment.device is 'cuda' but no CUDA device is available")
        return "cuda"
    if policy is DevicePolicy.AUTO and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def model_id_of(folder: Path, folds: tuple[int | str, ...], checkpoint: str) -> str:
    """Stable id: folder name + digest of plans and the fold checkpoints used."""
    digest = hashlib.sha256((folder / "plans.json").read_bytes())
    for f in folds:
        digest.update((folder / f"fold_{f}" / checkpoint).read_bytes())
    return f"{folder.name}@{digest.hexdigest()[:12]}"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Sørensen–Dice of two binary masks; 1.0 when both are empty."""
    a, b = a.astype(bool), b.astype(bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def pass_agreement(fg: np.ndarray, mirrored: np.ndarray) -> float:
    """Dice of the two passes' 0.5 masks: what ``low_agreement`` is judged on."""
    return dice(fg > 0.5, mirrored > 0.5)


def network_input(volume: Volume) -> tuple[np.ndarray, list[float]]:
    """The volume as nnU-Net is handed it: float32 (z, y, x) and spacing (z, y, x)."""
    sx, sy, sz = volume.geometry.spacing
    return np.ascontiguousarray(volume.array, dtype=np.float32), [sz, sy, sx]


class Segmenter:
    """A loaded nnU-Net model; ``predict(volume)`` → :class:`Mask` on the volume's grid."""

    def __init__(self, model_folder: Path, cfg: SegmentConfig) -> None:
        import torch

        model_folder = Path(model_folder)
        if not (model_folder / "plans.json").is_file() or not (model_folder / "dataset.json").is_file():
            raise ModelNotFound(f"{model_folder} is not an nnU-Net model folder (plans.json, dataset.json)")
        for f in cfg.folds:
            if not (model_folder / f"fold_{f}" / cfg.checkpoint).is_file():
                raise ModelNotFound(f"{model_folder}: fold_{f}/{cfg.checkpoint} is missing")
        self.cfg = cfg
        self.device = choose_device(cfg.device)
        threads = cfg.torch_threads or min(4, os.cpu_count() or 1)
        torch.set_num_threads(threads)
        # nnU-Net prints notices to stdout; keep stdout for our CLI's machine-readable output
        with contextlib.redirect_stdout(sys.stderr):
            self._load(model_folder, cfg)

    def _load(self, model_folder: Path, cfg: SegmentConfig) -> None:
        import torch
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        self._predictor = nnUNetPredictor(
            tile_step_size=cfg.tile_step_size,
            use_gaussian=True,
            use_mirroring=cfg.use_mirroring,
            perform_everything_on_device=self.device == "cuda",
            device=torch.device(self.device),
            verbose=False,
            verbose_preprocessing=False,
            allow_tqdm=False,
        )
        self._predictor.initialize_from_trained_model_folder(
            str(model_folder), use_folds=tuple(cfg.folds), checkpoint_name=cfg.checkpoint
        )
        self.model_id = model_id_of(model_folder, tuple(cfg.folds), cfg.checkpoint)
        self.last_timing: Timing | None = None
        self._network_s = 0.0
        forward = self._predictor.predict_logits_from_preprocessed_data

        def timed_forward(data):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return forward(data)
            finally:
                self._network_s += time.perf_counter() - t

        self._predictor.predict_logits_from_preprocessed_data = timed_forward

    def foreground(self, image: np.ndarray, spacing_zyx: list[float]) -> np.ndarray:
        """Foreground probability of a (z, y, x) array; for benchmarks and tests that hold
        arrays rather than DICOM (the pipeline goes through :meth:`predict`)."""
        _seg, probs = self._predictor.predict_single_npy_array(
            image[None], {"spacing": spacing_zyx}, None, None, True
        )
        return np.asarray(probs[1], dtype=np.float32)

    def mirrored(self, image: np.ndarray, spacing_zyx: list[float]) -> np.ndarray:
        """Foreground probability of the volume flipped left-right along x, flipped back (the
        agreement pass; QC's agreement is :func:`pass_agreement` of it and :meth:`foreground`)."""
        return self.foreground(np.ascontiguousarray(image[:, :, ::-1]), spacing_zyx)[:, :, ::-1]

    def predict(self, volume: Volume) -> Mask:
        """Segment ``volume``; probabilities and (optionally) agreement ride along for QC."""
        start = time.perf_counter()
        self._network_s = 0.0
        image, spacing = network_input(volume)
        t0 = time.perf_counter()
        fg = self.foreground(image, spacing)
        agreement = pass_agreement(fg, self.mirrored(image, spacing)) if self.cfg.agreement_pass else None
        inference = time.perf_counter() - t0
        if fg.shape != volume.geometry.shape:
            raise SegmentationError(f"model returned shape {fg.shape} for grid {volume.geometry.shape}")
        from node.segment.cleanup import postprocess

        array = postprocess(fg, image, spacing, self.cfg)
        mask = Mask(
            array=array,
            geometry=volume.geometry,
            model_id=self.model_id,
            probabilities=fg,
            agreement=agreement,
        )
        self.last_timing = Timing(self._network_s, inference, time.perf_counter() - start)
        return mask


def load_segmenter(cfg: SegmentConfig) -> Segmenter:
    """The configured model (``cfg.model_folder()``), loaded once."""
    return Segmenter(cfg.model_folder(), cfg)
