"""Decision-log entries through NATS JetStream, for several serve nodes at volume.

By default a decision is answered once it is committed to the decision log (`DecisionLog`,
group commit). With `GLAZENSTAD_NATS_DECISIONS_STREAM` set, a serve node instead publishes the
entries of each call (one message per decision, or per batch call) and answers once JetStream
stored them; `glazenstad logbook writer` also drains this stream and writes the entries,
acknowledging after the commit. The decision log then trails the answers by the writers' lag:
`GET /decisions/{id}` finds a decision once a writer wrote it. Entries are idempotent on the
decision id, so a message delivered again after a writer died is stored once.

The message holds exactly the decision-log row (`decision_row`), which is what the database
would have held: the request as the engine saw it, without plain personal identifiers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Engine

from glazenstad.logbook.stream import QueueConfig
from glazenstad.logbook.stream_publish import JetStreamPublisher
from glazenstad.logbook.stream_writer import PullWriter, QueueCounts, Settlement
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.engine import Decision

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from glazenstad.settings import Settings

_log = logging.getLogger("glazenstad.rules.decision_queue")

FORMAT = 1


class QueuedDecision(msgspec.Struct, forbid_unknown_fields=True):
    """One decision-log row (the columns of `decision_log` but its id)."""

    decision_id: str
    decided_at: datetime
    organisation_id: str
    policy_version: str | None
    compiled_hash: str | None
    engine_version: str
    input_hash: str
    purpose: str
    action: str
    data_category: str
    role: str
    department: str
    effect: str
    reason: str
    rules: list[str]
    break_glass: bool
    request: dict[str, Any]


class QueuedDecisions(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    decisions: list[QueuedDecision]


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(QueuedDecisions)


def decision_queue(settings: Settings) -> QueueConfig | None:
    """The decision stream, when both NATS and a decision stream are configured."""
    queue = QueueConfig.from_settings(settings)
    if queue is None or not settings.nats_decisions_stream:
        return None
    return dataclasses.replace(
        queue,
        stream=settings.nats_decisions_stream,
        subject=settings.nats_decisions_subject,
        consumer=settings.nats_decisions_consumer,
    )


def encode(decisions: Sequence[Decision]) -> tuple[str, str, bytes]:
    """(organisation, message id, body) of one call's decisions (all of one organisation)."""
    rows = [QueuedDecision(**decision_row(d)) for d in decisions]
    organisations = {row.organisation_id for row in rows}
    if len(organisations) != 1:
        raise ValueError("one message holds the decisions of one organisation")
    digest = hashlib.sha256("\n".join(row.decision_id for row in rows).encode("ascii"))
    body = _ENCODER.encode(QueuedDecisions(format=FORMAT, decisions=rows))
    return organisations.pop(), digest.hexdigest()[:32], body


class DecisionPublisher(JetStreamPublisher):
    """A serve node's side: publish a call's decisions, return once JetStream stored them."""

    async def record(self, decisions: Sequence[Decision]) -> None:
        by_organisation: dict[str, list[Decision]] = defaultdict(list)
        for decision in decisions:
            by_organisation[decision.request.actor.organisation].append(decision)
        for group in by_organisation.values():
            organisation, message_id, body = encode(group)
            what = "the decision" if len(group) == 1 else f"{len(group)} decisions"
            await self.store(self.config.subject_for(organisation), body, message_id, what)


@dataclass
class DecisionCounts(QueueCounts):
    written: int = 0
    already_stored: int = 0


class DecisionWriter(PullWriter[DecisionCounts]):
    """Writes queued decisions into the decision log, one transaction per fetch."""

    name = "decision-writer"

    def __init__(self, config: QueueConfig, engine: Engine, *, fetch: int = 64) -> None:
        super().__init__(config, DecisionCounts(), fetch=fetch)
        self.engine = engine

    def write(self, messages: list[Msg]) -> Settlement:
        settlement = Settlement()
        rows: list[dict[str, Any]] = []
        readable: list[Msg] = []
        for message in messages:
            try:
                queued = _DECODER.decode(message.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                _log.error("terminated a message that holds no decisions: %s", exc)
                settlement.terminate.append(message)
                continue
            rows.extend(msgspec.structs.asdict(decision) for decision in queued.decisions)
            readable.append(message)
        if not rows:
            return settlement
        try:
            with self.engine.begin() as conn:
                # A redelivered message (its writer died before the ack) holds stored decisions,
                # and the same message may have been fetched twice in one go.
                written = write_decisions(conn, rows, skip_stored=True)
        except Exception:  # the database: delivered again later, logged with its cause
            _log.exception("writing %d queued decisions failed; they come again", len(rows))
            settlement.retry.extend(readable)
            return settlement
        self.counts.written += written
        self.counts.already_stored += len(rows) - written
        settlement.ack.extend(readable)
        return settlement
