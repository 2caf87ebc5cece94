"""`python -m collection_pipeline.storage upgrade [--url URL]`: bring the schema to head.

Runs upgrade on their own (`collection-pipeline migrate` does the same); this is for operators
who migrate ahead of a deployment. The URL defaults to the one the pipeline uses: the
configured COLLECTION_DATABASE_URL, else the SQLite file in DAGSTER_HOME.
"""

from __future__ import annotations

import argparse
import sys

from collection_pipeline import settings
from collection_pipeline.storage.database import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collection_pipeline.storage")
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument("--url", help="catalogue URL (default: the pipeline's own)")
    args = parser.parse_args(argv)
    db = Database(args.url or settings.database_url())
    try:
        if args.action == "upgrade":
            db.upgrade()
        print(f"schema revision: {db.current_revision()}")
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
