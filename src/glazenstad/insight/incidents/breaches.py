"""Data breaches (datalekken): registration, the 72-hour deadline, decisions and their history.

A breach moves through a small workflow:

    open ──(decide: do not notify the AP)──────────────► not-notifiable ──┐
      │  ──(decide: notify, and notified at …)────────► notified ────────┼──(close)──► closed
      └─(decide: notify; notification recorded later)─► notified ───────┘

`open` means the Autoriteit Persoonsgegevens (AP) matter is not settled: nothing decided yet,
or decided to notify but not notified yet. A breach is *overdue* when it is still open after
its deadline (discovery + 72 hours, see `timing`). A not-notifiable breach may still be
changed to "notify" when new facts come in (art. 33 asks to notify as soon as it turns out to
be needed); a notified one cannot be un-notified. Closing needs both decisions: the AP's
(art. 33) and the residents' (art. 34, and when they are to be told, the moment they were).

Every change is one transaction that updates the breach and appends one history event naming
who, when, what action and each field before and after. A change names the revision it was
based on when the caller has one (a form, an API PATCH), so a change made meanwhile by someone
else is refused rather than overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Engine, Row, and_, insert, select, update

from glazenstad.db.base import utcnow
from glazenstad.insight.incidents.tables import data_breach, data_breach_event
from glazenstad.insight.incidents.timing import notification_deadline
from glazenstad.register.store import OrganisationRegister, RegisterStore

OPEN: Final = "open"
NOTIFIED: Final = "notified"
NOT_NOTIFIABLE: Final = "not-notifiable"
CLOSED: Final = "closed"
STATUSES: Final = (OPEN, NOTIFIED, NOT_NOTIFIABLE, CLOSED)
Status = Literal["open", "notified", "not-notifiable", "closed"]

REGISTERED: Final = "registered"
FACTS_CHANGED: Final = "facts-changed"
AUTHORITY_DECIDED: Final = "authority-decided"
AUTHORITY_NOTIFIED: Final = "authority-notified"
RESIDENTS_DECIDED: Final = "residents-decided"
CLOSED_ACTION: Final = "closed"

# A moment "now" on another machine's clock may run a little ahead of ours.
CLOCK_SKEW: Final = timedelta(minutes=5)
MAX_TITLE: Final = 200
MAX_TEXT: Final = 5000
MAX_REFERENCE: Final = 100
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)


class BreachError(ValueError):
    """A change cannot be made as asked.

    `message` says why in plain Dutch (the portal shows it next to the field); `field` names the
    input at fault as the API names it (`discoveredAt`, `activities[1]`), when there is one.
    `str()` gives both, for the API and the command line.
    """

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class BreachNotFound(LookupError):
    """No breach with this id in this organisation."""


class BreachConflict(RuntimeError):
    """The breach changed since the revision the caller read."""


@dataclass(frozen=True)
class Who:
    """Who makes a change: an id for the audit trail and a name for readers."""

    id: str
    name: str


@dataclass(frozen=True)
class BreachFacts:
    """What is known about a breach; the registration and later corrections carry these."""

    title: str
    description: str
    discovered_at: datetime
    occurred_from: datetime | None = None
    occurred_until: datetime | None = None
    activities: tuple[str, ...] = ()
    data_categories: tuple[str, ...] = ()
    estimated_subjects: int | None = None


@dataclass(frozen=True)
class Breach:
    id: int
    organisation_id: str
    title: str
    description: str
    discovered_at: datetime
    occurred_from: datetime | None
    occurred_until: datetime | None
    activities: tuple[str, ...]
    data_categories: tuple[str, ...]
    estimated_subjects: int | None
    status: str
    authority_notify: bool | None
    authority_reason: str | None
    authority_decided_at: datetime | None
    authority_notified_at: datetime | None
    authority_reference: str | None
    residents_notify: bool | None
    residents_reason: str | None
    residents_decided_at: datetime | None
    residents_notified_at: datetime | None
    closed_at: datetime | None
    registered_at: datetime
    registered_by: str
    updated_at: datetime
    revision: int

    @classmethod
    def from_row(cls, row: Row[Any]) -> Breach:
        values = dict(row._mapping)
        values["activities"] = tuple(values["activities"] or ())
        values["data_categories"] = tuple(values["data_categories"] or ())
        if values["estimated_subjects"] is not None:
            values["estimated_subjects"] = int(values["estimated_subjects"])
        values["id"] = int(values["id"])
        return cls(**values)

    @property
    def facts(self) -> BreachFacts:
        return BreachFacts(
            title=self.title,
            description=self.description,
            discovered_at=self.discovered_at,
            occurred_from=self.occurred_from,
            occurred_until=self.occurred_until,
            activities=self.activities,
            data_categories=self.data_categories,
            estimated_subjects=self.estimated_subjects,
        )

    @property
    def deadline(self) -> datetime:
        """The last moment to notify the AP: 72 hours after discovery (UTC)."""
        return notification_deadline(self.discovered_at)

    @property
    def authority_settled_at(self) -> datetime | None:
        """When the AP matter was settled: the notification, or the decision not to notify."""
        if self.status == OPEN:
            return None
        if self.authority_notify:
            return self.authority_notified_at
        return self.authority_decided_at

    def overdue(self, now: datetime) -> bool:
        """Still open after the deadline: not decided, or decided to notify but not notified."""
        return self.status == OPEN and now > self.deadline

    def time_left(self, now: datetime) -> timedelta:
        """Until the deadline (negative once it has passed)."""
        return self.deadline - now

    @property
    def settled_late(self) -> bool:
        """The AP matter was settled, but after the deadline (art. 33 then asks for reasons)."""
        settled = self.authority_settled_at
        return settled is not None and settled > self.deadline


@dataclass(frozen=True)
class BreachEvent:
    revision: int
    at: datetime
    by_id: str
    by_name: str
    action: str
    changes: dict[str, list[Any]]
    note: str | None


# --- validation --------------------------------------------------------------------------------


def _text(value: str, name: str, limit: int, *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise BreachError(name, "Vul dit in.")
    if len(text) > limit:
        raise BreachError(name, f"Gebruik hoogstens {limit} tekens (nu {len(text)}).")
    return text


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise BreachError(name, "Geef een tijdstip met tijdzone.")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment < LATEST:
        raise BreachError(name, "Het tijdstip moet tussen 1970 en 2100 liggen.")
    return moment


def _not_future(value: datetime | None, name: str, now: datetime) -> None:
    if value is not None and value > now + CLOCK_SKEW:
        raise BreachError(name, "Dit tijdstip ligt in de toekomst.")


def _known_ids(
    values: Sequence[str], known: Mapping[str, Any], name: str, what: str, organisation_id: str
) -> tuple[str, ...]:
    result: list[str] = []
    for index, value in enumerate(values):
        if value not in known:
            raise BreachError(
                f"{name}[{index}]",
                f"'{value}' is geen {what} in het register van {organisation_id}.",
            )
        if value not in result:
            result.append(value)
    return tuple(result)


def organisation_register(
    register_store: RegisterStore, organisation_id: str
) -> OrganisationRegister:
    register = register_store.snapshot().organisation(organisation_id)
    if register is None:
        raise BreachError(
            "organisation", f"Organisatie '{organisation_id}' staat niet in het register."
        )
    return register


def validate_facts(
    facts: BreachFacts, register: OrganisationRegister, now: datetime
) -> BreachFacts:
    """The facts cleaned up (trimmed, UTC, no duplicates), or a BreachError naming the field."""
    organisation_id = register.org.id
    discovered = _aware(facts.discovered_at, "discoveredAt")
    assert discovered is not None
    occurred_from = _aware(facts.occurred_from, "occurredFrom")
    occurred_until = _aware(facts.occurred_until, "occurredUntil")
    _not_future(discovered, "discoveredAt", now)
    _not_future(occurred_from, "occurredFrom", now)
    if occurred_from is not None and occurred_from > discovered:
        raise BreachError("occurredFrom", "Een datalek kan niet beginnen nadat het is ontdekt.")
    if occurred_from is not None and occurred_until is not None and occurred_until < occurred_from:
        raise BreachError("occurredUntil", "Het einde ligt vóór het begin.")
    if facts.estimated_subjects is not None and facts.estimated_subjects < 0:
        raise BreachError("estimatedSubjects", "Een aantal kan niet negatief zijn.")
    activities = {s.entry_id: s for s in register.entries("processing-activity")}
    categories = {s.entry_id: s for s in register.entries("data-category")}
    return BreachFacts(
        title=_text(facts.title, "title", MAX_TITLE),
        description=_text(facts.description, "description", MAX_TEXT),
        discovered_at=discovered,
        occurred_from=occurred_from,
        occurred_until=occurred_until,
        activities=_known_ids(
            facts.activities, activities, "activities", "verwerking", organisation_id
        ),
        data_categories=_known_ids(
            facts.data_categories, categories, "dataCategories", "soort gegevens", organisation_id
        ),
        estimated_subjects=facts.estimated_subjects,
    )


# --- storage -----------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [_json_value(before.get(name)), _json_value(value)]
        for name, value in after.items()
        if before.get(name) != value
    }


def _facts_values(facts: BreachFacts) -> dict[str, Any]:
    return {f.name: getattr(facts, f.name) for f in fields(BreachFacts)}


def _stored(values: Mapping[str, Any]) -> dict[str, Any]:
    """Tuples as lists for the JSON columns."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def register_breach(
    engine: Engine,
    register_store: RegisterStore,
    organisation_id: str,
    facts: BreachFacts,
    by: Who,
    *,
    now: datetime | None = None,
) -> Breach:
    """Register a new breach (status open); raises BreachError for facts that do not hold."""
    now = now or utcnow()
    clean = validate_facts(facts, organisation_register(register_store, organisation_id), now)
    values = _facts_values(clean)
    row = {
        **_stored(values),
        "organisation_id": organisation_id,
        "status": OPEN,
        "registered_at": now,
        "registered_by": by.id,
        "updated_at": now,
        "revision": 1,
    }
    with engine.begin() as conn:
        breach_id = conn.execute(
            insert(data_breach).values(**row).returning(data_breach.c.id)
        ).scalar_one()
        conn.execute(
            insert(data_breach_event).values(
                breach_id=breach_id,
                revision=1,
                at=now,
                by_id=by.id,
                by_name=by.name,
                action=REGISTERED,
                changes=_changes({}, {**values, "status": OPEN}),
                note=None,
            )
        )
        stored = conn.execute(select(data_breach).where(data_breach.c.id == breach_id)).one()
    return Breach.from_row(stored)


