"""lipo-node evaluate stage."""
