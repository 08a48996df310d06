"""lipo-node segment stage: DICOM series → exact-geometry volume → nnU-Net v2 → mask on the
source grid.

Public API (import from the modules; nothing heavy is imported here):

- :mod:`node.segment.geometry`: ``read_series(datasets) -> Volume``, ``read_series_files``,
  ``sort_frames``, ``seg_source(datasets, mask, volume)`` (hand-off to the SEG writer),
  ``to_sitk``, ``array_on_grid``; frozen ``Geometry``, ``Volume``, ``Mask``.
- :mod:`node.segment.nnunet`: ``Segmenter(model_folder, cfg).predict(volume) -> Mask``,
  ``load_segmenter(cfg)``.
- :mod:`node.segment.training`: ``train_seg(cohort_dir, out_dir, work_dir, ...)``
  (``lipo-node train-seg``); :mod:`node.segment.evaluate`: ``evaluate_cohort`` (``eval-seg``).
"""
