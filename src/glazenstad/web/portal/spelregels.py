"""View models for the data-use rules ("spelregels"): wie mag wat, waarom, op grond van welke wet.

The rules engine states each rule in plain Dutch (`glazenstad.rules.describe`); this module only
decides how a resident reads them: allowed or forbidden in words (never by colour alone), who
and when, what, why, the conditions for use, the law with a link, whether the rule can be set
aside in an emergency, and whether it comes from the register or from the policy itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from glazenstad.register.model import KIND_ACTIVITY, LawReference
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.rules.describe import RuleText, rule_text, rules_for_activity
from glazenstad.rules.effective import EffectiveRule
from glazenstad.rules.store import ACTIVE, DRAFT, RETIRED, LifecycleEvent, PolicyVersion
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal.views import (
    Badge,
    Link,
    Row,
    Table,
    Value,
    activity_url,
    api_org_url,
    spelregels_url,
)

SECTION_ID = "spelregels"
SECTION_TITLE = "Wie mag wat, waarom, op grond van welke wet"
ALLOWED = "Toegestaan"
FORBIDDEN = "Niet toegestaan"
FROM_REGISTER = "Volgt uit het verwerkingsregister"
FROM_POLICY = "Uit de spelregels van de gemeente"
EMERGENCY_NOTE = (
    "In een noodgeval kan deze regel met een schriftelijke motivering worden doorbroken; "
    "dat wordt vastgelegd en achteraf beoordeeld."
)
HOW_RULES_WORK = (
    "Een medewerker mag persoonsgegevens alleen gebruiken als een regel dat toestaat. "
    "Zegt een regel dat iets niet is toegestaan, dan gaat die regel altijd voor: "
    "dan mag het niet, ook als een andere regel het wel toestaat."
)
STATUS_NL = {
    ACTIVE: "Geldt nu",
    DRAFT: "Concept, geldt nog niet",
    RETIRED: "Vervallen",
}


def activity_rules_api_url(org_id: str, activity_id: str) -> str:
    return f"{api_org_url(org_id)}/processing-activities/{activity_id}/rules"


def policy_api_url(org_id: str, content_hash: str) -> str:
    return f"{api_org_url(org_id)}/policies/{content_hash}"


def short_hash(content_hash: str) -> str:
    """How a version is named to people (the CLI and the store use the same 12 characters)."""
    return content_hash[:12]


# --- one rule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleCard:
    """One rule as a resident reads it: a heading, the verdict in words, and its details."""

    id: str
    title: str
    allowed: bool
    verdict: Badge
    rows: list[Row]
    emergency: str | None

    @property
    def anchor(self) -> str:
        return f"regel-{self.id}"


def law_links(laws: tuple[LawReference, ...]) -> list[Value]:
    """Each law as a link to the article on wetten.overheid.nl, named as on the rest of the
    portal ("Gemeentewet, artikel 234 (BWBR0005416)")."""
    return [Link(f"{law.label} ({law.bwb_id})", law.effective_link, external=True) for law in laws]


def _who(text: RuleText) -> Value:
    """Who and when, as one phrase; with several conditions as a list, because "a of b en c"
    in one line cannot be read unambiguously."""
    if len(text.conditions) >= 2:
        return list(text.conditions)
    return text.who


def rule_card(text: RuleText, scope: Value | None = None) -> RuleCard:
    """A rule's card; `scope` (the activities it is about) is shown on the overview page only,
    where a rule is not read in the context of one activity."""
    allowed = text.effect == "permit"
    rows = [
        Row(
            "Voor wie en wanneer" if len(text.conditions) < 2 else "Als al deze voorwaarden gelden",
            _who(text),
        ),
        Row("Wat", text.what),
        Row("Waarom", text.explanation),
        Row("Voorwaarden bij gebruik", list(text.obligations), optional=True),
        Row(
            "Op grond van welke wet",
            law_links(text.legal_basis) or "Deze regel noemt geen wet.",
        ),
    ]
    if scope is not None:
        rows.append(Row("Voor welke verwerkingen", scope))
    rows.append(
        Row(
            "Waar komt deze regel vandaan",
            FROM_REGISTER if text.source == "register" else FROM_POLICY,
        )
    )
    return RuleCard(
        id=text.id,
        title=text.title,
        allowed=allowed,
        verdict=Badge(ALLOWED, "safe") if allowed else Badge(FORBIDDEN, "danger"),
        rows=rows,
        emergency=EMERGENCY_NOTE if text.break_glass else None,
    )


def _count_sentence(cards: list[RuleCard]) -> str:
    allowed = sum(1 for c in cards if c.allowed)
    forbidden = len(cards) - allowed
    return (
        f"{fmt.plural(allowed, 'regel staat', 'regels staan')} iets toe, "
        f"{fmt.plural(forbidden, 'regel verbiedt', 'regels verbieden')} iets."
    )


# --- the rules on an activity page -----------------------------------------------------------


@dataclass(frozen=True)
class RuleGroup:
    """Rules under one heading; a `folded` group shows its rules after a click on `folded`
    (a native <details>), for rules that are mostly about other data than this activity's."""

    id: str
    title: str
    intro: str
    rules: list[RuleCard]
    folded: str | None = None


