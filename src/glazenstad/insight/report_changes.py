"""What changed in the register and in the data-use rules during a period.

The register keeps every version of every entry with the moment it was recorded, and a removal
as a tombstone version; the rules keep every policy version with its lifecycle events. So "what
changed in the third quarter" is a comparison of two moments, not a diff of files someone kept:
the register as it stood at the start of the period against the register at its end. An entry
that changed three times in the quarter is one line ("changed, 3 versions"); one that changed
and was changed back is no line at all, because the council asks what is different now.

Only what the council is accountable for is listed: processing activities, algorithms and
sensors (data categories and datasets change with them and are shown on their pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Engine, select

from glazenstad.register.model import KIND_ACTIVITY, KIND_ALGORITHM, KIND_SENSOR
from glazenstad.register.tables import register_entry_version
from glazenstad.rules.store import ACTIVE, RETIRED, PolicyStore, PolicyVersion

ChangeKind = Literal["added", "changed", "ended", "removed"]

REPORTED_KINDS: Final = (KIND_ACTIVITY, KIND_ALGORITHM, KIND_SENSOR)

CHANGE_LABELS: Final[dict[str, str]] = {
    "added": "Nieuw",
    "changed": "Gewijzigd",
    "ended": "Beëindigd",
    "removed": "Uit het register gehaald",
}

KIND_LABELS: Final[dict[str, str]] = {
    KIND_ACTIVITY: "Verwerkingen",
    KIND_ALGORITHM: "Algoritmes",
    KIND_SENSOR: "Sensoren",
}

# Register fields in words a council member knows; any other field is shown by its own name.
FIELD_LABELS: Final[dict[str, str]] = {
    "name": "naam",
    "description": "beschrijving",
    "description_short": "korte beschrijving",
    "theme": "thema",
    "purposes": "doelen",
    "purpose": "doel",
    "legal_basis": "wettelijke grondslag",
    "lawful_basis": "wettelijke grondslag",
    "lawful_basis_grouping": "wettelijke grondslag",
    "data_subject_categories": "over wie",
    "data_categories": "soorten gegevens",
    "datasets": "gegevensbronnen",
    "recipients": "ontvangers",
    "processors": "verwerkers",
    "third_country_transfers": "doorgifte buiten Europa",
    "retention": "bewaartermijnen",
    "retention_months": "bewaartermijn",
    "security_measures": "beveiliging",
    "confidentiality": "vertrouwelijkheid",
    "dpia": "DPIA",
    "impacttoetsen": "impacttoetsen",
    "impacttoetsen_grouping": "impacttoetsen",
    "roles": "rollen",
    "departments": "afdelingen",
    "owner": "eigenaar",
    "status": "status",
    "automated_decision_making": "geautomatiseerde besluiten",
    "data_source": "bron van de gegevens",
    "source_data": "brongegevens",
    "source_data_grouping": "brongegevens",
    "goal": "doel",
    "proportionality": "proportionaliteit",
    "human_intervention": "menselijke tussenkomst",
    "risks": "risico's",
    "methods_and_models": "methoden en modellen",
    "provider": "leverancier",
    "category": "thema",
    "type": "soort",
    "latitude": "plaats",
    "longitude": "plaats",
    "valid_until": "einddatum",
    "personal_data": "persoonsgegevens",
    "mobile": "mobiel",
    "measures": "wat de sensor meet",
    "activities": "verwerkingen",
    "contact_email": "contact",
    "website": "website",
    "url": "website",
}


def field_label(key: str) -> str:
    return FIELD_LABELS.get(key, key.replace("_", " "))


@dataclass(frozen=True)
class RegisterChange:
    """One entry that is different at the end of the period than at its start."""

    kind: str
    entry_id: str
    name: str
    change: ChangeKind
    changed_at: datetime
    """When the last version within the period was recorded (UTC)."""
    versions: int
    """Versions recorded within the period."""
    fields: tuple[str, ...]
    """Changed fields, in words (only for "changed" and "ended")."""

    @property
    def label(self) -> str:
        return CHANGE_LABELS[self.change]


@dataclass(frozen=True)
class PolicyActivation:
    """A version of the data-use rules that took effect within the period."""

    policy_id: str
    title: str
    content_hash: str
    activated_at: datetime
    activated_by: str
    note: str | None
    replaced: str | None
    """The short hash of the version it replaced (None: the first active version)."""
    rules: int
    still_active: bool
    rules_added: tuple[str, ...] = ()
    """Titles of rules that the replaced version did not have."""
    rules_changed: tuple[str, ...] = ()
    rules_removed: tuple[str, ...] = ()


def _ended(kind: str, document: dict[str, Any], until: datetime) -> bool:
    """Whether the entry says of itself that it is no longer in use."""
    if kind == KIND_ACTIVITY:
        return document.get("status") == "beeindigd"
    if kind == KIND_ALGORITHM:
        return document.get("status") == "Buiten gebruik"
    if kind == KIND_SENSOR:
        valid_until = document.get("valid_until")
        return bool(valid_until) and str(valid_until) < until.date().isoformat()
    return False


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    keys = sorted(set(before) | set(after))
    labels: list[str] = []
    for key in keys:
        if key in ("kind", "id"):
            continue
        if before.get(key) != after.get(key):
            label = field_label(key)
            if label not in labels:
                labels.append(label)
    return tuple(labels)


def register_changes(
    engine: Engine, organisation_id: str, start: datetime, end: datetime
) -> list[RegisterChange]:
    """Activities, algorithms and sensors that differ between `start` and `end`, by kind then
    name. Reads only the versions recorded before `end` of entries that have one in the period."""
    v = register_entry_version
    touched = (
        select(v.c.kind, v.c.entry_id)
        .where(
            v.c.organisation_id == organisation_id,
            v.c.kind.in_(REPORTED_KINDS),
            v.c.recorded_at >= start,
            v.c.recorded_at < end,
        )
        .distinct()
        .subquery()
    )
    query = (
        select(
            v.c.kind,
            v.c.entry_id,
            v.c.version,
            v.c.recorded_at,
            v.c.content_hash,
            v.c.removed,
            v.c.name,
            v.c.document,
        )
        .join(touched, (v.c.kind == touched.c.kind) & (v.c.entry_id == touched.c.entry_id))
        .where(v.c.organisation_id == organisation_id, v.c.recorded_at < end)
        .order_by(v.c.kind, v.c.entry_id, v.c.version)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    histories: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        histories.setdefault((row.kind, row.entry_id), []).append(row)
    changes: list[RegisterChange] = []
    for (kind, entry_id), versions in histories.items():
        before = next((r for r in reversed(versions) if r.recorded_at < start), None)
        within = [r for r in versions if r.recorded_at >= start]
        after = within[-1]
        existed = before is not None and not before.removed
        exists = not after.removed
        if existed and exists and before is not None and before.content_hash == after.content_hash:
            continue  # changed and changed back: nothing is different now
        if not existed and not exists:
            continue  # added and removed within the period, or a second removal
        name = after.name if exists or before is None else before.name
        change: ChangeKind
        fields: tuple[str, ...] = ()
        if not existed:
            change = "added"
        elif not exists:
            change = "removed"
        else:
            assert before is not None
            fields = _changed_fields(before.document, after.document)
            was_ended = _ended(kind, before.document, start)
            change = "ended" if _ended(kind, after.document, end) and not was_ended else "changed"
        changes.append(
            RegisterChange(
                kind=kind,
                entry_id=entry_id,
                name=name,
                change=change,
                changed_at=after.recorded_at,
                versions=len(within),
                fields=fields,
            )
        )
    order = {kind: n for n, kind in enumerate(REPORTED_KINDS)}
    changes.sort(key=lambda c: (order[c.kind], c.name.casefold(), c.entry_id))
    return changes


def policy_activations(
    engine: Engine, organisation_id: str, start: datetime, end: datetime
) -> list[PolicyActivation]:
    """Policy versions activated within [start, end), in the order they took effect, each with
    the rules it added, changed and removed compared with the version it replaced."""
    versions = PolicyStore(engine).versions(organisation_id)
    found: list[PolicyActivation] = []
    for version in versions:
        for event in version.events:
            if event.status != ACTIVE or not start <= event.at < end:
                continue
            replaced = _replaced(versions, version, event.at)
            added, changed, removed = _rule_changes(replaced, version)
            found.append(
                PolicyActivation(
                    policy_id=version.policy_id,
                    title=version.title,
                    content_hash=version.content_hash,
                    activated_at=event.at,
                    activated_by=event.by,
                    note=event.note,
                    replaced=replaced.content_hash[:12] if replaced else None,
                    rules=len(version.policy.rules),
                    still_active=version.status == ACTIVE,
                    rules_added=added,
                    rules_changed=changed,
                    rules_removed=removed,
                )
            )
    found.sort(key=lambda a: a.activated_at)
    return found


def _replaced(
    versions: list[PolicyVersion], version: PolicyVersion, at: datetime
) -> PolicyVersion | None:
    """The version retired when `version` was activated: activation retires the active one in
    the same transaction, with the same timestamp."""
    for other in versions:
        if other.id == version.id:
            continue
        if any(e.status == RETIRED and e.at == at for e in other.events):
            return other
    return None


def _rule_changes(
    old: PolicyVersion | None, new: PolicyVersion
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Titles of the rules added, changed and removed from `old` to `new` (all added without
    an old version)."""
    before = {r.id: r for r in old.policy.rules} if old else {}
    after = {r.id: r for r in new.policy.rules}
    added = tuple(after[i].title for i in after if i not in before)
    removed = tuple(before[i].title for i in before if i not in after)
    changed = tuple(
        after[i].title
        for i in after
        if i in before and after[i].model_dump(mode="json") != before[i].model_dump(mode="json")
    )
    return added, changed, removed
