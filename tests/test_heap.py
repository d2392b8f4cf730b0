"""Servers set their start-up heap aside from the cyclic collector once start-up is done."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from glazenstad.heap import freeze_startup_heap
from tests.gateway.conftest import make_gateway


@pytest.fixture
def thawed() -> Iterator[None]:
    """Nothing frozen before the test; the collector as it was after it."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_live_objects_leave_the_collected_generations(thawed: None) -> None:
    built_at_start = [{"n": n} for n in range(1000)]
    assert gc.get_freeze_count() == 0 and gc.is_tracked(built_at_start)
    freeze_startup_heap()
    assert gc.get_freeze_count() > len(built_at_start)
    assert not any(built_at_start is o for o in gc.get_objects())  # no generation holds it
    assert gc.get_threshold()[0] == 50_000


def test_the_gateway_freezes_when_its_start_up_is_done(
    thawed: None, sqlite_url: str, tmp_path: Path
) -> None:
    gateway, _ = make_gateway(sqlite_url, tmp_path, "http://127.0.0.1:9")
    frozen: list[int] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: MutableMapping[str, Any]) -> None:
        frozen.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    asyncio.run(gateway({"type": "lifespan"}, receive, send))
    assert frozen[0] > 0  # when it told the server that start-up was complete
