"""U+0000 in raw JSON: stored losslessly and identically on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from collection_pipeline.storage import RawRecordIn, UpsertCounts
from collection_pipeline.storage.hashing import (
    canonical_json,
    content_hash,
    escape_nul,
    unescape_nul,
)
from collection_pipeline_tests.support.catalog import DAY, NOW, WINDOW, new_database, query

TRICKY: dict[str, Any] = {
    "id": 7,
    "name": "Glue\x00",
    "mix_name": "back\\slash \\0 not a NUL",
    "artists": [{"id": 1, "name": "\x00Bi\x00cep\\"}],
    "key\x00": None,
    "nested": {"list": ["\\\x00", "\x00\\0", 3, True, None]},
}


@pytest.mark.parametrize(
    "payload",
    [TRICKY, "\x00", ["a\x00", {"\x00": "\\"}], {"plain": "no NUL \\u0000 here"}],
)
def test_escaping_is_reversible(payload: Any) -> None:
    escaped = escape_nul(payload)
    if escaped is None:
        assert "\x00" not in str(payload)
    else:
        assert "\x00" not in str(escaped)
        assert unescape_nul(escaped) == payload


def test_a_record_holding_nul_is_stored_escaped_and_read_back_as_received(
    database_url: str,
) -> None:
    db = new_database(database_url)
    records = [RawRecordIn("7", TRICKY, DAY), RawRecordIn("8", {"id": 8, "name": "ok"}, DAY)]
    with db.unit_of_work() as uow:
        assert uow.raw.upsert_records("beatport", "track", records, "r1", now=NOW) == UpsertCounts(
            2, 0, 0, 0
        )
        uow.commit()
    flags = dict(query(db, "SELECT external_id, payload_escaped FROM external_data"))
    assert {key: bool(value) for key, value in flags.items()} == {"7": True, "8": False}
    with db.unit_of_work() as uow:
        stored = uow.raw.fetch_unprocessed("beatport", "track", WINDOW, 0, 10)
        assert [r.payload for r in stored] == [TRICKY, {"id": 8, "name": "ok"}]
        # re-collecting the same content is unchanged: the hash is the received content's
        again = uow.raw.upsert_records("beatport", "track", records, "r2", now=NOW)
        changed = {**TRICKY, "name": "Glue\x00\x00"}
        edit = uow.raw.upsert_records(
            "beatport", "track", [RawRecordIn("7", changed, DAY)], "r3", now=NOW
        )
        uow.commit()
    assert (again, edit) == (UpsertCounts(0, 0, 2, 0), UpsertCounts(0, 1, 0, 0))
    hashes = dict(query(db, "SELECT external_id, content_hash FROM external_data"))
    db.dispose()
    # the hash is that of the content as received, so both engines store the same one
    assert hashes["7"] == content_hash(canonical_json(changed))


def test_nul_in_a_spotify_payload_is_stored_as_processed(database_url: str) -> None:
    db = new_database(database_url)
    with db.unit_of_work() as uow:
        uow.raw.upsert_records(
            "spotify", "track", [RawRecordIn("x", {"id": "x", "name": "\x00"}, None)], "r1",
            processed=True, now=NOW,
        )  # fmt: skip
        uow.commit()
    assert query(db, "SELECT external_id FROM external_data WHERE processed_at IS NOT NULL") == [
        ("x",)
    ]
    db.dispose()
