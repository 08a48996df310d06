"""lipo-node store stage."""
