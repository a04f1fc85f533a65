"""DIAN electronic documents: from raw email bytes to documents or a failure reason."""
