"""A tenth of Beatport's 10,000 `count` cap, for tests that cross it without paging 10,000 tracks.

The crawl never depends on the cap's value, only on counts compared with it, so the emulator and
the client given the same lower cap prove the same splitting on a tenth of the tracks. Both take
it from here: a client whose cap is above its listing's takes a capped count for an exact one.
The page size is scaled with the cap, so that a capped query still spans 100 pages.
"""

from __future__ import annotations

CAP = 1_000
OVERCAP_TRACKS = 1_250
"""The `overcap` profile's busy genre-day at this cap: 1.25 caps, as 12,500 at the real one."""
EMULATOR = {"count_cap": CAP}
"""`EmulatorConfig` fields (for `emulator_url(**EMULATOR, ...)`)."""
CLIENT = {"count_cap": CAP, "page_size": CAP // 100}
"""`BeatportAPIClient` arguments (also `real_service(..., **CLIENT)`)."""
