"""lipo-node send stage."""
