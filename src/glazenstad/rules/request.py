"""A decision request: who wants to do what with which data, for which registered purpose, now.

These are plain slotted dataclasses, not pydantic models: an application builds one per data
access, and the engine reads a handful of attributes from it, so construction and attribute
access must cost next to nothing. The API layer validates JSON into these.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class Actor:
    role: str
    department: str
    organisation: str
    case_assignments: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True, frozen=True)
class Resource:
    data_category: str
    dataset: str | None = None
    subject: str | None = None
    """Pseudonym of the data subject, never a BSN or plate in plain text."""
    case_id: str | None = None
    linked_dataset: str | None = None
    """For action `link`: the dataset that `dataset` is to be combined with."""


@dataclass(slots=True, frozen=True)
class Context:
    time: float | None = None
    """Moment of the access, seconds since the epoch (UTC); None means now."""
    channel: str | None = None
    consent: frozenset[str] = field(default_factory=frozenset)
    """Purposes (activity ids) for which the data subject's consent is recorded."""
    justification: str | None = None
    """Written emergency justification (break-the-glass)."""


EMPTY_CONTEXT = Context()


@dataclass(slots=True, frozen=True)
class DecisionRequest:
    actor: Actor
    action: str
    resource: Resource
    purpose: str
    """Processing activity id (or its URI)."""
    context: Context = EMPTY_CONTEXT

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready form with a fixed key order and sorted sets (for hashing and storage)."""
        return {
            "actor": {
                "role": self.actor.role,
                "department": self.actor.department,
                "organisation": self.actor.organisation,
                "caseAssignments": sorted(self.actor.case_assignments),
            },
            "action": self.action,
            "resource": {
                "dataCategory": self.resource.data_category,
                "dataset": self.resource.dataset,
                "subject": self.resource.subject,
                "caseId": self.resource.case_id,
                "linkedDataset": self.resource.linked_dataset,
            },
            "purpose": self.purpose,
            "context": {
                "time": self.context.time,
                "channel": self.context.channel,
                "consent": sorted(self.context.consent),
                "justification": self.context.justification,
            },
        }

    def input_hash(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> DecisionRequest:
        """The inverse of `canonical` (used when replaying stored requests)."""
        actor, resource, context = data["actor"], data["resource"], data["context"]
        return cls(
            actor=Actor(
                role=actor["role"],
                department=actor["department"],
                organisation=actor["organisation"],
                case_assignments=frozenset(actor.get("caseAssignments") or ()),
            ),
            action=data["action"],
            resource=Resource(
                data_category=resource["dataCategory"],
                dataset=resource.get("dataset"),
                subject=resource.get("subject"),
                case_id=resource.get("caseId"),
                linked_dataset=resource.get("linkedDataset"),
            ),
            purpose=data["purpose"],
            context=Context(
                time=context.get("time"),
                channel=context.get("channel"),
                consent=frozenset(context.get("consent") or ()),
                justification=context.get("justification"),
            ),
        )
