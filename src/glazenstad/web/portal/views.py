"""View models: the register turned into what a portal page shows, without any HTML.

Route handlers stay thin and templates stay dumb: every decision about what a resident reads
(which label, which link, which mark on a data category, which filter narrows the list) is made
here in plain Python, where it can be tested without rendering a page. Templates only loop over
sections, rows and tables and pick the markup for a value by its type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlencode

from markupsafe import Markup

from glazenstad.register.exports import algorithm_record
from glazenstad.register.model import (
    AVG_GROUNDS,
    KIND_ACTIVITY,
    KIND_ALGORITHM,
    KIND_SENSOR,
    Algorithm,
    ProcessingActivity,
    Sensor,
)
from glazenstad.register.store import OrganisationRegister, RegisterSnapshot, StoredEntry
from glazenstad.web.api.v1.common import API_PREFIX
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal.richtext import sanitize_rich_text

OPENAPI_URL = f"{API_PREFIX}/openapi.json"
PAGE_SIZE = 25
# Longest free-text filter value we look at; longer input is cut, never an error page.
MAX_FILTER_LENGTH = 200

Tone = Literal["danger", "warning", "safe", "neutral"]


@dataclass(frozen=True)
class Link:
    text: str
    url: str
    external: bool = False


@dataclass(frozen=True)
class Badge:
    text: str
    tone: Tone = "neutral"


Value = str | Link | Badge | Markup | Sequence["Value"] | None


@dataclass(frozen=True)
class Row:
    """A label and its value; `optional` rows are left out when empty instead of showing
    "Niet ingevuld", for fields the law does not ask for."""

    label: str
    value: Value
    optional: bool = False


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: list[tuple[Value, ...]]


@dataclass(frozen=True)
class Section:
    """One titled part of a detail page, with an id so it can be linked to (#bewaartermijnen)."""

    id: str
    title: str
    rows: list[Row] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    text: str | None = None
    empty: str | None = None


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str | None = None


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool = False


def value_kind(value: Any) -> str:
    """How a template should render a value (used as a Jinja filter)."""
    if value is None or value == "" or (isinstance(value, list | tuple) and not value):
        return "empty"
    if isinstance(value, Markup):
        return "markup"
    if isinstance(value, Link):
        return "link"
    if isinstance(value, Badge):
        return "badge"
    if isinstance(value, list | tuple):
        return "list"
    return "text"


# --- URLs ------------------------------------------------------------------------------------


def org_url(org_id: str) -> str:
    return f"/organisaties/{org_id}"


def activities_url(org_id: str) -> str:
    return f"{org_url(org_id)}/verwerkingen"


def activity_url(org_id: str, activity_id: str) -> str:
    return f"{activities_url(org_id)}/{activity_id}"


def algorithms_url(org_id: str) -> str:
    return f"{org_url(org_id)}/algoritmes"


def algorithm_url(org_id: str, algorithm_id: str) -> str:
    return f"{algorithms_url(org_id)}/{algorithm_id}"


def sensors_url(org_id: str) -> str:
    return f"{org_url(org_id)}/sensoren"


def sensor_url(org_id: str, sensor_id: str) -> str:
    return f"{sensors_url(org_id)}/{sensor_id}"


def spelregels_url(org_id: str) -> str:
    return f"{org_url(org_id)}/spelregels"


def api_org_url(org_id: str) -> str:
    return f"{API_PREFIX}/organisations/{org_id}"


# --- navigation ------------------------------------------------------------------------------


def navigation(
    snapshot: RegisterSnapshot, org_id: str | None, current: str | None
) -> list[NavItem]:
    """Main menu: home, and the sections of the organisation in view.

    With one organisation in the installation (the usual case) its sections are always in the
    menu, so a visitor on the home page reaches the register in one step.
    """
    items = [NavItem("Home", "/", current == "home")]
    if org_id is None and len(snapshot.organisations) == 1:
        org_id = next(iter(snapshot.organisations))
    if org_id is not None and snapshot.organisation(org_id) is not None:
        items += [
            NavItem("Organisatie", org_url(org_id), current == "organisation"),
            NavItem("Verwerkingen", activities_url(org_id), current == "activities"),
            NavItem("Algoritmes", algorithms_url(org_id), current == "algorithms"),
            NavItem("Sensoren", sensors_url(org_id), current == "sensors"),
            NavItem("Spelregels", spelregels_url(org_id), current == "rules"),
        ]
    items.append(NavItem("Mijn verwerkingen", "/mijn-verwerkingen", current == "mine"))
    if len(snapshot.organisations) > 1:  # comparing needs more than one organisation
        items.append(NavItem("Gemeenten vergeleken", "/vergelijking", current == "peers"))
    items.append(NavItem("Toegankelijkheid", "/toegankelijkheid", current == "accessibility"))
    return items


def org_crumbs(reg: OrganisationRegister, *more: Crumb) -> list[Crumb]:
    org_id = reg.organisation.organisation_id
    return [Crumb("Home", "/"), Crumb(reg.org.name, org_url(org_id)), *more]


# --- home and organisation -------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationSummary:
    id: str
    name: str
    type: str
    url: str
    contact_email: str
    activities: int
    algorithms: int
    sensors: int
    activities_url: str
    algorithms_url: str
    sensors_url: str


def organisation_summary(reg: OrganisationRegister) -> OrganisationSummary:
    org_id = reg.organisation.organisation_id
    return OrganisationSummary(
        id=org_id,
        name=reg.org.name,
        type=fmt.label(fmt.ORGANISATION_TYPE_NL, reg.org.type),
        url=org_url(org_id),
        contact_email=reg.org.contact_email,
        activities=len(reg.entries(KIND_ACTIVITY)),
        algorithms=len(reg.entries(KIND_ALGORITHM)),
        sensors=len(reg.entries(KIND_SENSOR)),
        activities_url=activities_url(org_id),
        algorithms_url=algorithms_url(org_id),
        sensors_url=sensors_url(org_id),
    )


def organisation_summaries(snapshot: RegisterSnapshot) -> list[OrganisationSummary]:
    return [organisation_summary(reg) for reg in snapshot.ordered()]


def _mail(address: str | None) -> Link | None:
    return Link(address, f"mailto:{address}") if address else None


def _web(url: str | None, text: str | None = None) -> Link | None:
    return Link(text or url, url, external=True) if url else None


def organisation_contact(reg: OrganisationRegister) -> list[Row]:
    org = reg.org
    org_id = reg.organisation.organisation_id
    return [
        Row("Soort organisatie", fmt.label(fmt.ORGANISATION_TYPE_NL, org.type)),
        Row("Website", _web(org.website)),
        Row("E-mail over privacy", _mail(org.contact_email)),
        Row("Functionaris gegevensbescherming (FG)", org.privacy_officer),
        Row("E-mail van de FG", _mail(org.privacy_officer_email)),
        Row("E-mail over algoritmes", _mail(org.algorithm_contact_email), optional=True),
        Row("Adres", org.address, optional=True),
        Row("Code in de lijst van overheidsorganisaties (TOOI)", org.tooi, optional=True),
        Row("Vaste verwijzing (URI) van het register", org.register_uri),
        Row("Voor ontwikkelaars", Link("Deze organisatie als JSON in de API", api_org_url(org_id))),
    ]


def organisation_exports(org_id: str) -> list[Link]:
    base = api_org_url(org_id)
    return [
        Link("Verwerkingsregister als CSV (AVG artikel 30)", f"{base}/exports/art30.csv"),
        Link("Algoritmes als JSON (Algoritmeregister)", f"{base}/exports/algoritmeregister"),
        Link("Sensoren als JSON", f"{base}/exports/sensors"),
        Link("Verwerkingen als JSON", f"{base}/processing-activities"),
    ]


# --- the register of processing activities ---------------------------------------------------


def _clip(value: str | None) -> str:
    return (value or "").strip()[:MAX_FILTER_LENGTH]


def _page(value: str | None) -> int:
    try:
        return max(1, int(value or "1"))
    except ValueError:
        return 1


@dataclass(frozen=True)
class ActivityFilters:
    """What the visitor asked for in the search form (Dutch query keys, as in the address bar).

    Values the form cannot produce are not an error: they simply match nothing or are ignored,
    so an edited or outdated link still shows a page instead of a validation message.
    """

    q: str = ""
    thema: str = ""
    afdeling: str = ""
    grondslag: str = ""
    vertrouwelijkheid: str = ""
    bijzonder: str = ""
    pagina: int = 1

    KEYS = ("q", "thema", "afdeling", "grondslag", "vertrouwelijkheid", "bijzonder")

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ActivityFilters:
        bijzonder = _clip(params.get("bijzonder"))
        grondslag = _clip(params.get("grondslag"))
        vertrouwelijkheid = _clip(params.get("vertrouwelijkheid"))
        return cls(
            q=_clip(params.get("q")),
            thema=_clip(params.get("thema")),
            afdeling=_clip(params.get("afdeling")),
            grondslag=grondslag if grondslag in AVG_GROUNDS else "",
            vertrouwelijkheid=vertrouwelijkheid
            if vertrouwelijkheid in fmt.CONFIDENTIALITY_NL
            else "",
            bijzonder=bijzonder if bijzonder in ("ja", "nee") else "",
            pagina=_page(params.get("pagina")),
        )

    @property
    def active(self) -> bool:
        return any(getattr(self, key) for key in self.KEYS)

    def query_string(self, pagina: int | None = None) -> str:
        """The query of this search, for links that keep it (pagination)."""
        pairs = [(key, getattr(self, key)) for key in self.KEYS if getattr(self, key)]
        page = self.pagina if pagina is None else pagina
        if page > 1:
            pairs.append(("pagina", str(page)))
        return urlencode(pairs)

    def matches(self, reg: OrganisationRegister, activity: ProcessingActivity) -> bool:
        query = self.q.casefold()
        if query and not (
            query in activity.name.casefold()
            or query in activity.description.casefold()
            or any(query in p.casefold() for p in activity.purposes)
            or query in (activity.theme or "").casefold()
        ):
            return False
        if self.thema and (activity.theme or "").casefold() != self.thema.casefold():
            return False
        if self.afdeling and self.afdeling.casefold() not in {
            d.casefold() for d in activity.departments
        }:
            return False
        if self.grondslag and activity.legal_basis.avg_ground != self.grondslag:
            return False
        if self.vertrouwelijkheid and activity.confidentiality != self.vertrouwelijkheid:
            return False
        if self.bijzonder:
            special = bool(reg.special_categories(activity))
            if special != (self.bijzonder == "ja"):
                return False
        return True


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class FilterField:
    name: str
    label: str
    options: list[Option]


def _options(all_label: str, choices: list[tuple[str, str]], selected: str) -> list[Option]:
    return [Option("", all_label, not selected)] + [
        Option(value, text, value == selected) for value, text in choices
    ]


def activity_filter_fields(
    reg: OrganisationRegister, filters: ActivityFilters
) -> list[FilterField]:
    """The select boxes of the search form, offering only values that occur in this register."""
    activities = reg.activities()
    themes = sorted({a.theme for a in activities if a.theme}, key=str.casefold)
    departments = sorted({d for a in activities for d in a.departments}, key=str.casefold)
    grounds = sorted({a.legal_basis.avg_ground for a in activities})
    return [
        FilterField(
            "thema", "Thema", _options("Alle thema's", [(t, t) for t in themes], filters.thema)
        ),
        FilterField(
            "afdeling",
            "Afdeling",
            _options("Alle afdelingen", [(d, d) for d in departments], filters.afdeling),
        ),
        FilterField(
            "grondslag",
            "Grondslag in de AVG",
            _options(
                "Alle grondslagen",
                [(g, AVG_GROUNDS[g].capitalize()) for g in grounds],
                filters.grondslag,
            ),
        ),
        FilterField(
            "vertrouwelijkheid",
            "Vertrouwelijkheid",
            _options("Alle", list(fmt.CONFIDENTIALITY_NL.items()), filters.vertrouwelijkheid),
        ),
        FilterField(
            "bijzonder",
            "Bijzondere persoonsgegevens",
            _options("Alle", [("ja", "Ja"), ("nee", "Nee")], filters.bijzonder),
        ),
    ]


@dataclass(frozen=True)
class ActivityRow:
    id: str
    name: str
    url: str
    description: str
    theme: str
    departments: str
    ground: str
    confidentiality: str
    status: str
    special: bool
    bsn: bool


def activity_row(reg: OrganisationRegister, activity: ProcessingActivity) -> ActivityRow:
    org_id = reg.organisation.organisation_id
    return ActivityRow(
        id=activity.id,
        name=activity.name,
        url=activity_url(org_id, activity.id),
        description=fmt.shorten(activity.description),
        theme=activity.theme or "",
        departments=", ".join(activity.departments),
        ground=AVG_GROUNDS[activity.legal_basis.avg_ground].capitalize(),
        confidentiality=fmt.label(fmt.CONFIDENTIALITY_NL, activity.confidentiality),
        status=fmt.label(fmt.ACTIVITY_STATUS_NL, activity.status),
        special=bool(reg.special_categories(activity)),
        bsn=reg.uses_bsn(activity),
    )


@dataclass(frozen=True)
class PageLink:
    number: int
    url: str
    current: bool


@dataclass(frozen=True)
class Pagination:
    page: int
    pages: int
    prev_url: str | None
    next_url: str | None
    links: list[PageLink]


@dataclass(frozen=True)
class ActivityList:
    rows: list[ActivityRow]
    total: int
    total_in_register: int
    filters: ActivityFilters
    fields: list[FilterField]
    pagination: Pagination | None
    first_index: int

    @property
    def summary(self) -> str:
        """The result count as a sentence, also announced as the page's status."""
        if not self.filters.active:
            return f"Het register heeft {fmt.plural(self.total, 'verwerking', 'verwerkingen')}."
        if self.total == 0:
            return "Er zijn geen verwerkingen gevonden. Probeer minder of andere zoekwoorden."
        found = fmt.plural(self.total, "verwerking", "verwerkingen")
        return f"{found} gevonden van de {self.total_in_register}."


def _pagination(base_url: str, filters: ActivityFilters, total: int) -> Pagination | None:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if pages == 1:
        return None
    page = min(filters.pagina, pages)

    def url(number: int) -> str:
        query = filters.query_string(pagina=number)
        return f"{base_url}?{query}" if query else base_url

    return Pagination(
        page=page,
        pages=pages,
        prev_url=url(page - 1) if page > 1 else None,
        next_url=url(page + 1) if page < pages else None,
        links=[PageLink(n, url(n), n == page) for n in range(1, pages + 1)],
    )


def activity_list(reg: OrganisationRegister, filters: ActivityFilters) -> ActivityList:
    activities = reg.activities()
    found = [a for a in activities if filters.matches(reg, a)]
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    filters = replace(filters, pagina=min(filters.pagina, pages))
    start = (filters.pagina - 1) * PAGE_SIZE
    base = activities_url(reg.organisation.organisation_id)
    return ActivityList(
        rows=[activity_row(reg, a) for a in found[start : start + PAGE_SIZE]],
        total=len(found),
        total_in_register=len(activities),
        filters=filters,
        fields=activity_filter_fields(reg, filters),
        pagination=_pagination(base, filters, len(found)),
        first_index=start + 1,
    )


# --- one processing activity -----------------------------------------------------------------


@dataclass(frozen=True)
class EntryMeta:
    version: int
    recorded: str
    uri: str
    api_url: str


def _meta(stored: StoredEntry, api_url: str) -> EntryMeta:
    return EntryMeta(
        version=stored.version,
        recorded=fmt.date_nl(stored.recorded_at),
        uri=stored.uri,
        api_url=api_url,
    )


@dataclass(frozen=True)
class DetailPage:
    """A detail page: heading, a lead text, marks under the heading, and its sections."""

    title: str
    lead: str
    badges: list[Badge]
    sections: list[Section]
    meta: EntryMeta


def _law_links(activity: ProcessingActivity) -> list[Value]:
    return [
        Link(f"{law.label} ({law.bwb_id})", law.effective_link, external=True)
        for law in activity.legal_basis.laws
    ]


def _category_table(reg: OrganisationRegister, activity: ProcessingActivity) -> Table:
    rows: list[tuple[Value, ...]] = []
    for category_id in activity.data_categories:
        category = reg.data_category(category_id)
        if category is None:
            rows.append((category_id, "Onbekende categorie", None))
            continue
        marks: list[Value] = []
        if category.special == "bijzonder":
            marks.append(Badge("Bijzonder persoonsgegeven", "warning"))
        elif category.special == "strafrechtelijk":
            marks.append(Badge("Strafrechtelijk gegeven", "warning"))
        if category.is_bsn:
            marks.append(Badge("BSN", "warning"))
        elif category.identifier == "kenteken":
            marks.append(Badge("Kenteken", "neutral"))
        if not category.personal:
            marks.append(Badge("Geen persoonsgegeven", "safe"))
        rows.append((category.name, category.description, marks or "Gewoon persoonsgegeven"))
    return Table("Gegevens die worden gebruikt", ("Gegeven", "Uitleg", "Soort"), rows)


def _dataset_table(reg: OrganisationRegister, activity: ProcessingActivity) -> Table | None:
    rows: list[tuple[Value, ...]] = []
    for dataset_id in activity.datasets:
        dataset = reg.dataset(dataset_id)
        if dataset is None:
            rows.append((dataset_id, None, None, None))
            continue
        rows.append((dataset.name, dataset.system, dataset.owner, dataset.supplier))
    if not rows:
        return None
    return Table(
        "Bronnen en systemen", ("Gegevensbron", "Systeem", "Beheerder", "Leverancier"), rows
    )


def retention_text(period: str | None, trigger: str | None) -> str:
    """One retention rule as a sentence part: "6 maanden na einde bezwaartermijn"."""
    duration = fmt.duration_nl(period)
    if duration and trigger:
        return f"{duration} na {trigger}"
    if duration:
        return duration
    return f"Tot {trigger}" if trigger else ""


def _retention_table(activity: ProcessingActivity) -> Table | None:
    if not activity.retention:
        return None
    rows: list[tuple[Value, ...]] = [
        (rule.outcome, retention_text(rule.period, rule.trigger), rule.description)
        for rule in activity.retention
    ]
    return Table("Bewaartermijnen", ("Situatie", "Hoe lang bewaard", "Toelichting"), rows)


def _sharing_section(activity: ProcessingActivity) -> Section:
    """Recipients, processors and transfers outside the EEA; "none" is said out loud, because
    a resident cannot tell an empty table from a forgotten one."""
    tables: list[Table] = []
    rows: list[Row] = []
    if activity.recipients:
        tables.append(
            Table(
                "Ontvangers",
                ("Ontvanger", "Soort", "Waarvoor"),
                [
                    (r.name, fmt.label(fmt.RECIPIENT_CATEGORY_NL, r.category), r.purpose)
                    for r in activity.recipients
                ],
            )
        )
    else:
        rows.append(Row("Ontvangers", "Er zijn geen ontvangers vastgelegd."))
    if activity.processors:
        tables.append(
            Table(
                "Verwerkers",
                ("Verwerker", "Verwerkersovereenkomst", "Land"),
                [
                    (
                        p.name,
                        Badge("Ja", "safe") if p.agreement else Badge("Nee", "danger"),
                        fmt.country_nl(p.country),
                    )
                    for p in activity.processors
                ],
            )
        )
    else:
        rows.append(Row("Verwerkers", "Er zijn geen verwerkers vastgelegd."))
    if activity.third_country_transfers:
        tables.append(
            Table(
                "Doorgifte naar landen buiten de Europese Economische Ruimte",
                ("Land", "Waarborg"),
                [
                    (fmt.country_nl(t.country), t.safeguard)
                    for t in activity.third_country_transfers
                ],
            )
        )
    else:
        rows.append(
            Row(
                "Doorgifte buiten de Europese Economische Ruimte",
                "Nee, de gegevens blijven in de EER.",
            )
        )
    return Section("delen", "Met wie delen we de gegevens?", rows=rows, tables=tables)


def _protection_section(activity: ProcessingActivity) -> Section:
    dpia = activity.dpia
    return Section(
        "bescherming",
        "Hoe beschermen we de gegevens?",
        rows=[
            Row("Privacytoets (DPIA)", fmt.label(fmt.DPIA_STATUS_NL, dpia.status)),
            Row("Datum van de DPIA", fmt.date_nl(dpia.date), optional=True),
            Row("Uitleg over de DPIA", dpia.reason, optional=True),
            Row("DPIA lezen", _web(dpia.link, "Lees de DPIA"), optional=True),
            Row("Vertrouwelijkheid", fmt.label(fmt.CONFIDENTIALITY_NL, activity.confidentiality)),
            Row("Beveiligingsmaatregelen", activity.security_measures),
            Row(
                "Besluiten zonder tussenkomst van een mens (AVG artikel 22)",
                fmt.yes_no(activity.automated_decision_making).capitalize(),
            ),
        ],
    )


def _linked_section(reg: OrganisationRegister, activity: ProcessingActivity) -> Section:
    org_id = reg.organisation.organisation_id
    algorithms: list[Value] = [
        Link(a.name, algorithm_url(org_id, a.id)) for a in reg.algorithms_for_activity(activity.id)
    ]
    sensors: list[Value] = [
        Link(s.name, sensor_url(org_id, s.id)) for s in reg.sensors_for_activity(activity.id)
    ]
    return Section(
        "koppelingen",
        "Algoritmes en sensoren",
        rows=[
            Row("Algoritmes", algorithms or "Geen algoritmes gekoppeld."),
            Row("Sensoren", sensors or "Geen sensoren gekoppeld."),
        ],
    )


def activity_detail(reg: OrganisationRegister, stored: StoredEntry) -> DetailPage:
    """Every AVG art. 30 field of an activity, grouped by the question a resident asks."""
    activity = stored.entry
    assert isinstance(activity, ProcessingActivity)
    org_id = reg.organisation.organisation_id
    basis = activity.legal_basis
    special = reg.special_categories(activity)

    badges = [Badge(fmt.label(fmt.ACTIVITY_STATUS_NL, activity.status), "neutral")]
    if special:
        badges.append(Badge("Bijzondere persoonsgegevens", "warning"))
    if reg.uses_bsn(activity):
        badges.append(Badge("Gebruikt BSN", "warning"))
    if activity.confidentiality == "vertrouwelijk":
        badges.append(Badge("Vertrouwelijk", "neutral"))

    sections: list[Section] = []
    sections.append(
        Section(
            "doelen",
            "Waarom gebruiken we deze gegevens?",
            rows=[Row("Doelen", list(activity.purposes))],
        )
    )
    basis_rows = [
        Row("Grondslag in de AVG", basis.avg_ground_label),
        Row("Uitleg", basis.explanation),
        Row("Wetten", _law_links(activity)),
    ]
    if basis.special_category_ground or special:
        basis_rows.append(
            Row("Uitzondering voor bijzondere persoonsgegevens", basis.special_category_ground)
        )
    sections.append(Section("grondslag", "Waarom mag dit?", rows=basis_rows))
    sections.append(
        Section(
            "gegevens",
            "Over wie en welke gegevens?",
            rows=[Row("Over wie", list(activity.data_subject_categories))],
            tables=[_category_table(reg, activity)]
            + [t for t in [_dataset_table(reg, activity)] if t],
        )
    )
    retention = _retention_table(activity)
    sections.append(
        Section(
            "bewaartermijnen",
            "Hoe lang bewaren we de gegevens?",
            tables=[retention] if retention else [],
            empty="Er is nog geen bewaartermijn vastgelegd.",
        )
    )
    sections.append(_sharing_section(activity))
    sections.append(_protection_section(activity))
    sections.append(
        Section(
            "uitvoering",
            "Wie voert het uit?",
            rows=[
                Row("Verantwoordelijk", activity.owner),
                Row("Afdelingen", list(activity.departments)),
                Row("Rollen", list(activity.roles)),
                Row("Herkomst van de gegevens", activity.data_source, optional=True),
                Row("Thema", activity.theme, optional=True),
            ],
        )
    )
    sections.append(_linked_section(reg, activity))
    return DetailPage(
        title=activity.name,
        lead=activity.description,
        badges=badges,
        sections=sections,
        meta=_meta(stored, f"{api_org_url(org_id)}/processing-activities/{activity.id}"),
    )


# --- algorithms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlgorithmRow:
    name: str
    url: str
    description: str
    status: str
    category: str
    themes: str


def algorithm_rows(reg: OrganisationRegister) -> list[AlgorithmRow]:
    org_id = reg.organisation.organisation_id
    return [
        AlgorithmRow(
            name=a.name,
            url=algorithm_url(org_id, a.id),
            description=fmt.shorten(a.description_short),
            status=a.status,
            category=a.publication_category,
            themes=", ".join(a.category),
        )
        for a in reg.algorithms()
    ]


def algoritmeregister_export_url(org_id: str) -> str:
    return f"{api_org_url(org_id)}/exports/algoritmeregister"


def _groupings(items: list[dict[str, Any]]) -> list[Value]:
    return [
        Link(str(item["title"]), str(item["link"]), external=True)
        if item.get("link")
        else str(item["title"])
        for item in items
    ]


def algorithm_detail(reg: OrganisationRegister, stored: StoredEntry, public_url: str) -> DetailPage:
    """The Algoritmeregister record as published (with the organisation's defaults filled in),
    so what residents read here is exactly what the national register receives."""
    algorithm = stored.entry
    assert isinstance(algorithm, Algorithm)
    org_id = reg.organisation.organisation_id
    record = algorithm_record(reg, algorithm, public_url)
    rich = sanitize_rich_text

    status_tone: Tone = "safe" if algorithm.status == "In gebruik" else "neutral"
    badges = [Badge(algorithm.status, status_tone), Badge(algorithm.publication_category)]
    activities: list[Value] = []
    for activity_id in algorithm.activities:
        activity = reg.activity(activity_id)
        if activity is not None:
            activities.append(Link(activity.name, activity_url(org_id, activity_id)))

    sections = [
        Section(
            "algemeen",
            "Algemene informatie",
            rows=[
                Row("Naam", record["name"]),
                Row("Korte omschrijving", record["description_short"]),
                Row("Organisatie", record["organization"]),
                Row("Thema", list(record["category"])),
                Row("Status", record["status"]),
                Row("Begindatum", fmt.month_nl(record["begin_date"])),
                Row("Einddatum", fmt.month_nl(record["end_date"])),
                Row(
                    "Contact",
                    _mail(record["contact_email"])
                    if "@" in (record["contact_email"] or "")
                    else record["contact_email"],
                ),
                Row("Publiekspagina", _web(record["website"])),
                Row("Publicatiecategorie", record["publication_category"]),
                Row("Link naar bronregistratie", _web(record["url"])),
            ],
        ),
        Section(
            "verantwoord-gebruik",
            "Verantwoord gebruik",
            rows=[
                Row("Doel en impact", rich(record["goal"])),
                Row("Afwegingen", rich(record["proportionality"])),
                Row("Menselijke tussenkomst", rich(record["human_intervention"])),
                Row("Risicobeheer", rich(record["risks"])),
                Row("Wettelijke basis", rich(record["lawful_basis"])),
                Row("Links naar wettelijke basis", _groupings(record["lawful_basis_grouping"])),
                Row("Impacttoetsen", _groupings(record["impacttoetsen_grouping"])),
                Row("Toelichting op de impacttoetsen", rich(record["impacttoetsen"])),
                Row("Verwerkingsregister", _web(record["process_index_url"])),
                Row("Gebruikt bij deze verwerkingen", activities),
            ],
        ),
        Section(
            "werking",
            "Werking",
            rows=[
                Row("Gegevens", rich(record["source_data"])),
                Row("Links naar gegevensbronnen", _groupings(record["source_data_grouping"])),
                Row("Technische werking", rich(record["methods_and_models"])),
                Row("Leverancier", record["provider"]),
                Row("Broncode", _web(record["publiccode"])),
                Row("Trefwoorden", rich(record["tags"])),
            ],
        ),
    ]
    return DetailPage(
        title=algorithm.name,
        lead=algorithm.description_short,
        badges=badges,
        sections=sections,
        meta=_meta(stored, f"{api_org_url(org_id)}/algorithms/{algorithm.id}"),
    )


# --- sensors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorRow:
    name: str
    url: str
    type: str
    theme: str
    location: str
    map_url: str
    personal_data: bool
    activities: list[Link]


def _sensor_activities(reg: OrganisationRegister, sensor: Sensor) -> list[Link]:
    org_id = reg.organisation.organisation_id
    links = []
    for activity_id in sensor.activities:
        activity = reg.activity(activity_id)
        if activity is not None:
            links.append(Link(activity.name, activity_url(org_id, activity_id)))
    return links


def sensor_rows(reg: OrganisationRegister) -> list[SensorRow]:
    org_id = reg.organisation.organisation_id
    return [
        SensorRow(
            name=s.name,
            url=sensor_url(org_id, s.id),
            type=s.type,
            theme=s.theme,
            location=fmt.coordinate_nl(s.latitude, s.longitude),
            map_url=fmt.map_link(s.latitude, s.longitude),
            personal_data=s.personal_data,
            activities=_sensor_activities(reg, s),
        )
        for s in reg.sensors()
    ]


def sensor_detail(reg: OrganisationRegister, stored: StoredEntry) -> DetailPage:
    sensor = stored.entry
    assert isinstance(sensor, Sensor)
    org = reg.org
    org_id = reg.organisation.organisation_id
    badges = [
        Badge("Legt persoonsgegevens vast", "warning")
        if sensor.personal_data
        else Badge("Geen persoonsgegevens", "safe")
    ]
    if sensor.mobile:
        badges.append(Badge("Verplaatsbaar", "neutral"))
    retention = (
        fmt.duration_nl(f"P{sensor.retention_months}M")
        if sensor.retention_months is not None
        else None
    )
    sections = [
        Section(
            "sensor",
            "Over deze sensor",
            rows=[
                Row("Doel", sensor.purpose),
                Row("Soort sensor", sensor.type),
                Row("Thema", sensor.theme),
                Row("Wat meet de sensor", list(sensor.measures)),
                Row("Persoonsgegevens", fmt.yes_no(sensor.personal_data).capitalize()),
                Row(
                    "Verplaatsbaar (bijvoorbeeld in een auto)",
                    fmt.yes_no(sensor.mobile).capitalize(),
                ),
                Row("Geldig tot", fmt.date_nl(sensor.valid_until), optional=True),
            ],
        ),
        Section(
            "locatie",
            "Waar staat de sensor?",
            rows=[
                Row("Coördinaten", fmt.coordinate_nl(sensor.latitude, sensor.longitude)),
                Row(
                    "Kaart",
                    Link(
                        "Bekijk de plek op OpenStreetMap",
                        fmt.map_link(sensor.latitude, sensor.longitude),
                        external=True,
                    ),
                ),
            ],
        ),
        Section(
            "privacy",
            "Privacy",
            rows=[
                Row("Eigenaar", sensor.owner or org.name),
                Row("Contact", _mail(sensor.contact_email or org.contact_email)),
                Row("Grondslag", sensor.legal_basis),
                Row("Bewaartermijn", retention),
                Row("Hoort bij deze verwerkingen", list(_sensor_activities(reg, sensor))),
            ],
        ),
    ]
    return DetailPage(
        title=sensor.name,
        lead=sensor.purpose,
        badges=badges,
        sections=sections,
        meta=_meta(stored, f"{api_org_url(org_id)}/sensors/{sensor.id}"),
    )
