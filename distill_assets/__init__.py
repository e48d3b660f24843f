"""distill-assets: distil a large teacher LLM into a small student, as Dagster assets."""

__version__ = "0.1.0"
