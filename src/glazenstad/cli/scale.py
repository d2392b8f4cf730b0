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
from typing import Annotated, Any

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
    """Write queued log records (and queued decisions, if configured) to the database.

    Needs GLAZENSTAD_NATS_URL. With GLAZENSTAD_NATS_DECISIONS_STREAM set it drains that stream
    into the decision log as well.
    """
    from glazenstad.logbook.store import LogStore
    from glazenstad.logbook.stream import QueueConfig, StreamUnavailable
    from glazenstad.logbook.stream_writer import LogWriter, PullWriter
    from glazenstad.register.store import RegisterStore
    from glazenstad.rules.decision_queue import DecisionWriter, decision_queue

    settings = get_settings()
    queue = QueueConfig.from_settings(settings)
    if queue is None:
        fail("GLAZENSTAD_NATS_URL is not set: without a queue, records are written in process", 2)
    decisions = decision_queue(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = open_engine()
    logbook = LogStore(engine, RegisterStore(engine), settings.pseudonymizer())

    async def main() -> None:
        log_writer = LogWriter(queue, logbook, fetch=fetch)
        workers: list[PullWriter[Any]] = [log_writer]
        decision_writer = None
        if decisions is not None:
            decision_writer = DecisionWriter(decisions, engine, fetch=fetch)
            workers.append(decision_writer)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # finish the batch in hand, then stop
            loop.add_signal_handler(sig, stop.set)
        try:
            for worker in workers:
                await worker.start()
                console.print(f"writing from {worker.config.stream} as {worker.config.consumer}")
            await asyncio.gather(*(w.run(stop, until_idle=until_idle) for w in workers))
        finally:
            for worker in workers:
                await worker.close()
        counts = log_writer.counts
        console.print(
            f"{counts.messages} batches: {counts.accepted} records written, "
            f"{counts.duplicates} already stored, {counts.rejected} refused"
        )
        if decision_writer is not None:
            written = decision_writer.counts
            console.print(
                f"{written.messages} decision messages: {written.written} decisions written, "
                f"{written.already_stored} already stored"
            )

    try:
        asyncio.run(main())
    except StreamUnavailable as exc:
        fail(f"logbook writer: {exc}")
    finally:
        engine.dispose()
