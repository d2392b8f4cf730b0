"""The register's entities as typed models: the single definition of what a register YAML may say.

The published JSON Schema (`glazenstad register schema`, `/api/v1/schemas/register`) is generated
from these models, so the schema, the loader and the API can never disagree. Field names are
English (code); values that a Dutch standard fixes (confidentiality, Algoritmeregister fields,
sensor types) keep their Dutch spelling.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Literal

import isodate
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic.alias_generators import to_camel

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,79}$",
        description="Stable id within the organisation: lowercase letters, digits, hyphens.",
    ),
]
HttpsUrl = Annotated[str, Field(pattern=r"^https://[^\s]+$", max_length=500)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", max_length=254)]
YearMonth = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="yyyy-mm")]
HtmlText = Annotated[str, Field(max_length=2500)]

KIND_ORGANISATION = "organisation"
KIND_ACTIVITY = "processing-activity"
KIND_DATA_CATEGORY = "data-category"
KIND_DATASET = "dataset"
KIND_ALGORITHM = "algorithm"
KIND_SENSOR = "sensor"


class _Strict(BaseModel):
    """Unknown fields are errors: a typo in a register file must not silently vanish."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        frozen=True,
        # YAML is written in snake_case; the API answers in lowerCamelCase (NL API Design Rules).
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=False,
    )


class LawReference(_Strict):
    """A reference to Dutch law in the national law database (wetten.overheid.nl)."""

    title: str = Field(max_length=200, description="Name of the law, e.g. Gemeentewet.")
    bwb_id: str = Field(
        pattern=r"^BWB[RV]\d{7}$", description="BWB identifier, e.g. BWBR0005416 (Gemeentewet)."
    )
    article: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[0-9]+[a-z]{0,3}([.:][0-9]+[a-z]{0,3})*$",
        description="Article number as in the law, e.g. 234 or 2.3.",
    )
    paragraph: str | None = Field(default=None, max_length=20, description="Lid, e.g. 1.")
    link: HttpsUrl | None = Field(
        default=None,
        description="Link to the law; when empty a juriconnect link is derived from BWB id and "
        "article.",
    )

    @property
    def effective_link(self) -> str:
        """The link to show: the given one, or the juriconnect reference to the article."""
        if self.link:
            return self.link
        url = f"https://wetten.overheid.nl/jci1.3:c:{self.bwb_id}"
        if self.article:
            url += f"&artikel={self.article}"
            if self.paragraph:
                url += f"&lid={self.paragraph}"
        return url

    @property
    def label(self) -> str:
        parts = [self.title]
        if self.article:
            parts.append(f"artikel {self.article}")
        if self.paragraph:
            parts.append(f"lid {self.paragraph}")
        return ", ".join(parts)


AVG_GROUNDS: dict[str, str] = {
    "a": "toestemming van de betrokkene",
    "b": "uitvoering van een overeenkomst",
    "c": "wettelijke verplichting",
    "d": "vitale belangen",
    "e": "taak van algemeen belang of openbaar gezag",
    "f": "gerechtvaardigd belang",
}


class LegalBasis(_Strict):
    """Why the processing is lawful: the AVG art. 6(1) ground plus the national law behind it."""

    avg_ground: Literal["a", "b", "c", "d", "e", "f"] = Field(
        description="Ground of AVG article 6(1): a consent, b contract, c legal obligation, "
        "d vital interests, e public task, f legitimate interest."
    )
    explanation: str = Field(min_length=1, max_length=2500, description="Plain Dutch (B1).")
    laws: list[LawReference] = Field(default_factory=list)
    special_category_ground: str | None = Field(
        default=None,
        max_length=500,
        description="Exception for special categories (AVG art. 9(2) or UAVG), when they apply.",
    )

    @property
    def avg_ground_label(self) -> str:
        return f"AVG artikel 6 lid 1 sub {self.avg_ground}: {AVG_GROUNDS[self.avg_ground]}"


