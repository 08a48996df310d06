"""lipo-node receive stage."""
