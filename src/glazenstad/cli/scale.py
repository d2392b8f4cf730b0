"""Scale-out commands: the logbook writer that drains the JetStream ingest queue.

Front nodes (`glazenstad serve` with GLAZENSTAD_NATS_URL) queue log record batches; any number
of `glazenstad logbook writer` processes, on any machines, write them to the database. A writer
holds no state of its own: stopping one (or killing it) leaves its unacknowledged batches to
the others. See docs/scaling.md.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from glazenstad.cli.common import console, fail, open_engine
from glazenstad.settings import get_settings


def writer(
    fetch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Queued batches fetched and written at once.")
    ] = 64,
    until_idle: Annotated[
        bool,
        typer.Option(help="Stop when the queue is empty instead of waiting for more."),
    ] = False,
) -> None:
    """Write queued log records to the logbook (needs GLAZENSTAD_NATS_URL)."""
    from glazenstad.logbook.store import LogStore
    from glazenstad.logbook.stream import QueueConfig, StreamUnavailable
    from glazenstad.logbook.stream_writer import LogWriter
    from glazenstad.register.store import RegisterStore

    settings = get_settings()
    queue = QueueConfig.from_settings(settings)
    if queue is None:
        fail("GLAZENSTAD_NATS_URL is not set: without a queue, records are written in process", 2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = open_engine()
    logbook = LogStore(engine, RegisterStore(engine), settings.pseudonymizer())

    async def main() -> None:
        worker = LogWriter(queue, logbook, fetch=fetch)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # finish the batch in hand, then stop
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        console.print(f"writing from {queue.stream} as consumer {queue.consumer}")
        try:
            counts = await worker.run(stop, until_idle=until_idle)
        finally:
            await worker.close()
        console.print(
            f"{counts.messages} batches: {counts.accepted} records written, "
            f"{counts.duplicates} already stored, {counts.rejected} refused"
        )

    try:
        asyncio.run(main())
    except StreamUnavailable as exc:
        fail(f"logbook writer: {exc}")
    finally:
        engine.dispose()
