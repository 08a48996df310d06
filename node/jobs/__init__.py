"""lipo-node jobs: the job state machine, the job folder, the stage pipeline and the runners.

Public API::

    from node.jobs.model import JobState, JobResult          # result.json (extra="forbid")
    from node.jobs.folder import JobFolder, Artefact         # <jobs_dir>/<job_id>/ and its files
    from node.jobs.pipeline import JobContext, Pipeline, register_stage, execute_job
    register_stage("radiomics", JobState.FEATURES, "node.radiomics.stage:radiomics_stage")
    pipeline = Pipeline.from_names(cfg.jobs.stages)          # config.yaml jobs.stages
    runner = LocalRunner(cfg, pipeline, store); runner.start(); runner.stop()
    run_folder(cfg, folder)         # offline (lipo-node run DIR); node.jobs.control
    reopen_job(cfg, job_id, redo_from, done=())   # worklist: continue a needs_review job

A stage is ``def stage(ctx: JobContext) -> None``: read ``ctx.series_paths()`` /
``ctx.study`` / ``ctx.result``, write files into ``ctx.job_dir`` and fields into ``ctx.result``
(the runner saves it), raise a ``LipoNodeError`` subclass to stop the job: its ``code`` goes to
``needs_review`` if listed in ``jobs.review_codes``, is retried if in ``jobs.retry_codes``,
else the job is ``failed``.

``serve`` (SCP + runner + HTTP) is the app's wiring, one layer up: :mod:`node.app.serve`.
"""
