"""lipo-node report stage."""
