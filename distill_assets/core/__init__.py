"""Plain-Python core: no dagster imports here (tests/test_layering.py enforces it)."""
