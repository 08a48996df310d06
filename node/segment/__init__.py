"""lipo-node segment stage."""