class RetentionRule(_Strict):
    """How long data is kept for one outcome of the processing (e.g. paid vs unpaid scan)."""

    outcome: str = Field(
        min_length=1, max_length=100, description="e.g. betaald, onbetaald, standaard."
    )
    period: str | None = Field(default=None, description="ISO 8601 duration, e.g. PT24H, P6M, P7Y.")
    trigger: str | None = Field(
        default=None,
        max_length=300,
        description="The event from which the period counts, when not the processing itself, "
        "e.g. 'einde bezwaar- en beroepstermijn'.",
    )
    description: str | None = Field(default=None, max_length=1000)

    @field_validator("period")
    @classmethod
    def _iso_duration(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parsed = isodate.parse_duration(value)
        except (isodate.ISO8601Error, ValueError) as exc:
            raise ValueError(f"'{value}' is not an ISO 8601 duration such as PT24H or P7Y") from exc
        if not parsed:
            raise ValueError("a retention period must be longer than zero")
        return value

    @model_validator(mode="after")
    def _period_or_trigger(self) -> RetentionRule:
        if self.period is None and self.trigger is None:
            raise ValueError("give a period (ISO 8601 duration) or a trigger event, or both")
        return self


class Recipient(_Strict):
    name: str = Field(min_length=1, max_length=200)
    category: Literal["intern", "overheid", "verwerker", "derde"] = Field(
        description="intern (own organisation), overheid (other public body), verwerker "
        "(processor), derde (other third party)."
    )
    purpose: str | None = Field(default=None, max_length=500)


class Processor(_Strict):
    name: str = Field(min_length=1, max_length=200)
    agreement: bool = Field(description="A processing agreement (verwerkersovereenkomst) exists.")
    country: str = Field(default="NL", pattern=r"^[A-Z]{2}$")


class ThirdCountryTransfer(_Strict):
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.")
    safeguard: str = Field(min_length=1, max_length=500, description="e.g. adequacy decision, SCC.")


class Dpia(_Strict):
    status: Literal["niet-nodig", "nodig", "in-uitvoering", "uitgevoerd"]
    date: dt.date | None = None
    link: HttpsUrl | None = None
    reason: str | None = Field(default=None, max_length=1000, description="Why (not) needed.")


class Organisation(_Strict):
    """A controller: a municipality (several may share one installation)."""

    kind: Literal["organisation"]
    KIND: ClassVar[str] = KIND_ORGANISATION
    id: Slug
    name: str = Field(min_length=1, max_length=100, description="Name as in the TOOI list.")
    type: Literal["gemeente", "samenwerkingsverband", "overig"] = "gemeente"
    tooi: str | None = Field(
        default=None, pattern=r"^(gm|ws|pv|oorg)\d{4,8}$", description="TOOI code, e.g. gm0363."
    )
    register_uri: HttpsUrl = Field(
        description="Base URI of the register; entry URIs are <register_uri>/<kind>/<id>."
    )
    website: HttpsUrl | None = None
    contact_email: Email
    privacy_officer: str = Field(min_length=1, max_length=200, description="The DPO (FG).")
    privacy_officer_email: Email
    address: str | None = Field(default=None, max_length=300)
    algorithm_contact_email: Email | None = None


class DataCategory(_Strict):
    kind: Literal["data-category"]
    KIND: ClassVar[str] = KIND_DATA_CATEGORY
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    personal: bool = Field(default=True, description="Personal data in the sense of the AVG.")
    special: Literal["nee", "bijzonder", "strafrechtelijk"] = Field(
        default="nee",
        description="bijzonder: AVG art. 9; strafrechtelijk: AVG art. 10.",
    )
    identifier: Literal["BSN", "kenteken", "overig"] | None = Field(
        default=None, description="The category is itself an identifier of a person."
    )

    @property
    def is_bsn(self) -> bool:
        return self.identifier == "BSN"


class Dataset(_Strict):
    """A dataset or source system, and which data categories it holds."""

    kind: Literal["dataset"]
    KIND: ClassVar[str] = KIND_DATASET
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    system: str = Field(min_length=1, max_length=200, description="The source application.")
    supplier: str | None = Field(default=None, max_length=200)
    owner: str = Field(min_length=1, max_length=200, description="Department that owns it.")
    data_categories: list[Slug] = Field(default_factory=list)
    api_url: HttpsUrl | None = Field(default=None, description="Where the source API lives.")
    hosting: str | None = Field(default=None, max_length=200)


class ProcessingActivity(_Strict):
    """A processing activity (verwerkingsactiviteit) with every AVG art. 30 field."""

    kind: Literal["processing-activity"]
    KIND: ClassVar[str] = KIND_ACTIVITY
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5000, description="Plain Dutch (B1).")
    theme: str | None = Field(default=None, max_length=100, description="e.g. Parkeren.")
    purposes: list[str] = Field(min_length=1)
    legal_basis: LegalBasis
    data_subject_categories: list[str] = Field(min_length=1)
    data_categories: list[Slug] = Field(min_length=1)
    datasets: list[Slug] = Field(default_factory=list)
    recipients: list[Recipient] = Field(default_factory=list)
    processors: list[Processor] = Field(default_factory=list)
    third_country_transfers: list[ThirdCountryTransfer] = Field(default_factory=list)
    retention: list[RetentionRule] = Field(default_factory=list)
    security_measures: str | None = Field(default=None, max_length=2500)
    confidentiality: Literal["normaal", "vertrouwelijk"] = "normaal"
    dpia: Dpia
    roles: list[str] = Field(default_factory=list, description="Roles that carry it out.")
    departments: list[str] = Field(default_factory=list)
    owner: str = Field(min_length=1, max_length=200, description="Accountable department/role.")
    status: Literal["concept", "actief", "beeindigd"] = "actief"
    automated_decision_making: bool = Field(
        default=False, description="Decisions solely by automated means (AVG art. 22)."
    )
    data_source: str | None = Field(default=None, max_length=1000)


