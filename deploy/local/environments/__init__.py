"""A deployment's environment made ready: the conda file read as requirements and built into
a virtual environment cached by content."""
