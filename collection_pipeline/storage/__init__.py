"""Catalogue storage: schema and migrations, repositories, unit of work.

```python
db = Database("sqlite:///catalogue.db")   # or postgresql+psycopg2://...
db.upgrade()   # Alembic to head; by hand: python -m collection_pipeline.storage upgrade
with db.unit_of_work() as uow:
    counts = uow.raw.upsert_records("beatport", "track", records, run_id)
    uow.commit()
```
No other module of the pipeline writes SQL.
"""

from collection_pipeline.storage.catalog import CatalogRepository
from collection_pipeline.storage.database import Database
from collection_pipeline.storage.digest import database_digest
from collection_pipeline.storage.raw import (
    RawRecord,
    RawRecordIn,
    RawRecordRepository,
    UpsertCounts,
)
from collection_pipeline.storage.spotify import SpotifyRepository
from collection_pipeline.storage.unit_of_work import UnitOfWork

__all__ = [
    "CatalogRepository",
    "Database",
    "RawRecord",
    "RawRecordIn",
    "RawRecordRepository",
    "SpotifyRepository",
    "UnitOfWork",
    "UpsertCounts",
    "database_digest",
]
