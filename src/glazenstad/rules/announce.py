"""Policy and register changes announced on NATS, so that every serve node applies them at once.

Each serve node compiles the active policies against the register in force and asks the
database whether either changed at most once per `rules_refresh_seconds` (`RulesService`). With
several nodes behind one address, a policy activated by `glazenstad rules activate` (or a
register load approved) would otherwise reach each node only at its next check. With
`GLAZENSTAD_NATS_URL` set, the command that made the change publishes one small message on
`<nats_events_subject>.rules` after its transaction committed; every node subscribes and
recompiles straight away. Core NATS is enough: a node that misses a message (it was
reconnecting) still finds the change at its next periodic check, so the message only makes it
sooner, never decides whether it happens. The message names what changed, never who or why;
the audit trail keeps that.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from glazenstad.logbook.stream import QueueConfig
    from glazenstad.settings import Settings

_log = logging.getLogger("glazenstad.rules.announce")

POLICY_ACTIVATED = "policy.activated"
POLICY_RETIRED = "policy.retired"
REGISTER_APPROVED = "register.approved"


def subject(settings: Settings) -> str:
    return f"{settings.nats_events_subject}.rules"


def _config(settings: Settings) -> QueueConfig | None:
    # Imported here: the commands that announce should not pay for the NATS client otherwise.
    from glazenstad.logbook.stream import QueueConfig

    return QueueConfig.from_settings(settings)


def _failures() -> tuple[type[BaseException], ...]:
    import nats

    from glazenstad.logbook.stream import StreamUnavailable

    return (StreamUnavailable, nats.errors.Error, OSError, TimeoutError)


def announce(settings: Settings, change: str, organisations: Iterable[str]) -> bool:
    """Tell every serve node that `change` happened to `organisations`; False if it could not.

    Called after the change committed. A failure is logged, not raised: the change is in force
    regardless, and nodes pick it up at their next periodic check.
    """
    config = _config(settings)
    if config is None:
        return False
    payload = json.dumps({"change": change, "organisations": sorted(set(organisations))})

    from glazenstad.logbook.stream import connect

    async def publish() -> None:
        client = await connect(config, name="glazenstad-announce")
        try:
            await client.publish(subject(settings), payload.encode("utf-8"))
            await client.flush(timeout=max(1, int(config.connect_timeout)))
        finally:
            await client.close()

    try:
        asyncio.run(publish())
    except _failures() as exc:
        _log.warning(
            "could not announce %s on NATS (%s); serve nodes apply it at their next check",
            change,
            exc,
        )
        return False
    return True


class ChangeListener:
    """A serve node's subscription: calls `on_change` (off the event loop) for every message.

    `on_change` recompiles, which reads the database: it runs in a worker thread so requests
    are not held up, and messages arriving meanwhile are folded into one more run.
    """

    def __init__(self, settings: Settings, on_change: Callable[[], None]) -> None:
        self.settings = settings
        self.on_change = on_change
        self._client: Client | None = None
        self._pending: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Subscribe; False (logged) when no NATS server answers: periodic checks remain."""
        config = _config(self.settings)
        if config is None:
            return False
        from glazenstad.logbook.stream import connect

        try:
            self._client = await connect(config, name="glazenstad-rules-listener")
            await self._client.subscribe(subject(self.settings), cb=self._received)
            await self._client.flush(timeout=max(1, int(config.connect_timeout)))
        except _failures() as exc:
            _log.warning("not listening for rule changes on NATS (%s): periodic checks only", exc)
            await self.close()
            return False
        self._pending = asyncio.Event()
        self._worker = asyncio.create_task(self._apply())
        return True

    async def _received(self, message: Msg) -> None:
        try:
            change = json.loads(message.data).get("change", "?")
        except (ValueError, AttributeError):
            change = "?"
        _log.info("rules changed elsewhere (%s): recompiling", change)
        if self._pending is not None:
            self._pending.set()

    async def _apply(self) -> None:
        assert self._pending is not None
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                await asyncio.to_thread(self.on_change)
            except Exception:  # a failed recompile must not end the subscription
                _log.exception("recompiling after a rule change failed; the next check retries")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        if self._client is not None and not self._client.is_closed:
            await self._client.close()
        self._client = None
