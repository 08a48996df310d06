"""lipo-node synthetic stage."""
