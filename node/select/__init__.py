"""lipo-node select stage."""
