"""lipo-node bench stage."""
