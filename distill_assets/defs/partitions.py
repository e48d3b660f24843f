import dagster as dg

# One partition per immutable batch of raw records (see core/versions.py).
dataset_version = dg.DynamicPartitionsDefinition(name="dataset_version")
