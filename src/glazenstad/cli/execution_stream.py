"""Scan and sensor messages through JetStream: the MQTT bridge and the pipelines' stream feed.

`glazenstad pipeline bridge` stores what scan cars and sensors publish over MQTT in JetStream
(sealed) before the broker's message is acknowledged; `glazenstad pipeline parking|sensors
--from-jetstream` then run the pipelines from the stream, any number of them side by side. Both
need GLAZENSTAD_NATS_URL and GLAZENSTAD_NATS_EXECUTION_KEYS. See docs/parking.md, docs/sensors.md.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glazenstad.cli.common import console, fail, open_engine
from glazenstad.settings import get_settings

if TYPE_CHECKING:
    from glazenstad.execution.jetstream import Kind


def _stop_event() -> threading.Event:
    """Set on Ctrl-C or SIGTERM: the batch in hand is finished (and acknowledged) first."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _stream() -> tuple[Any, Any]:
    """(stream config, sealer) from the settings; exit 2 when either is missing or invalid."""
    from glazenstad.execution.jetstream import ExecutionStreamConfig, sealer_from_settings
    from glazenstad.execution.sealing import SealingKeyError

    settings = get_settings()
    config = ExecutionStreamConfig.from_settings(settings)
    if config is None:
        fail(
            "Set GLAZENSTAD_NATS_URL (e.g. nats://127.0.0.1:4222) to run through JetStream; "
            "without it the pipelines consume MQTT themselves.",
            2,
        )
    try:
        sealer = sealer_from_settings(settings)
    except SealingKeyError as exc:
        fail(f"GLAZENSTAD_NATS_EXECUTION_KEYS: {exc}", 2)
    return config, sealer


def bridge(
    client_id: Annotated[
        str, typer.Option(help="MQTT client id: keep it fixed, the broker keeps the session by it.")
    ] = "glazenstad-jetstream-bridge",
    topic_root: Annotated[str, typer.Option(help="First topic level.")] = "glazenstad",
    parking: Annotated[bool, typer.Option(help="Bridge scan-car scans.")] = True,
    sensors: Annotated[bool, typer.Option(help="Bridge sensor measurements.")] = True,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="MQTT messages stored per JetStream round.")
    ] = 500,
) -> None:
    """Store scan and sensor messages from MQTT in JetStream (sealed) until Ctrl-C; a message
    is acknowledged to the broker only once JetStream stored it."""
    from glazenstad.execution.jetstream import SCANS, SENSORS, run_bridge
    from glazenstad.logbook.stream import StreamUnavailable

    settings = get_settings()
    if not settings.mqtt_url:
        fail("Set GLAZENSTAD_MQTT_URL (e.g. mqtt://127.0.0.1:1883) to run the bridge.", 2)
    kinds: list[Kind] = []
    if parking:
        kinds.append(SCANS)
    if sensors:
        kinds.append(SENSORS)
    if not kinds:
        fail("--no-parking and --no-sensors together leave nothing to bridge", 2)
    config, sealer = _stream()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = _stop_event()
    console.print(
        f"Bridge {settings.mqtt_url} (topics {topic_root}/…: {', '.join(kinds)}) → "
        f"JetStream {config.stream}; Ctrl-C stops."
    )

    def progress(mqtt: Any, stats: Any) -> None:
        console.print(
            f"  received {mqtt.received:,}  stored {stats.published:,}  "
            f"already stored {stats.duplicates:,}  acknowledged {mqtt.acknowledged:,}",
            highlight=False,
        )

    try:
        stats = run_bridge(
            settings.mqtt_url,
            config,
            sealer,
            stop=stop,
            client_id=client_id,
            topic_root=topic_root,
            kinds=kinds,
            progress=progress,
            progress_every=5.0,
            batch_size=batch_size,
        )
    except StreamUnavailable as exc:
        fail(f"bridge: {exc}")
    console.print(f"Stopped: {stats.published:,} messages stored in {config.stream}.")


def run_from_stream(
    name: str, kind: Kind, topic_root: str, fetch: int, counts: Callable[[Any], str]
) -> Any:
    """Run a pipeline fed from JetStream until Ctrl-C or SIGTERM; its totals when it stops."""
    from glazenstad.execution.jetstream import run_parking_feed, run_sensor_feed
    from glazenstad.logbook.stream import StreamUnavailable

    config, sealer = _stream()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = _stop_event()
    console.print(
        f"{name} from JetStream {config.stream} as consumer {config.consumer_for(kind)} "
        f"(topics {topic_root}/…); Ctrl-C stops."
    )

    def progress(stats: Any, totals: Any) -> None:
        received = f"received {stats.received:,}  acknowledged {stats.acknowledged:,}"
        console.print(f"  {received}  {counts(totals)}", highlight=False)

    engine = open_engine()
    try:
        if kind == "scans":
            return run_parking_feed(
                config,
                sealer,
                engine,
                get_settings().pseudonymizer(),
                stop=stop,
                topic_root=topic_root,
                progress=progress,
                progress_every=5.0,
                fetch=fetch,
            )
        return run_sensor_feed(
            config,
            sealer,
            engine,
            stop=stop,
            topic_root=topic_root,
            progress=progress,
            progress_every=5.0,
            fetch=fetch,
        )
    except StreamUnavailable as exc:
        fail(f"{name}: {exc}")
    finally:
        engine.dispose()
