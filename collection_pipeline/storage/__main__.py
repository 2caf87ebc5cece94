"""`python -m collection_pipeline.storage upgrade [--url URL]`: bring the schema to head.

The pipeline also upgrades automatically before its first run; this is for operators who
migrate ahead of a deployment. The URL defaults to COLLECTION_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import os
import sys

from collection_pipeline.storage.database import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collection_pipeline.storage")
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument("--url", default=os.environ.get("COLLECTION_DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no database: pass --url or set COLLECTION_DATABASE_URL")
    db = Database(args.url)
    try:
        if args.action == "upgrade":
            db.upgrade()
        print(f"schema revision: {db.current_revision()}")
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
