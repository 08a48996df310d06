"""lipo-node qc stage."""