@dataclass(frozen=True)
class ActivityRules:
    """The "wie mag wat" section of an activity page."""

    id: str
    title: str
    active: bool
    intro: list[str]
    groups: list[RuleGroup]
    overview: Link
    api: Link


def activity_rules(
    reg: OrganisationRegister, compiled: CompiledPolicy | None, activity_id: str
) -> ActivityRules:
    """The active policy's rules for one activity: first those written for this activity (the
    purpose binding from the register among them), then those that hold for every activity."""
    org_id = reg.organisation.organisation_id
    overview = Link("Alle spelregels van de gemeente", spelregels_url(org_id))
    api = Link("Deze regels als JSON in de API", activity_rules_api_url(org_id, activity_id))
    if compiled is None:
        return ActivityRules(
            id=SECTION_ID,
            title=SECTION_TITLE,
            active=False,
            intro=[
                f"Er zijn op dit moment geen spelregels van kracht bij {reg.org.name}. "
                "Daarom staat hier niet wie deze gegevens mag gebruiken en onder welke "
                "voorwaarden. Zodra de gemeente spelregels vaststelt, leest u dat hier."
            ],
            groups=[],
            overview=overview,
            api=api,
        )
    scope = {rule.id: rule.purposes for rule in compiled.rules}
    texts = rules_for_activity(compiled, activity_id)
    specific = [rule_card(t) for t in texts if scope.get(t.id) is not None]
    general = [rule_card(t) for t in texts if scope.get(t.id) is None]
    intro = [HOW_RULES_WORK]
    if compiled.status.get(activity_id) != "actief":
        intro.append(
            "Deze verwerking is niet actief. Zolang dat zo is, mag niemand de gegevens voor dit "
            "doel gebruiken, wat de regels hieronder ook zeggen."
        )
    cards = specific + general
    if cards:
        intro.append(
            f"Voor deze verwerking gelden {fmt.plural(len(cards), 'regel', 'regels')}: "
            + _count_sentence(cards)
        )
    groups = []
    if specific:
        groups.append(
            RuleGroup(
                "spelregels-deze-verwerking",
                "Regels voor deze verwerking",
                "Deze regels gaan over deze verwerking.",
                specific,
            )
        )
    if general:
        groups.append(
            RuleGroup(
                "spelregels-alle-verwerkingen",
                "Regels die voor alle verwerkingen gelden",
                "Deze regels gelden voor elke verwerking van de gemeente, dus ook voor deze. "
                "Vaak gaan ze over gegevens of bronnen die hier niet worden gebruikt.",
                general,
                folded=f"Toon {fmt.plural(len(general), 'regel', 'regels')} voor alle verwerkingen",
            )
        )
    if not cards:
        intro.append(
            "Er zijn geen regels voor deze verwerking. Dan mag niemand de gegevens gebruiken."
        )
    return ActivityRules(
        id=SECTION_ID,
        title=SECTION_TITLE,
        active=True,
        intro=intro,
        groups=groups,
        overview=overview,
        api=api,
    )


# --- the overview page of an organisation's rules --------------------------------------------


def _activation(version: PolicyVersion) -> LifecycleEvent | None:
    """The event that made `version` active (the latest one, if it was activated twice)."""
    for event in reversed(version.events):
        if event.status == ACTIVE:
            return event
    return None


def _last_event(version: PolicyVersion) -> LifecycleEvent | None:
    return version.events[-1] if version.events else None


@dataclass(frozen=True)
class ActivePolicy:
    title: str
    description: str | None
    version: str
    rows: list[Row]
    json: Link
    rules_json: Link


def _active_policy(org_id: str, version: PolicyVersion) -> ActivePolicy:
    activation = _activation(version)
    rows = [
        Row("Titel", version.title),
        Row("Versie", short_hash(version.content_hash)),
        Row("Geldt sinds", fmt.datetime_nl(activation.at) if activation else None),
        Row("In gebruik genomen door", activation.by if activation else None),
        Row(
            "Toelichting bij het vaststellen",
            activation.note if activation else None,
            optional=True,
        ),
        Row("Vastgelegd", f"{fmt.datetime_nl(version.created_at)} door {version.created_by}"),
    ]
    api = policy_api_url(org_id, version.content_hash)
    return ActivePolicy(
        title=version.title,
        description=version.policy.description,
        version=short_hash(version.content_hash),
        rows=rows,
        json=Link("Deze versie als JSON in de API", api),
        rules_json=Link("Alle regels van deze versie als JSON in de API", f"{api}/rules"),
    )


