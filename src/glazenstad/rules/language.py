"""The policy language ("spelregels"): what a policy YAML file may say.

A policy belongs to one organisation and refines what its register already implies. The
register's processing activities generate base permit rules (purpose binding: the activity's
roles and departments may read and write its data categories for its purpose); explicit rules
then add permits (sharing, linking) or restrict with denies. Deny overrides permit; no permit
means deny.

Conditions are a small, closed vocabulary a policy advisor can read aloud:
`role`, `department`, `channel`, `assigned_to_case`, `consent_recorded`, `time`, a generic
`attribute` comparison, and `not` / `any` / `all`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)

from glazenstad.register.model import LawReference, Slug

Action = Literal["read", "write", "link", "share", "delete"]
ACTIONS: tuple[str, ...] = ("read", "write", "link", "share", "delete")
Weekday = Literal["ma", "di", "wo", "do", "vr", "za", "zo"]
WEEKDAYS: tuple[str, ...] = ("ma", "di", "wo", "do", "vr", "za", "zo")
Attribute = Literal[
    "actor.role",
    "actor.department",
    "actor.organisation",
    "action",
    "purpose",
    "resource.data_category",
    "resource.dataset",
    "resource.linked_dataset",
    "context.channel",
]
ATTRIBUTES: tuple[str, ...] = get_args(Attribute)
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM")]


class _Strict(BaseModel):
    # Field names are the YAML keys a policy advisor writes; the few that are Python keywords
    # (`not`, `in`, `with`) carry them as alias.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class RoleIn(_Strict):
    """The actor has one of these roles."""

    role: list[str] = Field(min_length=1)


class DepartmentIn(_Strict):
    """The actor works in one of these departments."""

    department: list[str] = Field(min_length=1)


class ChannelIn(_Strict):
    """The request comes through one of these channels (e.g. balie, intern, portaal)."""

    channel: list[str] = Field(min_length=1)


class AssignedToCase(_Strict):
    """The actor is (true) or is not (false) assigned to the case the data belongs to."""

    assigned_to_case: bool


class ConsentRecorded(_Strict):
    """Consent of the data subject is (not) recorded for this purpose."""

    consent_recorded: bool


class TimeWindow(_Strict):
    """Local time (Europe/Amsterdam) of the request: on one of `days`, from `start` to `end`."""

    days: list[Weekday] = Field(
        default_factory=lambda: ["ma", "di", "wo", "do", "vr", "za", "zo"],  # type: ignore[arg-type]
        min_length=1,
    )
    start: ClockTime = "00:00"
    end: Annotated[
        str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="HH:MM or 24:00")
    ] = "24:00"

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class InTime(_Strict):
    time: TimeWindow


class Compare(_Strict):
    """A generic comparison on a request attribute."""

    attribute: Attribute
    equals: str | None = None
    not_equals: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Compare:
        given = [
            n for n in ("equals", "not_equals", "in_", "not_in") if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, not_equals, in, not_in")
        return self


class Not(_Strict):
    not_: Condition = Field(alias="not")


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


CONDITION_KEYS: dict[str, str] = {
    "role": "RoleIn",
    "department": "DepartmentIn",
    "channel": "ChannelIn",
    "assigned_to_case": "AssignedToCase",
    "consent_recorded": "ConsentRecorded",
    "time": "InTime",
    "attribute": "Compare",
    "not": "Not",
    "any": "AnyOf",
    "all": "AllOf",
}


def _condition_kind(value: Any) -> str | None:
    """Which condition a YAML mapping is, by its key, so errors speak of that condition only."""
    if isinstance(value, dict):
        for key in value:
            if key in CONDITION_KEYS:
                return CONDITION_KEYS[key]
        return None
    return type(value).__name__ if type(value).__name__ in CONDITION_KEYS.values() else None


Condition = Annotated[
    Union[  # noqa: UP007 - a recursive alias needs Union with forward references
        Annotated[RoleIn, Tag("RoleIn")],
        Annotated[DepartmentIn, Tag("DepartmentIn")],
        Annotated[ChannelIn, Tag("ChannelIn")],
        Annotated[AssignedToCase, Tag("AssignedToCase")],
        Annotated[ConsentRecorded, Tag("ConsentRecorded")],
        Annotated[InTime, Tag("InTime")],
        Annotated[Compare, Tag("Compare")],
        Annotated[Not, Tag("Not")],
        Annotated[AnyOf, Tag("AnyOf")],
        Annotated[AllOf, Tag("AllOf")],
    ],
    Discriminator(
        _condition_kind,
        custom_error_type="unknown_condition",
        custom_error_message="a condition starts with one of: " + ", ".join(CONDITION_KEYS),
    ),
]
for _model in (Not, AnyOf, AllOf):
    _model.model_rebuild()


Owner = Annotated[str, Field(min_length=1, max_length=200)] | None


def _absent(value: object) -> bool:
    """Leave an unset owner out of a dump, so policies without owners keep their content hash."""
    return value is None


class Target(_Strict):
    """Which requests a rule is about; an empty list means any."""

    purposes: list[Slug] = Field(default_factory=list, description="Processing activity ids.")
    data_categories: list[Slug] = Field(default_factory=list)
    datasets: list[Slug] = Field(
        default_factory=list,
        description="The request involves one of these datasets (as dataset or linked dataset).",
    )
    actions: list[Action] = Field(default_factory=list)


class Linkage(_Strict):
    """Linking a dataset of `datasets` with one of `with_` (in either direction)."""

    datasets: list[Slug] = Field(min_length=1)
    with_: list[Slug] = Field(min_length=1, alias="with")


class Obligations(_Strict):
    """What the enforcement point must do when it acts on a permit."""

    pseudonymise: list[str] = Field(
        default_factory=list, description="Data categories or fields to replace by pseudonyms."
    )
    mask: list[str] = Field(default_factory=list, description="Fields to drop or mask.")
    retention: str | None = Field(
        default=None, description="Retention class: an outcome of the activity's retention."
    )
    log_confidentiality: Literal["normaal", "vertrouwelijk"] | None = None
    require_justification: bool = False

    def is_empty(self) -> bool:
        return self == Obligations()


class Rule(_Strict):
    """One explicit rule of a policy."""

    id: Slug
    effect: Literal["permit", "deny"]
    title: str = Field(min_length=1, max_length=200, description="Short name, plain Dutch.")
    explanation: str = Field(
        min_length=1, max_length=2000, description="Why this rule exists, in plain Dutch (B1)."
    )
    applies_to: Target = Field(default_factory=Target)
    link: Linkage | None = Field(
        default=None, description="Makes this a linkage rule (action link between datasets)."
    )
    when: list[Condition] = Field(default_factory=list, description="All must hold.")
    obligations: Obligations = Field(default_factory=Obligations)
    legal_basis: list[LawReference] = Field(default_factory=list)
    break_glass: bool = Field(
        default=False,
        description="Deny rules only: may be set aside in an emergency with a written "
        "justification; the decision is flagged and reviewed.",
    )
    owner: Owner = Field(
        default=None,
        description="The department or role that answers for this rule (and for signals "
        "about it); defaults to the policy's owner.",
        exclude_if=_absent,
    )

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.break_glass and self.effect != "deny":
            raise ValueError("break_glass applies to deny rules only")
        if self.effect == "deny" and not self.obligations.is_empty():
            raise ValueError("obligations belong to permit rules")
        if self.link is not None and self.applies_to.actions not in ([], ["link"]):
            raise ValueError("a linkage rule is about the action 'link' only")
        return self


class PurposeBinding(_Strict):
    """How the register's activities become base permit rules."""

    enabled: bool = True
    actions: list[Action] = Field(
        default_factory=lambda: ["read", "write"],  # type: ignore[arg-type]
        description="What an activity's roles may do with its data categories.",
    )
    link_own_datasets: bool = Field(
        default=True, description="Allow linking two datasets that the same activity lists."
    )


class Policy(_Strict):
    """A data-use policy of one organisation."""

    kind: Literal["policy"]
    id: Slug
    organisation: Slug
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    purpose_binding: PurposeBinding = Field(default_factory=PurposeBinding)
    owner: Owner = Field(
        default=None,
        description="The department or role that answers for the rules without an owner of "
        "their own, e.g. Functionaris gegevensbescherming.",
        exclude_if=_absent,
    )
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
        return self


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy YAML document, as the project publishes it."""
    schema = TypeAdapter(Policy).json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://glazenstad.nl/schemas/policy.schema.json"
    schema["title"] = "Glazen Stad data-use policy"
    return schema
