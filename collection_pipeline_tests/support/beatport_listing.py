"""The listing rule of the hand-built Beatport transports in the crawl tests, written once."""

from __future__ import annotations

from collections.abc import Mapping

import httpx


def listed(days: Mapping[int, str], params: httpx.QueryParams) -> list[tuple[str, int]]:
    """(publish day, track id) of the tracks a request's `publish_date` and `id` filters select,
    in the listing's order."""
    start, end = params["publish_date"].split(":")
    wanted = {int(i) for i in params["id"].split(",")} if "id" in params else None
    return sorted(
        (day, track_id)
        for track_id, day in days.items()
        if start <= day <= end and (wanted is None or track_id in wanted)
    )
