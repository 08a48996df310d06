"""lipo-node classify stage."""