ALGORITHM_THEMES = (
    "Organisatie en bedrijfsvoering",
    "Cultuur en recreatie",
    "Economie",
    "Overheidsfinanciën",
    "Wonen",
    "Internationaal",
    "Migratie en integratie",
    "Natuur en milieu",
    "Onderwijs en wetenschap",
    "Openbare orde en veiligheid",
    "Recht",
    "Ruimte en infrastructuur",
    "Sociale zekerheid",
    "Verkeer",
    "Werk",
    "Zorg en gezondheid",
)
AlgorithmTheme = Literal[
    "Organisatie en bedrijfsvoering",
    "Cultuur en recreatie",
    "Economie",
    "Overheidsfinanciën",
    "Wonen",
    "Internationaal",
    "Migratie en integratie",
    "Natuur en milieu",
    "Onderwijs en wetenschap",
    "Openbare orde en veiligheid",
    "Recht",
    "Ruimte en infrastructuur",
    "Sociale zekerheid",
    "Verkeer",
    "Werk",
    "Zorg en gezondheid",
]


class TitleLink(_Strict):
    title: str = Field(min_length=1, max_length=500)
    link: HttpsUrl | None = None


class Algorithm(_Strict):
    """An algorithm with the fields of the Algoritmeregister publication standard v1.0.

    Field names follow the standard so the export is a straight mapping. `organization` and
    `contact_email` default to the organisation's own values.
    """

    kind: Literal["algorithm"]
    KIND: ClassVar[str] = KIND_ALGORITHM
    id: Slug
    name: str = Field(min_length=1, max_length=100)
    description_short: str = Field(min_length=1, max_length=350)
    organization: str | None = Field(default=None, max_length=100)
    category: list[AlgorithmTheme] = Field(default_factory=list, max_length=3)
    status: Literal["In ontwikkeling", "In gebruik", "Buiten gebruik"]
    # "yyyy-mm" is not a date; the API calls them months so clients do not parse them as dates.
    begin_date: YearMonth | None = Field(default=None, alias="beginMonth")
    end_date: YearMonth | None = Field(default=None, alias="endMonth")
    contact_email: str | None = Field(default=None, max_length=500)
    website: HttpsUrl | None = None
    publication_category: Literal[
        "Hoog-risico AI-systeem", "Impactvolle algoritmes", "Overige algoritmes"
    ]
    url: HttpsUrl | None = None
    goal: HtmlText | None = None
    proportionality: HtmlText | None = None
    human_intervention: HtmlText | None = None
    risks: HtmlText | None = None
    lawful_basis: HtmlText | None = None
    lawful_basis_grouping: list[TitleLink] = Field(default_factory=list)
    process_index_url: HttpsUrl | None = None
    impacttoetsen_grouping: list[TitleLink] = Field(default_factory=list)
    impacttoetsen: HtmlText | None = None
    source_data: HtmlText | None = None
    source_data_grouping: list[TitleLink] = Field(default_factory=list)
    methods_and_models: str | None = Field(default=None, max_length=5000)
    provider: str | None = Field(default=None, max_length=200)
    publiccode: HttpsUrl | None = None
    tags: str | None = Field(default=None, max_length=2500)
    activities: list[Slug] = Field(default_factory=list, description="Activities it serves.")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Algorithm:
        if self.begin_date and self.end_date and self.end_date < self.begin_date:
            raise ValueError("end_date lies before begin_date")
        return self


