"""Smoke training through nnU-Net v2's own plan/preprocess/train on a tiny cohort, then export."""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
import torch
from segment_helpers import blob_case, make_tiny_cohort

from node.errors import SegmentationError
from node.segment.config import DevicePolicy, SegmentConfig
from node.segment.dataset import CohortError, convert_cohort
from node.segment.geometry import Geometry, Volume
from node.segment.nnunet import ModelNotFound, Segmenter, choose_device
from node.segment.slim_plan import SlimPlan
from node.segment.training import TrainBudget, train_seg

TINY_PLAN = SlimPlan(spacing_mm=(4.0, 3.0, 3.0), patch_size=(16, 32, 32), max_features=32)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("smoke")
    cohort = make_tiny_cohort(root / "cohort", 5, seed=3)
    out = root / "model"
    budget = TrainBudget(epochs=2, iterations_per_epoch=2, val_iterations=1, da_workers=0)
    # nnU-Net's planning/preprocessing fork worker pools; forking this pytest process, which
    # earlier tests left with threads (servers, executors), can deadlock the child. Train in a
    # fresh spawned process, as `lipo-node train-seg` does.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(train_seg, cohort, out, root / "work", slim=TINY_PLAN, budget=budget,
                             dataset_id=902, dataset_name="Smoke", device="cpu",
                             preprocess_workers=1).result(timeout=900)
    assert result.epochs_run == 2 and result.cases == 5
    return out


def test_export_is_a_lean_stock_nnunet_model_folder(tiny_model: Path) -> None:
    for name in ("plans.json", "dataset.json", "dataset_fingerprint.json", "fold_0/checkpoint_final.pth"):
        assert (tiny_model / name).is_file(), name
    ckpt = torch.load(tiny_model / "fold_0" / "checkpoint_final.pth", weights_only=False)
    assert "optimizer_state" not in ckpt and "grad_scaler_state" not in ckpt
    assert ckpt["trainer_name"] == "nnUNetTrainer"  # resolvable by any nnU-Net install
    plans = json.loads((tiny_model / "plans.json").read_text())
    arch = plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    assert max(arch["features_per_stage"]) == 32
    assert plans["configurations"]["3d_fullres"]["spacing"] == [4.0, 3.0, 3.0]
    info = json.loads((tiny_model / "training.json").read_text())
    assert info["budget"]["epochs"] == 2


def test_nnunet_path_variables_do_not_leak(tiny_model: Path) -> None:
    for var in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "nnUNet_n_proc_DA"):
        assert var not in os.environ


def test_exported_model_predicts_on_the_source_grid(tiny_model: Path) -> None:
    image, _truth = blob_case((14, 40, 44), seed=99)
    grid = Geometry((10.0, -5.0, 3.0), (1.5, 1.5, 4.0), (1, 0, 0, 0, 1, 0, 0, 0, 1), image.shape)
    segmenter = Segmenter(tiny_model, SegmentConfig(device=DevicePolicy.CPU, torch_threads=1))
    mask = segmenter.predict(Volume(image, grid, tuple(range(14)), False, "1.2.3"))
    assert mask.array.shape == image.shape and mask.geometry == grid
    assert set(np.unique(mask.array)) <= {0, 1}
    assert mask.probabilities is not None and 0.0 <= mask.probabilities.min() <= 1.0
    assert mask.agreement is not None and 0.0 <= mask.agreement <= 1.0
    assert mask.model_id.startswith("model@")
    timing = segmenter.last_timing
    assert timing is not None and 0 < timing.inference_s <= timing.total_s


def test_missing_model_folder_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        Segmenter(tmp_path, SegmentConfig())


