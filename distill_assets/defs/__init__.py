"""The thin Dagster layer over distill_assets.core."""