@dataclass(frozen=True)
class PolicyOverview:
    org_id: str
    active: ActivePolicy | None
    intro: str
    purpose_binding: Table | None
    allowed: list[RuleCard]
    forbidden: list[RuleCard]
    history: Table | None
    versions_json: Link
    empty: str


def _scope(reg: OrganisationRegister, rule: EffectiveRule) -> Value:
    if rule.purposes is None:
        return "Alle verwerkingen"
    org_id = reg.organisation.organisation_id
    links: list[Value] = []
    for activity_id in sorted(rule.purposes):
        activity = reg.activity(activity_id)
        if activity is None:
            links.append(activity_id)
        else:
            links.append(Link(activity.name, activity_url(org_id, activity_id)))
    return links


def _purpose_binding_table(
    reg: OrganisationRegister, rules: list[tuple[EffectiveRule, RuleText]]
) -> Table | None:
    """The permits the register implies, one row each: 40 cards saying "the roles of this
    activity may use its data for it" would bury the rules the gemeente wrote itself."""
    org_id = reg.organisation.organisation_id
    rows: list[tuple[Value, ...]] = []
    for rule, text in rules:
        title: Value = text.title
        if rule.activity is not None and reg.get(KIND_ACTIVITY, rule.activity) is not None:
            title = Link(text.title, f"{activity_url(org_id, rule.activity)}#{SECTION_ID}")
        rows.append((title, text.who, text.what, list(text.obligations)))
    if not rows:
        return None
    return Table(
        "Doelbinding per verwerking",
        ("Regel", "Voor wie", "Wat", "Voorwaarden bij gebruik"),
        rows,
    )


def _history(org_id: str, versions: list[PolicyVersion]) -> Table | None:
    rows: list[tuple[Value, ...]] = []
    for version in sorted(versions, key=lambda v: v.id, reverse=True):
        if version.status == ACTIVE:
            continue
        last = _last_event(version)
        status = STATUS_NL.get(version.status, version.status)
        if last is not None:
            status = f"{status} sinds {fmt.datetime_nl(last.at)}"
        rows.append(
            (
                Link(
                    short_hash(version.content_hash),
                    policy_api_url(org_id, version.content_hash),
                ),
                version.title,
                status,
                f"{fmt.datetime_nl(version.created_at)} door {version.created_by}",
            )
        )
    if not rows:
        return None
    return Table(
        "Eerdere versies van de spelregels",
        ("Versie (JSON)", "Titel", "Status", "Vastgelegd"),
        rows,
    )


def policy_overview(
    reg: OrganisationRegister, compiled: CompiledPolicy | None, versions: list[PolicyVersion]
) -> PolicyOverview:
    """The organisation's active policy with all its rules, and the versions before it."""
    org_id = reg.organisation.organisation_id
    active_version = next((v for v in versions if v.status == ACTIVE), None)
    register_rules: list[tuple[EffectiveRule, RuleText]] = []
    allowed: list[RuleCard] = []
    forbidden: list[RuleCard] = []
    if compiled is not None and active_version is not None:
        for rule in compiled.rules:
            text = rule_text(rule)
            if rule.source == "register":
                register_rules.append((rule, text))
                continue
            card = rule_card(text, _scope(reg, rule))
            (allowed if card.allowed else forbidden).append(card)
    active = _active_policy(org_id, active_version) if active_version else None
    total = len(register_rules) + len(allowed) + len(forbidden)
    intro = HOW_RULES_WORK
    if active is not None:
        intro += (
            f" De spelregels die nu gelden hebben "
            f"{fmt.plural(total, 'regel', 'regels')}: "
            f"{len(register_rules) + len(allowed)} over wat mag, {len(forbidden)} over wat "
            "niet mag."
        )
    return PolicyOverview(
        org_id=org_id,
        active=active,
        intro=intro,
        purpose_binding=_purpose_binding_table(reg, register_rules),
        allowed=allowed,
        forbidden=forbidden,
        history=_history(org_id, versions),
        versions_json=Link(
            "Alle versies van de spelregels als JSON in de API", f"{api_org_url(org_id)}/policies"
        ),
        empty=(
            f"Er zijn op dit moment geen spelregels van kracht bij {reg.org.name}. Zodra de "
            "gemeente spelregels vaststelt, leest u hier wie welke gegevens mag gebruiken, "
            "waarvoor, en op grond van welke wet."
        ),
    )


@dataclass(frozen=True)
class PolicySummary:
    """One sentence about the rules for the organisation page."""

    text: str
    url: str


def policy_summary(org_id: str, versions: list[PolicyVersion]) -> PolicySummary:
    active = next((v for v in versions if v.status == ACTIVE), None)
    if active is None:
        text = "Er zijn op dit moment geen spelregels van kracht."
    else:
        activation = _activation(active)
        since = f", sinds {fmt.datetime_nl(activation.at)}" if activation else ""
        version = short_hash(active.content_hash)
        text = f"Nu geldt: {active.title} (versie {version}){since}."
    return PolicySummary(text, spelregels_url(org_id))