SENSOR_TYPES = (
    "nabijheid",
    "elektrisch",
    "vloeistof",
    "camera/optisch",
    "temperatuur",
    "klimaat",
    "overig",
)


class Sensor(_Strict):
    """A sensor in public space, with the fields of the national sensor register."""

    kind: Literal["sensor"]
    KIND: ClassVar[str] = KIND_SENSOR
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=1000)
    type: Literal[
        "nabijheid",
        "elektrisch",
        "vloeistof",
        "camera/optisch",
        "temperatuur",
        "klimaat",
        "overig",
    ]
    theme: str = Field(min_length=1, max_length=100)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    valid_until: dt.date | None = None
    personal_data: bool
    mobile: bool = False
    measures: list[str] = Field(default_factory=list, description="e.g. pm25, no2, kenteken.")
    owner: str | None = Field(default=None, max_length=200, description="Defaults to the org.")
    contact_email: Email | None = None
    legal_basis: str | None = Field(default=None, max_length=1000)
    retention_months: int | None = Field(default=None, ge=0, le=1200)
    activities: list[Slug] = Field(default_factory=list)


Entry = Organisation | DataCategory | Dataset | ProcessingActivity | Algorithm | Sensor

MODELS: dict[str, type[Entry]] = {
    model.KIND: model
    for model in (Organisation, DataCategory, Dataset, ProcessingActivity, Algorithm, Sensor)
}

# Plural path segments used in entry URIs and API paths.
URI_SEGMENTS: dict[str, str] = {
    KIND_ORGANISATION: "organisation",
    KIND_DATA_CATEGORY: "data-categories",
    KIND_DATASET: "datasets",
    KIND_ACTIVITY: "processing-activities",
    KIND_ALGORITHM: "algorithms",
    KIND_SENSOR: "sensors",
}

# Which fields of which kind refer to which other kind (checked by the loader).
REFERENCES: dict[str, dict[str, str]] = {
    KIND_DATASET: {"data_categories": KIND_DATA_CATEGORY},
    KIND_ACTIVITY: {"data_categories": KIND_DATA_CATEGORY, "datasets": KIND_DATASET},
    KIND_ALGORITHM: {"activities": KIND_ACTIVITY},
    KIND_SENSOR: {"activities": KIND_ACTIVITY},
}

_ENTRY_ADAPTER: TypeAdapter[Entry] = TypeAdapter(Annotated[Entry, Field(discriminator="kind")])


def entry_uri(register_uri: str, kind: str, entry_id: str) -> str:
    """The stable URI of an entry, as used in log records (`dpl.core.processing_activity_id`)."""
    base = register_uri.rstrip("/")
    if kind == KIND_ORGANISATION:
        return base
    return f"{base}/{URI_SEGMENTS[kind]}/{entry_id}"


def register_json_schema() -> dict[str, Any]:
    """The JSON Schema of one register YAML document, as published by the project."""
    schema = _ENTRY_ADAPTER.json_schema(by_alias=False)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://glazenstad.nl/schemas/register.schema.json"
    schema["title"] = "Glazen Stad register entry"
    schema["description"] = (
        "One document of a register YAML file: an organisation, processing activity, data "
        "category, dataset, algorithm or sensor, chosen by its `kind`."
    )
    return schema


def parse_entry(document: dict[str, Any]) -> Entry:
    """Validate a stored document back into its model (documents are valid when stored)."""
    return MODELS[document["kind"]].model_validate(document)


_HTML_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")


def html_tags(text: str) -> set[str]:
    """The HTML element names used in a rich-text field."""
    return {match.group(1).lower() for match in _HTML_TAG.finditer(text)}
