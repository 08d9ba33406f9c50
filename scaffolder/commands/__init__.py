"""One module per command; each function is also the Python API."""
