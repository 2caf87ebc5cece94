"""Control endpoints for tests and benchmarks: statistics, reset, and the matching truth."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

from collection_pipeline.emulator.beatport_listing import QueryError, parse_ids, parse_slice
from collection_pipeline.emulator.codecs import Slot
from collection_pipeline.emulator.malformed import QUARANTINED, record_mess
from collection_pipeline.emulator.reference_data import GENRES, GENRES_BY_ID
from collection_pipeline.emulator.replies import Reply, json_reply

if TYPE_CHECKING:
    from collection_pipeline.emulator.catalogue import BeatportCatalogue
    from collection_pipeline.emulator.config import EmulatorConfig
    from collection_pipeline.emulator.spotify_catalogue import SpotifyCatalogue
    from collection_pipeline.emulator.state import Stats

MAX_TRUTH_TRACKS = 500_000


class ControlledEmulator(Protocol):
    """What the control routes read of the emulator (app.Emulator has it all)."""

    @property
    def config(self) -> EmulatorConfig: ...
    @property
    def beatport(self) -> BeatportCatalogue: ...
    @property
    def spotify(self) -> SpotifyCatalogue: ...
    @property
    def stats(self) -> Stats: ...
    def reset(self) -> None: ...


def stats(emulator: ControlledEmulator, request: Request, fault: str | None) -> Reply:
    return json_reply(200, emulator.stats.snapshot())


def reset(emulator: ControlledEmulator, request: Request, fault: str | None) -> Reply:
    emulator.reset()
    return json_reply(200, {"reset": True})


def truth(emulator: ControlledEmulator, request: Request, fault: str | None) -> Reply:
    """Every Beatport track in the window and the Spotify id a correct matcher must choose.

    `malformed` names why a record (served broken in `messy`) must be quarantined, its
    Spotify id then being null; `quirk` names an oddity a correct pipeline processes anyway.

    "Every" is as of now: over-cap slots and the late tracks published so far are included, and
    each track is on its publish day now (`publish_date`), moves included.
    """
    params = request.query_params
    try:
        window = parse_slice("publish_date", params.get("publish_date"))
        genre_ids = parse_ids("genre_id", params.get("genre_id"))
    except QueryError as error:
        return json_reply(400, error.body)
    if window is None:
        return json_reply(400, {"publish_date": ["This filter is required (A:B)."]})
    if genre_ids is None:
        slots = [genre.slot for genre in GENRES]
    elif any(gid not in GENRES_BY_ID for gid in genre_ids):
        return json_reply(400, {"genre_id": ["Unknown genre id."]})
    else:
        slots = sorted({GENRES_BY_ID[gid].slot for gid in genre_ids})
    catalogue = emulator.beatport
    genre_slots = tuple(slots)
    extras = catalogue.overcap_extras(window.first, window.last, genre_slots)
    if window.days() * len(slots) * catalogue.tracks_per_day + len(extras) > MAX_TRUTH_TRACKS:
        return json_reply(400, {"publish_date": [f"At most {MAX_TRUTH_TRACKS} tracks at once."]})
    touched = catalogue.moves.touches(window.first, window.last, genre_slots)
    wanted: list[Slot] = []
    for offset in range(window.days()):
        day = window.first + timedelta(days=offset)
        if day in touched:
            wanted += catalogue.slots_of_day(day, genre_slots)
            continue
        wanted += [
            Slot(day, genre_slot, index)
            for genre_slot in slots
            for index in range(catalogue.block_size(day, genre_slot))
        ]
        wanted += catalogue.drift.in_window(day, day, genre_slots)
    rows = []
    mess_rate = emulator.config.effective_messy_record_rate
    for slot in wanted:
        core = catalogue.core(slot)
        mess = record_mess(catalogue.seed, core.id, mess_rate)
        malformed = mess if mess in QUARANTINED else None
        rows.append(
            {
                "beatport_id": core.id,
                "publish_date": catalogue.moves.day_of(slot).isoformat(),
                "isrc": core.isrc,
                "spotify_track_id": None if malformed else emulator.spotify.truth(core.isrc),
                "malformed": malformed,
                "quirk": None if malformed else mess,
            }
        )
    return json_reply(200, {"tracks": rows})
