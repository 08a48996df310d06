"""lipo-node qc stage: automatic checks of a predicted mask → pass / reasons.

Public API in :mod:`node.qc.checks` (``run_qc``, ``QcResult``, ``QcReason``, ``QcCode``,
``QcStatus``); not re-exported here so that loading the config does not import SciPy.
"""
