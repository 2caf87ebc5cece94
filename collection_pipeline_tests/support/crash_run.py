"""`python -m collection_pipeline_tests.support.crash_run DB_URL BASE_URL START END GENRES RUN_ID`:
one whole pipeline run in its own process, for the crash test to kill."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date

from collection_pipeline.domain import DateWindow
from collection_pipeline.storage import Database
from collection_pipeline.testing.harness import run_pipeline


def main(argv: Sequence[str]) -> None:
    """Prints "ready" once imported and connected, so the killer times its signal from the start
    of the real work rather than from interpreter start-up.
    """
    db_url, base_url, start, end, genres, run_id = argv
    window = DateWindow(date.fromisoformat(start), date.fromisoformat(end))
    db = Database(db_url)
    db.upgrade()
    print("ready", flush=True)
    run_pipeline(db, base_url, window, [int(g) for g in genres.split(",")], run_id, batch_size=10)
    db.dispose()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
