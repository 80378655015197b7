"""Shared pytest fixtures, one module per area, loaded from tests/conftest.py."""
