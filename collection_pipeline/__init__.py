"""collection_pipeline: a Dagster code location that builds an electronic-music catalogue
from Beatport and matches it on Spotify. Definitions live in `collection_pipeline.definitions`."""