def test_missing_fold_is_a_named_error(tiny_model: Path) -> None:
    with pytest.raises(ModelNotFound, match="fold_3"):
        Segmenter(tiny_model, SegmentConfig(folds=(3,)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_forcing_cuda_without_a_gpu_fails_clearly() -> None:
    assert choose_device(DevicePolicy.AUTO) == "cpu"
    with pytest.raises(SegmentationError, match="no CUDA"):
        choose_device(DevicePolicy.CUDA)


def test_cohort_without_cases_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CohortError, match="no <Patient>"):
        convert_cohort(tmp_path / "empty", tmp_path / "raw", 903, "Empty")


def test_segment_and_qc_stages_write_job_files(tiny_model: Path, tmp_path: Path) -> None:
    """The job-pipeline stages on a classic DICOM series: files, result fields, QC outcome."""
    import pydicom
    from segment_helpers import classic_series, write_series

    from node.config import load_config
    from node.jobs.model import JobResult
    from node.jobs.pipeline import JobContext
    from node.qc.stage import QcFailed, qc_stage
    from node.segment.geometry import read_series
    from node.segment.stage import segment_stage

    image, _truth = blob_case((14, 48, 48), seed=5, spacing=(4.0, 1.5, 1.5))
    datasets = classic_series("coronal", n=14, rows=48, cols=48, seed=8, spacing=(1.5, 1.5), step=4.0)
    for ds in datasets:
        ds.PixelData = np.clip(image[int(ds.InstanceNumber) - 1], 0, 4095).astype(np.uint16).tobytes()
    write_series(datasets, tmp_path / "study")
    cfg = load_config(None, data_dir=str(tmp_path / "var"),
                      segment={"results_dir": str(tiny_model), "device": "cpu"})
    result = JobResult(job_id="j1", study_uid=datasets[0].StudyInstanceUID,
                       series_uid=datasets[0].SeriesInstanceUID, source_dir=str(tmp_path / "study"))
    ctx = JobContext("j1", tmp_path / "job", cfg, result)
    segment_stage(ctx)
    assert {"mask", "probabilities", "segment"} <= set(result.artefacts)
    mask_img = sitk.ReadImage(str(ctx.job_dir / result.artefacts["mask"]))
    volume = read_series([pydicom.dcmread(str(p)) for p in sorted((tmp_path / "study").iterdir())])
    assert mask_img.GetSize() == (48, 48, 14)
    np.testing.assert_allclose(mask_img.GetOrigin(), volume.geometry.origin, atol=1e-4)
    np.testing.assert_allclose(mask_img.GetDirection(), volume.geometry.direction, atol=1e-6)
    assert result.models[0].role == "segmentation" and result.volume_ml is not None
    try:
        qc_stage(ctx)
    except QcFailed:
        assert result.qc.status == "fail" and result.qc.reason_codes
    else:
        assert result.qc.status == "pass"
    assert json.loads((ctx.job_dir / "qc.json").read_text())["status"] == result.qc.status


def test_cached_prediction_is_reused_and_keyed_by_model(tiny_model: Path, tmp_path: Path) -> None:
    """eval-seg --cache on a GPU machine, holdout evaluate / qc-tune --cache here: the second
    call must read the stored probabilities, give the same mask, and never serve another model
    or another image of the same case name."""
    from node.segment.evaluate import image_digest, predict_cached

    image, _truth = blob_case((14, 40, 44), seed=7)
    itk = sitk.GetImageFromArray(image.astype(np.float32))
    itk.SetSpacing((1.5, 1.5, 4.0))
    segmenter = Segmenter(tiny_model, SegmentConfig(device=DevicePolicy.CPU, torch_threads=1,
                                                    agreement_pass=False))
    first = predict_cached(segmenter, itk, "case-a", tmp_path)
    cached = sorted(tmp_path.iterdir())
    assert [p.name for p in cached] == [
        f"case-a.{image_digest(itk)}.{segmenter.model_id.replace('@', '_')}.prob.nii.gz"]
    prob = sitk.GetArrayFromImage(sitk.ReadImage(str(cached[0])))
    sitk.WriteImage(sitk.GetImageFromArray(np.where(prob > 0, 0, 255).astype(np.uint8)), str(cached[0]))
    # the (tampered) cache is what the second call reads: proof that no network ran
    second = predict_cached(segmenter, itk, "case-a", tmp_path)
    assert second.array.shape == first.array.shape
    assert not np.array_equal(second.array, first.array)
    assert (second.array == (prob == 0)).all()
    # another image under the same case name (a second cohort's dr-train-0000): computed, not read
    other = sitk.GetImageFromArray(np.roll(image, 3, axis=2).astype(np.float32))
    other.CopyInformation(itk)
    moved = predict_cached(segmenter, other, "case-a", tmp_path)
    assert not np.array_equal(moved.array, second.array)  # the tampered file was not read
    assert len(list(tmp_path.iterdir())) == 2
    segmenter.model_id = "other@000000000000"
    third = predict_cached(segmenter, itk, "case-a", tmp_path)
    assert np.array_equal(third.array, first.array)  # another model id: computed, not read



def test_cached_prediction_carries_the_pipelines_agreement(tiny_model: Path, tmp_path: Path) -> None:
    """The hold-out evaluation reads masks through the cache; with the pipeline's mirrored
    agreement pass on, the cached mask must carry the agreement the segment stage gives QC
    (else low_agreement never runs there), computed from the cached mirrored pass on rerun and
    added to a cache written without it."""
    from node.segment.evaluate import predict_cached, volume_from_image
    from node.segment.nnunet import pass_agreement

    image, _truth = blob_case((14, 40, 44), seed=11)
    itk = sitk.GetImageFromArray(image.astype(np.float32))
    itk.SetSpacing((1.5, 1.5, 4.0))
    single = Segmenter(tiny_model, SegmentConfig(device=DevicePolicy.CPU, torch_threads=1,
                                                 agreement_pass=False))
    assert predict_cached(single, itk, "case-b", tmp_path).agreement is None
    assert len(list(tmp_path.iterdir())) == 1
    both = Segmenter(tiny_model, SegmentConfig(device=DevicePolicy.CPU, torch_threads=1,
                                               agreement_pass=True))
    direct = both.predict(volume_from_image(itk))
    first = predict_cached(both, itk, "case-b", tmp_path)  # adds only the mirrored pass
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0].endswith(".mirror.prob.nii.gz")
    assert first.agreement is not None and abs(first.agreement - direct.agreement) < 0.02
    mirror = tmp_path / names[0]
    prob = sitk.GetArrayFromImage(sitk.ReadImage(str(mirror)))
    shifted = np.full_like(prob, 255)  # tamper with the stored mirrored pass only: all tumour
    out = sitk.GetImageFromArray(shifted)
    out.CopyInformation(itk)
    sitk.WriteImage(out, str(mirror))
    second = predict_cached(both, itk, "case-b", tmp_path)
    assert np.array_equal(second.array, first.array)
    expected = pass_agreement(first.probabilities, shifted.astype(np.float32) / 255)
    assert second.agreement == pytest.approx(expected) and second.agreement != first.agreement