def get_breach(engine: Engine, organisation_id: str, breach_id: int) -> Breach | None:
    """The breach, or None when it does not exist in this organisation."""
    query = select(data_breach).where(
        data_breach.c.id == breach_id, data_breach.c.organisation_id == organisation_id
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return Breach.from_row(row) if row is not None else None


def list_breaches(
    engine: Engine, organisation_id: str, *, status: str | None = None
) -> list[Breach]:
    """The organisation's breaches, newest discovery first."""
    if status is not None and status not in STATUSES:
        raise BreachError("status", f"Kies een van: {', '.join(STATUSES)}.")
    query = select(data_breach).where(data_breach.c.organisation_id == organisation_id)
    if status is not None:
        query = query.where(data_breach.c.status == status)
    query = query.order_by(data_breach.c.discovered_at.desc(), data_breach.c.id.desc())
    with engine.connect() as conn:
        return [Breach.from_row(r) for r in conn.execute(query)]


def overdue_breaches(engine: Engine, organisation_id: str, now: datetime) -> list[Breach]:
    """Breaches still open after their 72-hour deadline at `now`, oldest first.

    For the compliance check and the dashboard: "open" means the AP was neither notified nor a
    decision not to notify recorded. Breaches settled late are not overdue (see `settled_late`).
    """
    cutoff = now.astimezone(UTC) - timedelta(hours=72)
    query = (
        select(data_breach)
        .where(
            data_breach.c.organisation_id == organisation_id,
            data_breach.c.status == OPEN,
            data_breach.c.discovered_at < cutoff,
        )
        .order_by(data_breach.c.discovered_at, data_breach.c.id)
    )
    with engine.connect() as conn:
        return [Breach.from_row(r) for r in conn.execute(query)]


def breach_history(engine: Engine, organisation_id: str, breach_id: int) -> list[BreachEvent]:
    """Every change of the breach, oldest first (empty when the breach is not this org's)."""
    e, b = data_breach_event, data_breach
    query = (
        select(e)
        .join(b, b.c.id == e.c.breach_id)
        .where(b.c.id == breach_id, b.c.organisation_id == organisation_id)
        .order_by(e.c.revision)
    )
    with engine.connect() as conn:
        return [
            BreachEvent(
                revision=r.revision,
                at=r.at,
                by_id=r.by_id,
                by_name=r.by_name,
                action=r.action,
                changes=dict(r.changes),
                note=r.note,
            )
            for r in conn.execute(query)
        ]


Change = Callable[[Breach], dict[str, Any]]


def _apply(
    engine: Engine,
    organisation_id: str,
    breach_id: int,
    by: Who,
    action: str,
    change: Change,
    *,
    note: str | None = None,
    expected_revision: int | None = None,
    now: datetime,
) -> Breach:
    """Read, let `change` compute the new values (or refuse), write them and one event.

    A closed breach refuses every change, so no `change` has to check that itself.
    """
    with engine.begin() as conn:
        row = conn.execute(
            select(data_breach).where(
                data_breach.c.id == breach_id, data_breach.c.organisation_id == organisation_id
            )
        ).first()
        if row is None:
            raise BreachNotFound(f"Er is geen datalek {breach_id} bij {organisation_id}.")
        current = Breach.from_row(row)
        if expected_revision is not None and expected_revision != current.revision:
            raise BreachConflict(
                f"Datalek {breach_id} is intussen gewijzigd (versie {current.revision}, u las "
                f"versie {expected_revision}). Bekijk het opnieuw."
            )
        _not_closed(current)
        new_values = change(current)
        before = {name: getattr(current, name) for name in new_values}
        diff = _changes(before, new_values)
        if not diff and note is None:
            return current
        revision = current.revision + 1
        written = conn.execute(
            update(data_breach)
            .where(and_(data_breach.c.id == breach_id, data_breach.c.revision == current.revision))
            .values(**_stored(new_values), updated_at=now, revision=revision)
        )
        if written.rowcount != 1:
            raise BreachConflict(f"Datalek {breach_id} is intussen gewijzigd. Bekijk het opnieuw.")
        conn.execute(
            insert(data_breach_event).values(
                breach_id=breach_id,
                revision=revision,
                at=now,
                by_id=by.id,
                by_name=by.name,
                action=action,
                changes=diff,
                note=note,
            )
        )
        stored = conn.execute(select(data_breach).where(data_breach.c.id == breach_id)).one()
    return Breach.from_row(stored)


def _not_closed(breach: Breach) -> None:
    if breach.status == CLOSED:
        raise BreachError(
            "status", f"Datalek {breach.id} is afgesloten en kan niet meer veranderen."
        )


def _moment_after_discovery(value: datetime, name: str, breach: Breach, now: datetime) -> datetime:
    moment = _aware(value, name)
    assert moment is not None
    _not_future(moment, name, now)
    if moment < breach.discovered_at:
        raise BreachError(name, "Dit tijdstip ligt vóór de ontdekking van het datalek.")
    return moment


def change_facts(
    engine: Engine,
    register_store: RegisterStore,
    organisation_id: str,
    breach_id: int,
    updates: Mapping[str, Any],
    by: Who,
    *,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Breach:
    """Correct or complete what is known (the `BreachFacts` fields named in `updates`).

    The discovery moment may be corrected too; the deadline moves with it, and the history
    shows both moments.
    """
    now = now or utcnow()
    unknown = sorted(set(updates) - {f.name for f in fields(BreachFacts)})
    if unknown:
        raise BreachError(unknown[0], "Dit is geen gegeven van een datalek.")
    register = organisation_register(register_store, organisation_id)

    def change(breach: Breach) -> dict[str, Any]:
        merged = replace(breach.facts, **dict(updates))
        clean = validate_facts(merged, register, now)
        return {name: getattr(clean, name) for name in updates}

    return _apply(
        engine,
        organisation_id,
        breach_id,
        by,
        FACTS_CHANGED,
        change,
        expected_revision=expected_revision,
        now=now,
    )


def decide_authority(
    engine: Engine,
    organisation_id: str,
    breach_id: int,
    *,
    notify: bool,
    reason: str,
    by: Who,
    notified_at: datetime | None = None,
    reference: str | None = None,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Breach:
    """Record whether the AP is to be notified (art. 33), why, and when notified if already.

    Not notifying settles the matter (status not-notifiable). Notifying settles it once the
    notification moment is known (here or later with `record_authority_notification`).
    """
    now = now or utcnow()
    reason_text = _text(reason, "reason", MAX_TEXT)
    if not notify and (notified_at is not None or reference):
        raise BreachError(
            "notifiedAt", "Zonder melding is er geen moment van melden en geen kenmerk."
        )

    def change(breach: Breach) -> dict[str, Any]:
        if breach.authority_notified_at is not None:
            raise BreachError(
                "notify",
                f"Datalek {breach.id} is al gemeld bij de AP. Dat kan niet ongedaan worden "
                "gemaakt; zet nieuwe feiten in de beschrijving.",
            )
        values: dict[str, Any] = {
            "authority_notify": notify,
            "authority_reason": reason_text,
            "authority_decided_at": now,
            "status": NOT_NOTIFIABLE if not notify else OPEN,
        }
        if not notify:
            values["authority_reference"] = None
        if notify and notified_at is not None:
            values["authority_notified_at"] = _moment_after_discovery(
                notified_at, "notifiedAt", breach, now
            )
            values["status"] = NOTIFIED
        if notify and reference is not None:
            values["authority_reference"] = (
                _text(reference, "reference", MAX_REFERENCE, required=False) or None
            )
        return values

    return _apply(
        engine,
        organisation_id,
        breach_id,
        by,
        AUTHORITY_DECIDED,
        change,
        expected_revision=expected_revision,
        now=now,
    )


def record_authority_notification(
    engine: Engine,
    organisation_id: str,
    breach_id: int,
    *,
    notified_at: datetime,
    reference: str | None,
    by: Who,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Breach:
    """Record that (and when) the AP was notified, with the AP's reference when known.

    Needs a decision to notify first. On a notified breach it corrects the moment or adds the
    reference (the history keeps what was there before).
    """
    now = now or utcnow()

    def change(breach: Breach) -> dict[str, Any]:
        if breach.authority_notify is not True:
            raise BreachError(
                "notify", "Leg eerst het besluit vast om te melden bij de AP, met de reden."
            )
        values: dict[str, Any] = {
            "authority_notified_at": _moment_after_discovery(
                notified_at, "notifiedAt", breach, now
            ),
            "status": NOTIFIED,
        }
        if reference is not None:
            values["authority_reference"] = (
                _text(reference, "reference", MAX_REFERENCE, required=False) or None
            )
        return values

    return _apply(
        engine,
        organisation_id,
        breach_id,
        by,
        AUTHORITY_NOTIFIED,
        change,
        expected_revision=expected_revision,
        now=now,
    )


def decide_residents(
    engine: Engine,
    organisation_id: str,
    breach_id: int,
    *,
    notify: bool,
    reason: str,
    by: Who,
    notified_at: datetime | None = None,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Breach:
    """Record whether the people concerned are told (art. 34), why, and when if done already."""
    now = now or utcnow()
    reason_text = _text(reason, "reason", MAX_TEXT)
    if not notify and notified_at is not None:
        raise BreachError(
            "notifiedAt",
            "Als de betrokkenen niet worden geïnformeerd, is er geen moment van informeren.",
        )

    def change(breach: Breach) -> dict[str, Any]:
        values: dict[str, Any] = {
            "residents_notify": notify,
            "residents_reason": reason_text,
            "residents_decided_at": now,
            "residents_notified_at": None,
        }
        if notified_at is not None:
            values["residents_notified_at"] = _moment_after_discovery(
                notified_at, "notifiedAt", breach, now
            )
        elif notify and breach.residents_notify:
            values["residents_notified_at"] = breach.residents_notified_at
        return values

    return _apply(
        engine,
        organisation_id,
        breach_id,
        by,
        RESIDENTS_DECIDED,
        change,
        expected_revision=expected_revision,
        now=now,
    )


def close_breach(
    engine: Engine,
    organisation_id: str,
    breach_id: int,
    *,
    by: Who,
    note: str | None = None,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Breach:
    """Close a breach whose AP matter is settled and whose residents' decision is carried out."""
    now = now or utcnow()
    note_text = _text(note or "", "note", MAX_TEXT, required=False) or None

    def change(breach: Breach) -> dict[str, Any]:
        problem = None
        if breach.status == OPEN:
            problem = (
                "het besluit over melden bij de AP ontbreekt"
                if breach.authority_notify is None
                else "de melding bij de AP is nog niet vastgelegd"
            )
        elif breach.residents_notify is None:
            problem = "het besluit over het informeren van de betrokkenen ontbreekt"
        elif breach.residents_notify and breach.residents_notified_at is None:
            problem = "vul eerst in wanneer de betrokkenen zijn geïnformeerd"
        if problem is not None:
            raise BreachError("status", f"Datalek {breach.id} kan nog niet dicht: {problem}.")
        return {"status": CLOSED, "closed_at": now}

    return _apply(
        engine,
        organisation_id,
        breach_id,
        by,
        CLOSED_ACTION,
        change,
        note=note_text,
        expected_revision=expected_revision,
        now=now,
    )


def sizing_window(
    breach: Breach, since: datetime | None = None, until: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The period to size in the logbook: as given, else the breach's own period.

    Without an end the period runs to the discovery. None when no start is known: then the
    caller has to ask for one.
    """
    start = since or breach.occurred_from
    if start is None:
        return None
    if until is not None:
        return start, until  # as asked: the sizing refuses an end before the start
    end = breach.occurred_until or breach.discovered_at
    if end <= start:  # known to one moment only: that moment's whole minute
        end = start + timedelta(minutes=1)
    return start, end


@dataclass(frozen=True)
class BreachCounts:
    """Figures for the dashboard and the council report."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    settled_late: int = 0
    notified: int = 0


def breach_counts(
    engine: Engine,
    organisation_id: str,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> BreachCounts:
    """Counts of the breaches discovered in [since, until) (all when not given), as of `now`."""
    query = select(data_breach).where(data_breach.c.organisation_id == organisation_id)
    if since is not None:
        query = query.where(data_breach.c.discovered_at >= since)
    if until is not None:
        query = query.where(data_breach.c.discovered_at < until)
    with engine.connect() as conn:
        breaches = [Breach.from_row(r) for r in conn.execute(query)]
    by_status = {s: 0 for s in STATUSES}
    for breach in breaches:
        by_status[breach.status] += 1
    return BreachCounts(
        total=len(breaches),
        by_status=by_status,
        overdue=sum(b.overdue(now) for b in breaches),
        settled_late=sum(b.settled_late for b in breaches),
        notified=sum(b.authority_notified_at is not None for b in breaches),
    )
