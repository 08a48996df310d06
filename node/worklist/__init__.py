"""lipo-node worklist stage."""
