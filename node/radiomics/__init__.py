"""lipo-node radiomics stage."""
