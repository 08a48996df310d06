"""lipo-node jobs stage."""
