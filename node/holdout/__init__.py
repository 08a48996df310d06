"""Independent hold-out studies for *evaluating* segmentation and QC (issue 14).

A second generator, deliberately different from :mod:`node.synthetic` (other anatomy model,
other tumour shapes, other signal model, other planes), so that a model trained on the twin is
measured on studies it was not made from. Evaluation only: nothing here may feed training or
threshold tuning.

Public API: ``generate_holdout(out_dir, n, seed) -> Path`` (node.holdout.generate) and
``evaluate_holdout(...)`` (node.holdout.evaluate).
"""
