"""lipo-node app: the wiring that turns the stages into a running node.

``serve`` (DICOM SCP + job runner + Orthanc pull + retention + HTTP: API and worklist in one
process) and the retention policy live here, above the job machinery, so that ``jobs`` stays
the core (model, database, pipeline, runners, control) and never imports receive, the
worklist or the Orthanc admin. See docs/architecture.md for the layers.
"""
