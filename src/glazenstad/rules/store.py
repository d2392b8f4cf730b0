"""Policy versions and their lifecycle (draft → active → retired), stored append-only.

Activation follows the four-eyes rule (vier-ogenprincipe): the person who saved a version cannot
also activate it. Every lifecycle step writes its audit row (`glazenstad.audit.trail`) in the
same transaction; a refused activation is recorded too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from glazenstad.audit import trail
from glazenstad.audit.four_eyes import named, same_person
from glazenstad.db.base import utcnow
from glazenstad.rules.language import Policy
from glazenstad.rules.tables import policy_event, policy_version

DRAFT, ACTIVE, RETIRED = "draft", "active", "retired"


def policy_hash(policy: Policy) -> str:
    """Content hash of a policy document (what a policy version is named by)."""
    text = json.dumps(
        policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LifecycleEvent:
    status: str
    at: datetime
    by: str
    note: str | None


@dataclass(frozen=True)
class PolicyVersion:
    id: int
    organisation_id: str
    policy_id: str
    content_hash: str
    title: str
    policy: Policy
    created_at: datetime
    created_by: str
    events: tuple[LifecycleEvent, ...]

    @property
    def status(self) -> str:
        return self.events[-1].status if self.events else DRAFT


class PolicyLifecycleError(Exception):
    """A lifecycle step that is not allowed (e.g. activating a retired version, or one's own)."""


def four_eyes_message(organisation: str, version: PolicyVersion, by: str) -> str:
    """Why `by` may not activate `version`, and what to do instead."""
    short = version.content_hash[:12]
    return (
        f"four-eyes rule (vier-ogenprincipe): '{by.strip()}' saved policy version {short} of "
        f"'{organisation}' and cannot also activate it; ask a second person: "
        f"glazenstad rules activate {organisation} {short} --by <someone else> --note <why>"
    )


class PolicyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(
        self,
        policy: Policy,
        *,
        by: str,
        source: str | None = None,
        trace_id: str | None = None,
    ) -> tuple[PolicyVersion, bool]:
        """Store `policy` as a draft version unless that exact content is already stored.

        `by` becomes the version's author, who cannot activate it later (four-eyes rule).
        """
        if not named(by):
            raise PolicyLifecycleError("by: who saves the policy version must be named")
        trail.check_trace_id(trace_id)
        digest = policy_hash(policy)
        existing = self.get(policy.organisation, digest)
        if existing is not None:
            return existing, False
        now = utcnow()
        with self.engine.begin() as conn:
            version_id = conn.execute(
                policy_version.insert().values(
                    organisation_id=policy.organisation,
                    policy_id=policy.id,
                    content_hash=digest,
                    title=policy.title,
                    document=policy.model_dump(mode="json"),
                    source=source,
                    created_at=now,
                    created_by=by.strip(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                policy_event.insert().values(
                    version_id=version_id, status=DRAFT, at=now, by=by.strip(), note="loaded"
                )
            )
            trail.record(
                conn,
                organisation_id=policy.organisation,
                actor=by,
                action=trail.POLICY_SAVED,
                subject=digest,
                reason=f"{policy.id}: {policy.title}",
                trace_id=trace_id,
                at=now,
            )
        found = self.get(policy.organisation, digest)
        assert found is not None
        return found, True

    def activate(
        self,
        organisation: str,
        content_hash: str,
        *,
        by: str,
        note: str | None = None,
        trace_id: str | None = None,
    ) -> PolicyVersion:
        """Make a version the organisation's active policy; the one before it is retired.

        `by` must be someone other than the version's author (compared without case and
        surrounding spaces); an attempt by the author is recorded as refused and raises
        PolicyLifecycleError.
        """
        if not named(by):
            raise PolicyLifecycleError("by: who activates the policy version must be named")
        trail.check_trace_id(trace_id)
        version = self._require(organisation, content_hash)
        if version.status == RETIRED:
            raise PolicyLifecycleError(
                f"version {content_hash[:12]} is retired; load it again as a new draft"
            )
        if version.status == ACTIVE:
            return version
        if same_person(version.created_by, by):
            with self.engine.begin() as conn:
                trail.record(
                    conn,
                    organisation_id=organisation,
                    actor=by,
                    action=trail.POLICY_ACTIVATION_REFUSED,
                    subject=version.content_hash,
                    reason="four-eyes rule: the author cannot activate their own version",
                    trace_id=trace_id,
                )
            raise PolicyLifecycleError(four_eyes_message(organisation, version, by))
        now = utcnow()
        with self.engine.begin() as conn:
            for other in self.versions(organisation):
                if other.status == ACTIVE and other.id != version.id:
                    replaced = f"replaced by {version.content_hash[:12]}"
                    _lifecycle(conn, other, RETIRED, by, replaced, trace_id, now)
            _lifecycle(conn, version, ACTIVE, by, note, trace_id, now)
        return self._require(organisation, content_hash)

    def retire(
        self,
        organisation: str,
        content_hash: str,
        *,
        by: str,
        note: str | None = None,
        trace_id: str | None = None,
    ) -> PolicyVersion:
        if not named(by):
            raise PolicyLifecycleError("by: who retires the policy version must be named")
        trail.check_trace_id(trace_id)
        version = self._require(organisation, content_hash)
        if version.status != RETIRED:
            with self.engine.begin() as conn:
                _lifecycle(conn, version, RETIRED, by, note, trace_id, utcnow())
        return self._require(organisation, content_hash)

    def _require(self, organisation: str, content_hash: str) -> PolicyVersion:
        version = self.get(organisation, content_hash)
        if version is None:
            raise PolicyLifecycleError(
                f"no policy version {content_hash[:12]} for organisation '{organisation}'"
            )
        return version

    def get(self, organisation: str, content_hash: str) -> PolicyVersion | None:
        """A version by its full hash or an unambiguous prefix (at least 8 characters)."""
        matches = [
            v
            for v in self.versions(organisation)
            if v.content_hash == content_hash
            or (len(content_hash) >= 8 and v.content_hash.startswith(content_hash))
        ]
        return matches[0] if len(matches) == 1 else None

    def versions(self, organisation: str | None = None) -> list[PolicyVersion]:
        query = select(policy_version).order_by(policy_version.c.id)
        if organisation is not None:
            query = query.where(policy_version.c.organisation_id == organisation)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
            events: dict[int, list[LifecycleEvent]] = {}
            if rows:
                for e in conn.execute(
                    select(policy_event)
                    .where(policy_event.c.version_id.in_([r.id for r in rows]))
                    .order_by(policy_event.c.id)
                ):
                    events.setdefault(e.version_id, []).append(
                        LifecycleEvent(e.status, e.at, e.by, e.note)
                    )
        return [
            PolicyVersion(
                id=r.id,
                organisation_id=r.organisation_id,
                policy_id=r.policy_id,
                content_hash=r.content_hash,
                title=r.title,
                policy=Policy.model_validate(r.document),
                created_at=r.created_at,
                created_by=r.created_by,
                events=tuple(events.get(r.id, [])),
            )
            for r in rows
        ]

    def active(self) -> list[PolicyVersion]:
        return [v for v in self.versions() if v.status == ACTIVE]

    def state(self) -> Any:
        """Changes whenever any version or lifecycle event is added (for cache invalidation)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(policy_event.c.id))).scalar()


_ACTIONS = {ACTIVE: trail.POLICY_ACTIVATED, RETIRED: trail.POLICY_RETIRED}


def _lifecycle(
    conn: Connection,
    version: PolicyVersion,
    status: str,
    by: str,
    note: str | None,
    trace_id: str | None,
    at: datetime,
) -> None:
    """A lifecycle step of a version and its audit row, in the caller's transaction."""
    conn.execute(
        policy_event.insert().values(
            version_id=version.id, status=status, at=at, by=by.strip(), note=note
        )
    )
    trail.record(
        conn,
        organisation_id=version.organisation_id,
        actor=by,
        action=_ACTIONS[status],
        subject=version.content_hash,
        reason=note,
        trace_id=trace_id,
        at=at,
    )
