"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time zones and no JSONB; these types hide the difference so repositories can
bind and read the same Python values on both engines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit surrogate keys; plain INTEGER on SQLite so the column aliases the rowid."""

Payload = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""Raw provider JSON: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite."""


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both engines.

    SQLite stores the wall-clock digits of whatever it is given, so every value is converted
    to UTC before binding; values read back are always aware (UTC), never naive.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SerializedJSON(str):
    """JSON text that was already serialized (canonically, for hashing).

    The engine's JSON serializer passes it through unchanged, so a raw payload is encoded
    once per upsert instead of once for the hash and again for the driver.
    """

    __slots__ = ()


def serialize_json(value: Any) -> str:
    """The engine-wide JSON serializer: pre-serialized text as is, anything else via json."""
    if isinstance(value, SerializedJSON):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
