"""Sizing a breach from the logbook: how many data subjects did activity X process from T1 to T2?

The logbook holds one record per action with the data subject as a keyed pseudonym, so the
answer is a count of distinct pseudonyms in the records of the activity whose action started in
[since, until). Only counts leave this module: never an identifier and never a pseudonym (its
prefix names the key, and a list of pseudonyms is still a list of people).

What the count means, and where it is not exact:

- A person counts once per activity and once in the total, however often they were processed.
- Records without a data subject count as records, not as people.
- Different kinds of identifier (BSN, licence plate) are different data subjects: the pseudonym
  includes the identifier type. The answer shows the split per type.
- A pseudonym key rotation inside the period makes the same person count once per key (the
  pseudonyms are unrelated by design). The answer says when the period spans more than one key
  (`several_keys`), so the reader knows the count is an upper bound.
- Records already removed after their retention are no longer counted.

The query uses the index `ix_log_record_activity` (organisation, activity, start time) that the
read extension uses too: it reads only the records of the named activities in the period. A
covering index with the pseudonym would save the table lookups, but it would slow down every
log write for a question that is asked once per incident; see docs/incidents.md for figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Connection, Engine, distinct, func, select

from glazenstad.logbook.record import EPOCH
from glazenstad.logbook.tables import log_record
from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.register.tables import register_entry_version

MAX_SPAN: Final = timedelta(days=3 * 366)
_ONE_MS = timedelta(milliseconds=1)
NO_TYPE: Final = "(geen type)"


class SizingError(ValueError):
    """The question cannot be answered as asked: `message` in plain Dutch, `field` the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ActivitySize:
    activity_id: str
    # The activity's URIs as log records name them (one, unless the URI changed over time).
    uris: tuple[str, ...]
    records: int
    data_subjects: int
    # Distinct data subjects per identifier type (BSN, kenteken, …).
    by_id_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BreachSizing:
    organisation_id: str
    since: datetime
    until: datetime
    activities: tuple[ActivitySize, ...]
    records: int
    # Distinct data subjects over all the activities (a person in two activities counts once).
    data_subjects: int
    # The period spans more than one pseudonym key: the counts are an upper bound.
    several_keys: bool


def _ceil_ms(moment: datetime) -> int:
    whole, rest = divmod(moment - EPOCH, _ONE_MS)
    return int(whole) + (1 if rest else 0)


def activity_uris(
    engine: Engine, organisation_id: str, activity_ids: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """The URIs each activity id has had in the organisation's register (any version)."""
    v = register_entry_version
    query = (
        select(v.c.entry_id, v.c.uri)
        .where(
            v.c.organisation_id == organisation_id,
            v.c.kind == KIND_ACTIVITY,
            v.c.entry_id.in_(list(activity_ids)),
        )
        .distinct()
        .order_by(v.c.entry_id, v.c.uri)
    )
    found: dict[str, list[str]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(query):
            found[row.entry_id].append(row.uri)
    return {k: tuple(v) for k, v in found.items()}


def _key_id(pseudonym: str | None) -> str | None:
    return pseudonym.split(":", 1)[0] if pseudonym else None


def affected_data_subjects(
    engine: Engine,
    organisation_id: str,
    activity_ids: Sequence[str],
    since: datetime,
    until: datetime,
) -> BreachSizing:
    """Distinct data subjects per activity and in total, for actions started in [since, until).

    `activity_ids` are ids of processing activities that are or were in the organisation's
    register; raises SizingError for an unknown id, an empty list or a bad period.
    """
    if not activity_ids:
        raise SizingError("activity", "Noem minstens één verwerking.")
    if since.tzinfo is None or until.tzinfo is None:
        raise SizingError("from", "Geef tijdstippen met tijdzone.")
    if until <= since:
        raise SizingError("until", "Het einde moet na het begin liggen.")
    if until - since > MAX_SPAN:
        raise SizingError("until", "De periode mag hoogstens drie jaar zijn.")
    ids = list(dict.fromkeys(activity_ids))
    uris_of = activity_uris(engine, organisation_id, ids)
    for index, activity_id in enumerate(ids):
        if activity_id not in uris_of:
            raise SizingError(
                f"activity[{index}]",
                f"'{activity_id}' is geen verwerking in het register van {organisation_id}.",
            )
    activity_of = {uri: a for a, uris in uris_of.items() for uri in uris}
    low, high = _ceil_ms(since), _ceil_ms(until)
    t = log_record
    per_group = (
        select(
            t.c.processing_activity_id,
            t.c.data_subject_id_type,
            func.count().label("records"),
            func.count(distinct(t.c.data_subject_pseudonym)).label("subjects"),
            func.min(t.c.data_subject_pseudonym).label("first"),
            func.max(t.c.data_subject_pseudonym).label("last"),
        )
        .where(*_window(organisation_id, sorted(activity_of), low, high))
        .group_by(t.c.processing_activity_id, t.c.data_subject_id_type)
    )
    records: dict[str, int] = defaultdict(int)
    subjects: dict[str, int] = defaultdict(int)
    by_type: dict[str, dict[str, int]] = defaultdict(dict)
    keys: set[str] = set()
    with engine.connect() as conn:
        for row in conn.execute(per_group):
            activity_id = activity_of[row.processing_activity_id]
            records[activity_id] += int(row.records)
            count = int(row.subjects)
            if count:
                # Identifier types never share a pseudonym, so their counts add up.
                subjects[activity_id] += count
                kind = row.data_subject_id_type or NO_TYPE
                by_type[activity_id][kind] = by_type[activity_id].get(kind, 0) + count
            # The pseudonyms of one key share the prefix "<kid>:" and so sort together: when
            # the smallest and the largest of a group have the same key, all of them do.
            keys.update(k for k in (_key_id(row.first), _key_id(row.last)) if k)
        for activity_id in ids:
            # An activity whose URI changed: the same person may be under both URIs.
            if len(uris_of[activity_id]) > 1 and subjects[activity_id]:
                subjects[activity_id] = _distinct(
                    conn, _window(organisation_id, uris_of[activity_id], low, high)
                )
        if len(ids) == 1:
            total = subjects[ids[0]]
        else:
            total = _distinct(conn, _window(organisation_id, sorted(activity_of), low, high))
    sizes = tuple(
        ActivitySize(
            activity_id=a,
            uris=uris_of[a],
            records=records[a],
            data_subjects=subjects[a],
            by_id_type=dict(sorted(by_type[a].items())),
        )
        for a in ids
    )
    return BreachSizing(
        organisation_id=organisation_id,
        since=since,
        until=until,
        activities=sizes,
        records=sum(records.values()),
        data_subjects=total,
        several_keys=len(keys) > 1,
    )


def _window(
    organisation_id: str, uris: Sequence[str], low_ms: int, high_ms: int
) -> list[ColumnElement[bool]]:
    """Records of these activity URIs whose action started in [low_ms, high_ms)."""
    t = log_record
    return [
        t.c.organisation_id == organisation_id,
        t.c.processing_activity_id.in_(list(uris)),
        t.c.start_time_ms >= low_ms,
        t.c.start_time_ms < high_ms,
    ]


def _distinct(conn: Connection, conditions: Sequence[ColumnElement[bool]]) -> int:
    t = log_record
    query = select(func.count(distinct(t.c.data_subject_pseudonym))).where(*conditions)
    return int(conn.execute(query).scalar_one())
