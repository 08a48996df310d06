"""Closing the loop: an accepted correction resumes the job at radiomics on the corrected mask."""

from __future__ import annotations

from pathlib import Path

import pytest
import SimpleITK as sitk  # noqa: N813
from worklist_helpers import make_review_job

from node.config import load_config
from node.jobs.model import JobResult, JobState
from node.jobs.pipeline import Pipeline, execute_job
from node.radiomics.stage import longest_axial_diameter_mm
from node.worklist import review as rv


@pytest.mark.slow
def test_accepted_correction_resumes_at_radiomics_with_the_corrected_mask(tmp_path: Path) -> None:
    cfg = load_config(None, data_dir=str(tmp_path / "data"), store={"min_free_bytes": 0},
                      jobs={"stages": ["select", "segment", "qc", "radiomics"]})
    job = make_review_job(cfg, tmp_path)
    image = sitk.ReadImage(str(rv.ensure_image(cfg, job.job_id)))
    corrected = sitk.GetImageFromArray(job.truth)
    corrected.CopyInformation(image)
    rv.accept_correction(cfg, job.job_id, corrected, "incorrect", "interactive", "anna")

    state = execute_job(job.job_id, cfg, Pipeline.from_names(cfg.jobs.stages))

    assert state is JobState.FEATURES
    result = JobResult.from_file(cfg.jobs_dir / job.job_id / "result.json")
    assert result.completed_stages == ["select", "segment", "qc", "radiomics"]
    assert (cfg.jobs_dir / job.job_id / result.artefacts["features"]).is_file()
    assert result.diameter_mm == longest_axial_diameter_mm(corrected)  # measured on the correction
    bad = sitk.GetImageFromArray(job.bad)
    bad.CopyInformation(image)
    assert result.diameter_mm != longest_axial_diameter_mm(bad)
    assert (result.seg_method, result.quality_score) == ("interactive", "incorrect")
