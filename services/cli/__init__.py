"""The ``glint`` command."""
