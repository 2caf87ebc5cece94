"""How a Beatport crawl spends its waves of requests, against a fake API that can hold requests.

Each test holds one kind of request until another has arrived (or the consumer has been handed
a page): the crawl passes only if it already has that other request on its way, so what is
pinned is the order of the client's work, never a duration. A hold that is never released ends
after GATE_S and is recorded, which fails the test instead of hanging it.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy
from collection_pipeline.clients.beatport import BeatportAPIClient as Client
from collection_pipeline_tests.support.beatport_listing import listed as listed_tracks

DAY = date(2024, 5, 1)
FAST = HttpPolicy(backoff_base=0.001, backoff_max=0.002, max_attempts=2)
GATE_S = 5.0


class HoldingBeatport:
    """One genre, `per_day` tracks a day over `days` days, listed by (publish_date, id); honours
    the `id` filter; a page past the last answers 404 as DRF does.

    Requests are named `page N`, `count` (a one-track page without `id`) and `confirm` (with
    `id`). `hold(name, until)` keeps every request of that name waiting until the event is set;
    `arrived(name)` and `answered(name)` are events set when the first such request arrives and
    is answered. `on_page(number, tracks)` runs before a page is listed, and may publish.
    """

    def __init__(
        self,
        per_day: int,
        days: int,
        on_page: Callable[[int, dict[int, str]], None] | None = None,
    ) -> None:
        self.days = {
            n * 100_000 + k: (DAY + timedelta(n)).isoformat()
            for n in range(days)
            for k in range(per_day)
        }
        self.on_page = on_page
        self.log: list[str] = []
        self.timed_out: list[str] = []
        self._holds: dict[str, threading.Event] = {}
        self._arrived: dict[str, threading.Event] = {}
        self._answered: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def hold(self, name: str, until: threading.Event) -> None:
        self._holds[name] = until

    def arrived(self, name: str) -> threading.Event:
        return self._arrived.setdefault(name, threading.Event())

    def answered(self, name: str) -> threading.Event:
        return self._answered.setdefault(name, threading.Event())

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        page, per_page = int(params["page"]), int(params["per_page"])
        name = f"page {page}" if per_page > 1 else "confirm" if "id" in params else "count"
        with self._lock:
            self.log.append(name)
            self.arrived(name).set()
            gate = self._holds.get(name)
        if gate is not None and not gate.wait(GATE_S):
            self.timed_out.append(name)
        with self._lock:
            if per_page > 1 and self.on_page is not None:
                self.on_page(page, self.days)
            listed = listed_tracks(self.days, params)
        pages = max(1, math.ceil(len(listed) / per_page))
        if page > pages:
            response = httpx.Response(404, json={"detail": "Invalid page."})
        else:
            rows = listed[(page - 1) * per_page : page * per_page]
            body: dict[str, Any] = {
                "results": [{"id": i, "genre": {"id": 5}, "publish_date": d} for d, i in rows],
                "next": None,
                "previous": None,
                "count": len(listed),
                "page": f"{page}/{pages}",
                "per_page": per_page,
            }
            response = httpx.Response(200, json=body)
        self.answered(name).set()
        return response


def client_for(fake: HoldingBeatport, concurrency: int = 4) -> BeatportAPIClient:
    return BeatportAPIClient(
        "https://api.test/v4",
        "token",
        max_concurrency=concurrency,
        policy=FAST,
        transport=httpx.MockTransport(fake),
    )


def test_a_slot_free_before_page_one_answers_takes_the_next_page() -> None:
    """Pages past the first pool's are queued with page 1, so a slot that answers first does
    not idle until page 1's count is read (it used to: page 5 went out only after page 1)."""
    fake = HoldingBeatport(per_day=100, days=10)  # 10 pages
    fake.hold("page 1", until=fake.arrived("page 5"))
    with client_for(fake) as client:
        crawl = client.crawl([5], DAY, DAY + timedelta(9))
        numbers = sorted(page.number for page in crawl)
    assert fake.timed_out == []
    assert numbers == list(range(1, 11))
    assert crawl.complete


def test_pages_are_passed_on_as_they_arrive() -> None:
    """A slow page does not keep the ones behind it waiting: page 3 is passed on while page 2
    is still on its way (in request order, the crawl waited on page 2 and only then went
    through the rest at once, just before its next round)."""
    fake = HoldingBeatport(per_day=100, days=5)  # 5 pages, all requested with page 1
    page_three_passed_on = threading.Event()
    fake.hold("page 2", until=page_three_passed_on)
    with client_for(fake) as client:
        crawl = client.crawl([5], DAY, DAY + timedelta(4))
        numbers = []
        for page in crawl:
            numbers.append(page.number)
            if page.number == 3:
                page_three_passed_on.set()
    assert fake.timed_out == []
    assert numbers[0] == 1
    assert numbers.index(3) < numbers.index(2)
    assert sorted(numbers) == [1, 2, 3, 4, 5]
    assert crawl.complete


def test_the_final_round_sends_the_counts_with_the_confirmation() -> None:
    """After the last page, the count re-reads and the per-day confirmation go out in one wave
    (both observe the catalogue after the last page); the counts used to be answered first.

    11,000 tracks over 10 days reach the cap, so the window is read as two halves of 5,500; a
    crawl that saw nothing change then re-reads both counts and confirms each day (6 chunks of
    ids a day) at once, and the counts are held until a confirmation has arrived.
    """
    fake = HoldingBeatport(per_day=1100, days=10)
    fake.hold("count", until=fake.arrived("confirm"))
    with client_for(fake, concurrency=8) as client:
        crawl = client.crawl([5], DAY, DAY + timedelta(9))
        ids = {track["id"] for page in crawl for track in page.tracks}
        requests = client.stats.snapshot().requests
    assert fake.timed_out == []
    assert len(ids) == 11_000
    assert crawl.complete
    assert [o.query.label for o in crawl.outcomes] == [
        "genre 5 2024-05-01:2024-05-05",
        "genre 5 2024-05-06:2024-05-10",
    ]
    pages = [name for name in fake.log if name.startswith("page")]
    assert fake.log[: len(pages)] == pages  # every page before any count or confirmation
    rounds = fake.log[len(pages) :]
    assert sorted(rounds) == ["confirm"] * 60 + ["count"] * 2  # one round, then done
    assert requests == len(pages) + 62


def test_a_page_passed_on_is_let_go_before_the_leaf_ends() -> None:
    """Each decoded page is released once passed on: a list of the leaf's futures used to keep
    every page of it alive until its last one (some 100 MB for a 100-page leaf)."""
    envelopes: dict[int, weakref.ref[Any]] = {}
    parse = Client._parse

    def remembering(body: Any, url: str, params: Any) -> Any:
        envelope = parse(body, url, params)
        if int(params["per_page"]) > 1:
            envelopes[envelope.number] = weakref.ref(envelope)
        return envelope

    fake = HoldingBeatport(per_day=100, days=8)  # 8 pages
    with client_for(fake, concurrency=2) as client:
        client._parse = remembering  # type: ignore[method-assign]
        crawl = client.crawl([5], DAY, DAY + timedelta(7))
        passed_on: list[int] = []
        alive_at_the_last: list[int] = []
        for page in crawl:
            passed_on.append(page.number)
            if len(passed_on) == 8:
                alive_at_the_last = [n for n in passed_on[:-1] if envelopes[n]() is not None]
            del page
    assert sorted(passed_on) == list(range(1, 9))
    # page 1, the read that planned the leaf, is all that is kept to its end
    assert alive_at_the_last == [1], (alive_at_the_last, passed_on)
    assert crawl.complete
