"""Catalogue storage: schema and migrations, repositories, unit of work.

```python
db = Database("sqlite:///catalogue.db")   # or postgresql+psycopg2://...
db.upgrade()   # Alembic to head; by hand: python -m collection_pipeline.storage upgrade
counts = db.unit_of_work().run(   # one transaction, committed, retried over outages
    lambda uow: uow.raw.upsert_records("beatport", "track", records, run_id)
)
report = db.unit_of_work(read_only=True).run(lambda uow: uow.raw.state_counts(...))
```
No other module of the pipeline writes SQL.
"""

from collection_pipeline.storage.catalog import CatalogRepository
from collection_pipeline.storage.database import Database
from collection_pipeline.storage.outage import OutagePolicy
from collection_pipeline.storage.pacer_rates import PacerRateRepository
from collection_pipeline.storage.pool_logging import quiet_interrupted_closes
from collection_pipeline.storage.raw import (
    RawRecord,
    RawRecordIn,
    RawRecordRepository,
    UpsertCounts,
)
from collection_pipeline.storage.spotify import SpotifyRepository
from collection_pipeline.storage.unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "CatalogRepository",
    "Database",
    "OutagePolicy",
    "PacerRateRepository",
    "RawRecord",
    "RawRecordIn",
    "RawRecordRepository",
    "SpotifyRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UpsertCounts",
    "quiet_interrupted_closes",
]