def _bundled_net(n_classes: int) -> torch.nn.Module:
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    plans = json.loads((Path(__file__).parents[1] / "node/models/demo/seg/plans.json").read_text())
    arch = plans["configurations"]["3d_fullres"]["architecture"]
    return get_network_from_plans(arch["network_class_name"], arch["arch_kwargs"],
                                  arch["_kw_requires_import"], 1, n_classes, deep_supervision=True)


def test_fine_tuning_starts_from_every_weight_heads_included() -> None:
    """nnU-Net's own loader re-initialises the 1×1 heads; fine-tuning the same task must keep them
    (else a short CPU budget is spent re-learning them). Another label count falls back to it."""
    from node.segment.training import load_pretrained

    ckpt = Path(__file__).parents[1] / "node/models/demo/seg/fold_0/checkpoint_final.pth"
    saved = torch.load(str(ckpt), map_location="cpu", weights_only=False)["network_weights"]
    torch.manual_seed(0)
    net = _bundled_net(2)
    heads = [k for k in saved if "seg_layers" in k]
    assert heads and not torch.equal(net.state_dict()[heads[0]], saved[heads[0]])
    assert load_pretrained(net, ckpt) is True
    assert all(torch.equal(v, saved[k]) for k, v in net.state_dict().items())
    other = _bundled_net(3)
    assert load_pretrained(other, ckpt) is False
    body = next(k for k in saved if "seg_layers" not in k and k.endswith("weight"))
    assert torch.equal(other.state_dict()[body], saved[body])
    assert other.state_dict()[heads[0]].shape != saved[heads[0]].shape
