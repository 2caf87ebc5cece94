"""The Dagster layer: assets, checks, automation, partitions and resources.

Everything defined at module level here is found by `dagster.components.load_defs` (the way `dg`
projects load their `defs/` folder); resources are bound in `collection_pipeline.definitions`.
"""
