"""Helpers shared by the test layers (importable as ``support``: pytest puts ``tests/`` on the path)."""
