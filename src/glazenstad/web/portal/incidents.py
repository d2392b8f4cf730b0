"""Data breaches and break-the-glass reviews in the staff portal (Dutch, B1).

Pages, for staff of one organisation:

- `/medewerkers/datalekken`: the breaches, with the 72-hour deadline of each in words ("nog 5
  uur", "2 uur te laat") and a badge that says the same, so nothing depends on colour;
- `/medewerkers/datalekken/nieuw` and `/<nr>/aanpassen`: register a breach, correct it;
- `/medewerkers/datalekken/<nr>`: one breach: facts, deadline, decisions, history, and the forms
  for the next steps (notify the AP or not, the AP's reference, tell the residents or not, close);
- `/medewerkers/datalekken/<nr>/omvang`: how many data subjects the logbook shows for the
  breach's activities and period (counts only);
- `/medewerkers/doorbraken`: decisions taken under break-the-glass, those waiting first;
- `/medewerkers/doorbraken/<decision id>`: one decision with the review form.

Moments are typed and shown in Dutch time; the deadline is 72 hours of elapsed time after the
discovery (see insight.incidents.timing). Forms carry the double-submit token of `devlogin` and
the revision they were based on, so a change made meanwhile by a colleague is not overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glazenstad.db.base import utcnow
from glazenstad.insight.incidents import breaches as br
from glazenstad.insight.incidents import reviews as rv
from glazenstad.insight.incidents import sizing
from glazenstad.insight.incidents import wording as w
from glazenstad.insight.incidents.timing import MomentError, local, parse_moment
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.explain import ACTION_WORDS
from glazenstad.web import staff
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import views
from glazenstad.web.portal.devlogin import CSRF_FIELD, check_csrf, page_with_csrf
from glazenstad.web.portal.stafflogin import HOME_PATH as STAFF_HOME
from glazenstad.web.state import get_state

router = APIRouter(include_in_schema=False)
BREACHES: Final = "/medewerkers/datalekken"
REVIEWS: Final = "/medewerkers/doorbraken"
PAGE_SIZE: Final = 50
MAX_FIELD: Final = 2 * br.MAX_TEXT
MAX_ID: Final = 2**62

READ_BREACHES = staff.portal_staff(staff.INSIGHT_READ, staff.INCIDENTS_MANAGE)
MANAGE_BREACHES = staff.portal_staff(staff.INCIDENTS_MANAGE)
READ_REVIEWS = staff.portal_staff(staff.INSIGHT_READ, staff.BREAK_GLASS_REVIEW)
REVIEW = staff.portal_staff(staff.BREAK_GLASS_REVIEW)

DEADLINE_BADGES: Final[dict[str, views.Badge]] = {
    "running": views.Badge("Termijn loopt", "warning"),
    "overdue": views.Badge("Te laat", "danger"),
    "in-time": views.Badge("Op tijd afgehandeld", "safe"),
    "late": views.Badge("Te laat afgehandeld", "danger"),
}
STATUS_TONES: Final[dict[str, views.Tone]] = {
    br.OPEN: "warning",
    br.NOTIFIED: "safe",
    br.NOT_NOTIFIABLE: "safe",
    br.CLOSED: "neutral",
}
VERDICT_BADGES: Final[dict[str | None, views.Badge]] = {
    rv.JUSTIFIED: views.Badge("Terecht", "safe"),
    rv.UNJUSTIFIED: views.Badge("Niet terecht", "danger"),
    None: views.Badge("Nog niet beoordeeld", "warning"),
}
NOTICES: Final = {
    "geregistreerd": "Het datalek is geregistreerd. Besluit binnen 72 uur na de ontdekking of u "
    "het meldt bij de Autoriteit Persoonsgegevens.",
    "aangepast": "De gegevens van het datalek zijn aangepast.",
    "ap": "Het besluit over melden bij de Autoriteit Persoonsgegevens is vastgelegd.",
    "melding": "De melding bij de Autoriteit Persoonsgegevens is vastgelegd.",
    "betrokkenen": "Het besluit over het informeren van de betrokkenen is vastgelegd.",
    "afgesloten": "Het datalek is afgesloten.",
    "beoordeeld": "Uw beoordeling is vastgelegd.",
}
PERSONAL_DATA_WARNING: Final = (
    "Schrijf geen persoonsgegevens op: geen namen, burgerservicenummers (BSN), adressen of "
    "kentekens. Beschrijf wat er gebeurde en om welke soort gegevens het gaat."
)


# --- shared helpers ----------------------------------------------------------------------------


def _register(request: Request, organisation_id: str) -> OrganisationRegister | None:
    from glazenstad.web.portal.routes import snapshot_of

    return snapshot_of(request).organisation(organisation_id)


def _crumbs(*last: views.Crumb) -> list[views.Crumb]:
    return [views.Crumb("Home", "/"), views.Crumb("Medewerkers", STAFF_HOME), *last]


def _who(user: staff.StaffUser) -> br.Who:
    return br.Who(user.id, user.name)


def _local_input(moment: datetime | None) -> str:
    """The value of a datetime-local field: Dutch wall-clock time to the minute."""
    return local(moment).strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


def _moment(value: str, name: str, errors: dict[str, str], *, required: bool) -> datetime | None:
    """A typed moment (Dutch time), or None with a message in `errors`."""
    if not value.strip():
        if required:
            errors[name] = "Vul een datum en tijd in."
        return None
    try:
        return parse_moment(value)
    except MomentError as error:
        errors[name] = error.message
        return None


def _activity_name(register: OrganisationRegister | None, activity_id: str) -> str:
    found = register.activity(activity_id) if register is not None else None
    return found.name if found is not None else activity_id


def _category_name(register: OrganisationRegister | None, category_id: str) -> str:
    found = register.data_category(category_id) if register is not None else None
    return found.name if found is not None else category_id


def _paragraphs(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").splitlines() if part.strip()]


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    checked: bool


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


# --- the list of breaches ----------------------------------------------------------------------


def deadline_badge(breach: br.Breach, now: datetime) -> views.Badge:
    return DEADLINE_BADGES[w.deadline_state(breach, now)]


def status_badge(status: str) -> views.Badge:
    return views.Badge(w.STATUS_LABELS.get(status, status), STATUS_TONES.get(status, "neutral"))


def breach_url(breach_id: int) -> str:
    return f"{BREACHES}/{breach_id}"


def _breach_row(breach: br.Breach, now: datetime) -> tuple[views.Value, ...]:
    return (
        views.Link(f"Datalek {breach.id}: {breach.title}", breach_url(breach.id)),
        w.moment_nl(breach.discovered_at),
        status_badge(breach.status),
        [deadline_badge(breach, now), w.deadline_text(breach, now)],
    )


BREACH_HEADERS: Final = ("Datalek", "Ontdekt", "Status", "Termijn van 72 uur")


@router.get(BREACHES, response_class=HTMLResponse)
def breach_list(
    request: Request,
    status: str | None = None,
    user: staff.StaffUser = Depends(READ_BREACHES),
) -> Response:
    chosen = status if status in br.STATUSES else None
    now = utcnow()
    engine = get_state(request).engine
    overdue = br.overdue_breaches(engine, user.organisation_id, now)
    found = br.list_breaches(engine, user.organisation_id, status=chosen)
    count = fmt.plural(len(found), "datalek", "datalekken")
    return page_with_csrf(
        request,
        "incidents.html",
        overdue=views.Table(
            "Datalekken waarvan de termijn van 72 uur voorbij is",
            BREACH_HEADERS,
            [_breach_row(b, now) for b in overdue],
        )
        if overdue
        else None,
        breaches=views.Table(
            "Alle datalekken", BREACH_HEADERS, [_breach_row(b, now) for b in found]
        ),
        summary=f"{count} gevonden." if found else "Geen datalekken gevonden.",
        statuses=[Option("", "Alle", chosen is None)]
        + [Option(s, w.STATUS_LABELS[s], s == chosen) for s in br.STATUSES],
        filtered=chosen is not None,
        may_manage=user.can(staff.INCIDENTS_MANAGE),
        new_url=f"{BREACHES}/nieuw",
        crumbs=_crumbs(views.Crumb("Datalekken")),
    )


# --- registering and correcting ----------------------------------------------------------------

FACT_FIELDS: Final = {
    "title": "titel",
    "description": "beschrijving",
    "discoveredAt": "ontdekt",
    "occurredFrom": "begonnen",
    "occurredUntil": "geeindigd",
    "activities": "verwerkingen",
    "dataCategories": "gegevens",
    "estimatedSubjects": "aantal",
}


@dataclass(frozen=True)
class BreachForm:
    heading: str
    action: str
    submit: str
    values: dict[str, str]
    activities: list[Choice]
    categories: list[Choice]
    revision: int | None
    errors: dict[str, str] = field(default_factory=dict)


def _form(
    register: OrganisationRegister | None,
    *,
    heading: str,
    action: str,
    submit: str,
    values: dict[str, str],
    activities: list[str],
    categories: list[str],
    revision: int | None = None,
    errors: dict[str, str] | None = None,
) -> BreachForm:
    known = register.activities() if register is not None else []
    kinds = register.data_categories() if register is not None else []
    return BreachForm(
        heading=heading,
        action=action,
        submit=submit,
        values=values,
        activities=[Choice(a.id, a.name, a.id in activities) for a in known],
        categories=[Choice(c.id, c.name, c.id in categories) for c in kinds],
        revision=revision,
        errors=dict(errors or {}),
    )


def _form_page(request: Request, form: BreachForm, crumb: str, status_code: int = 200) -> Response:
    return page_with_csrf(
        request,
        "incident_form.html",
        status_code=status_code,
        form=form,
        warning=PERSONAL_DATA_WARNING,
        max_title=br.MAX_TITLE,
        max_text=br.MAX_TEXT,
        crumbs=_crumbs(views.Crumb("Datalekken", BREACHES), views.Crumb(crumb)),
    )


def _facts_from_form(
    data: FormData, errors: dict[str, str]
) -> tuple[dict[str, str], list[str], list[str], br.BreachFacts | None]:
    """The typed values (to show again), the ticked ids, and the facts when they can be read."""
    values = {
        name: str(data.get(name, ""))[:MAX_FIELD]
        for name in ("titel", "beschrijving", "ontdekt", "begonnen", "geeindigd", "aantal")
    }
    activities = [str(v)[:80] for v in data.getlist("verwerkingen")][:200]
    categories = [str(v)[:80] for v in data.getlist("gegevens")][:200]
    discovered = _moment(values["ontdekt"], "ontdekt", errors, required=True)
    started = _moment(values["begonnen"], "begonnen", errors, required=False)
    ended = _moment(values["geeindigd"], "geeindigd", errors, required=False)
    estimated: int | None = None
    if values["aantal"].strip():
        text = values["aantal"].strip().replace(".", "")
        if text.isdigit() and len(text) <= 10:
            estimated = int(text)
        else:
            errors["aantal"] = "Vul een geheel getal in, bijvoorbeeld 120."
    if not values["titel"].strip():
        errors["titel"] = "Vul een korte omschrijving in."
    if not values["beschrijving"].strip():
        errors["beschrijving"] = "Beschrijf wat er is gebeurd."
    if errors or discovered is None:
        return values, activities, categories, None
    facts = br.BreachFacts(
        title=values["titel"],
        description=values["beschrijving"],
        discovered_at=discovered,
        occurred_from=started,
        occurred_until=ended,
        activities=tuple(activities),
        data_categories=tuple(categories),
        estimated_subjects=estimated,
    )
    return values, activities, categories, facts


def _fact_error(error: br.BreachError) -> dict[str, str]:
    head = (error.field or "").split("[")[0]
    return {FACT_FIELDS.get(head, "titel"): error.message}


@router.get(f"{BREACHES}/nieuw", response_class=HTMLResponse)
def new_breach(request: Request, user: staff.StaffUser = Depends(MANAGE_BREACHES)) -> Response:
    form = _form(
        _register(request, user.organisation_id),
        heading="Datalek registreren",
        action=f"{BREACHES}/nieuw",
        submit="Registreren",
        values={"ontdekt": _local_input(utcnow())},
        activities=[],
        categories=[],
    )
    return _form_page(request, form, "Datalek registreren")


@router.post(f"{BREACHES}/nieuw", response_class=HTMLResponse)
async def register_breach(
    request: Request, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    data = await request.form()
    check_csrf(request, str(data.get(CSRF_FIELD, "")))
    errors: dict[str, str] = {}
    values, activities, categories, facts = _facts_from_form(data, errors)
    state = get_state(request)
    if facts is not None:
        try:
            breach = br.register_breach(
                state.engine, state.register, user.organisation_id, facts, _who(user)
            )
        except br.BreachError as error:
            errors = _fact_error(error)
        else:
            return RedirectResponse(f"{breach_url(breach.id)}?gedaan=geregistreerd", 303)
    form = _form(
        _register(request, user.organisation_id),
        heading="Datalek registreren",
        action=f"{BREACHES}/nieuw",
        submit="Registreren",
        values=values,
        activities=activities,
        categories=categories,
        errors=errors,
    )
    return _form_page(request, form, "Datalek registreren", 400)


def _get_breach(request: Request, user: staff.StaffUser, breach_id: int) -> br.Breach:
    if not 1 <= breach_id <= MAX_ID:
        raise HTTPException(status_code=404)
    breach = br.get_breach(get_state(request).engine, user.organisation_id, breach_id)
    if breach is None:
        raise HTTPException(status_code=404)
    return breach


def _edit_form(
    request: Request,
    breach: br.Breach,
    *,
    values: dict[str, str] | None = None,
    activities: list[str] | None = None,
    categories: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> BreachForm:
    return _form(
        _register(request, breach.organisation_id),
        heading=f"Datalek {breach.id} aanpassen",
        action=f"{breach_url(breach.id)}/aanpassen",
        submit="Opslaan",
        values=values
        or {
            "titel": breach.title,
            "beschrijving": breach.description,
            "ontdekt": _local_input(breach.discovered_at),
            "begonnen": _local_input(breach.occurred_from),
            "geeindigd": _local_input(breach.occurred_until),
            "aantal": "" if breach.estimated_subjects is None else str(breach.estimated_subjects),
        },
        activities=list(breach.activities) if activities is None else activities,
        categories=list(breach.data_categories) if categories is None else categories,
        revision=breach.revision,
        errors=errors,
    )


@router.get(BREACHES + "/{breach_id:int}/aanpassen", response_class=HTMLResponse)
def edit_breach(
    request: Request, breach_id: int, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    breach = _get_breach(request, user, breach_id)
    if breach.status == br.CLOSED:
        return RedirectResponse(breach_url(breach.id), 303)
    return _form_page(request, _edit_form(request, breach), f"Datalek {breach.id} aanpassen")


def _revision(data: FormData) -> int | None:
    text = str(data.get("versie", ""))
    return int(text) if text.isdigit() and len(text) < 10 else None


@router.post(BREACHES + "/{breach_id:int}/aanpassen", response_class=HTMLResponse)
async def change_breach(
    request: Request, breach_id: int, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    data = await request.form()
    check_csrf(request, str(data.get(CSRF_FIELD, "")))
    breach = _get_breach(request, user, breach_id)
    errors: dict[str, str] = {}
    values, activities, categories, facts = _facts_from_form(data, errors)
    status_code = 400
    if facts is not None:
        state = get_state(request)
        updates = {
            name: getattr(facts, name)
            for name in (
                "title",
                "description",
                "discovered_at",
                "occurred_from",
                "occurred_until",
                "activities",
                "data_categories",
                "estimated_subjects",
            )
        }
        try:
            br.change_facts(
                state.engine,
                state.register,
                user.organisation_id,
                breach_id,
                updates,
                _who(user),
                expected_revision=_revision(data),
            )
        except br.BreachConflict as error:
            errors, status_code = {"titel": str(error)}, 409
        except br.BreachError as error:
            errors = _fact_error(error)
            status_code = 409 if error.field == "status" else 400
        else:
            return RedirectResponse(f"{breach_url(breach_id)}?gedaan=aangepast", 303)
    form = _edit_form(
        request,
        breach,
        values=values,
        activities=activities,
        categories=categories,
        errors=errors,
    )
    return _form_page(request, form, f"Datalek {breach.id} aanpassen", status_code)


# --- one breach --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreachPage:
    breach: br.Breach
    title: str
    deadline: list[views.Row]
    facts: list[views.Row]
    authority: list[views.Row]
    residents: list[views.Row]
    history: views.Table
    description: list[str]
    may_manage: bool
    show_authority_decision: bool
    show_authority_notification: bool
    show_residents: bool
    show_close: bool
    notice: str | None
    # Per form ("ap", "melding", "betrokkenen", "afsluiten"): what was typed and what is wrong.
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    if value is None:
        return "Nog niet besloten"
    return yes if value else no


def _change_text(changes: dict[str, list[Any]]) -> str:
    return fmt.join_nl([w.FIELD_LABELS.get(name, name) for name in changes])


def breach_page(
    request: Request,
    user: staff.StaffUser,
    breach: br.Breach,
    *,
    notice: str | None = None,
    values: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
) -> BreachPage:
    now = utcnow()
    register = _register(request, breach.organisation_id)
    history = br.breach_history(get_state(request).engine, breach.organisation_id, breach.id)
    manage = user.can(staff.INCIDENTS_MANAGE) and breach.status != br.CLOSED
    return BreachPage(
        breach=breach,
        title=f"Datalek {breach.id}: {breach.title}",
        deadline=[
            views.Row("Ontdekt op", w.moment_nl(breach.discovered_at)),
            views.Row("Uiterlijk melden op", w.moment_nl(breach.deadline)),
            views.Row(
                "Termijn van 72 uur",
                [deadline_badge(breach, now), w.deadline_text(breach, now)],
            ),
        ],
        facts=[
            views.Row("Status", status_badge(breach.status)),
            views.Row("Begonnen op", w.moment_nl(breach.occurred_from) or "Niet bekend"),
            views.Row("Geëindigd op", w.moment_nl(breach.occurred_until) or "Niet bekend"),
            views.Row(
                "Verwerkingen",
                [
                    views.Link(
                        _activity_name(register, a),
                        f"/organisaties/{breach.organisation_id}/verwerkingen/{a}",
                    )
                    for a in breach.activities
                ]
                or "Nog niet bekend",
            ),
            views.Row(
                "Soorten gegevens",
                [_category_name(register, c) for c in breach.data_categories] or "Nog niet bekend",
            ),
            views.Row(
                "Geschat aantal betrokkenen",
                fmt.plural(breach.estimated_subjects, "persoon", "personen")
                if breach.estimated_subjects is not None
                else "Niet bekend",
            ),
            views.Row("Geregistreerd op", w.moment_nl(breach.registered_at)),
        ],
        authority=[
            views.Row("Besluit", _yes_no(breach.authority_notify, "Melden", "Niet melden")),
            views.Row("Reden", breach.authority_reason, optional=True),
            views.Row("Besloten op", w.moment_nl(breach.authority_decided_at), optional=True),
            views.Row("Gemeld op", w.moment_nl(breach.authority_notified_at), optional=True),
            views.Row("Kenmerk van de AP", breach.authority_reference, optional=True),
        ],
        residents=[
            views.Row("Besluit", _yes_no(breach.residents_notify, "Informeren", "Niet informeren")),
            views.Row("Reden", breach.residents_reason, optional=True),
            views.Row("Besloten op", w.moment_nl(breach.residents_decided_at), optional=True),
            views.Row("Geïnformeerd op", w.moment_nl(breach.residents_notified_at), optional=True),
        ],
        history=views.Table(
            "Alle wijzigingen, van oud naar nieuw",
            ("Wanneer", "Wie", "Wat", "Veranderd", "Toelichting"),
            [
                (
                    w.moment_nl(e.at, weekday=False),
                    e.by_name,
                    w.ACTION_LABELS.get(e.action, e.action),
                    _change_text(e.changes),
                    e.note,
                )
                for e in history
            ],
        ),
        description=_paragraphs(breach.description),
        may_manage=manage,
        show_authority_decision=manage and breach.authority_notified_at is None,
        show_authority_notification=manage and breach.authority_notify is True,
        show_residents=manage,
        show_close=manage and breach.status in (br.NOTIFIED, br.NOT_NOTIFIABLE),
        notice=NOTICES.get(notice or ""),
        values=_current_values(breach) | (values or {}),
        errors=errors or {},
    )


def _choice(value: bool | None) -> str:
    return "" if value is None else ("ja" if value else "nee")


def _current_values(breach: br.Breach) -> dict[str, dict[str, str]]:
    """The forms filled with what is recorded now, so a correction starts from it."""
    return {
        "ap": {"melden": _choice(breach.authority_notify), "reden": breach.authority_reason or ""},
        "melding": {
            "gemeld_op": _local_input(breach.authority_notified_at),
            "kenmerk": breach.authority_reference or "",
        },
        "betrokkenen": {
            "informeren": _choice(breach.residents_notify),
            "reden": breach.residents_reason or "",
            "geinformeerd_op": _local_input(breach.residents_notified_at),
        },
    }


def _breach_detail(request: Request, page: BreachPage, status_code: int = 200) -> Response:
    return page_with_csrf(
        request,
        "incident.html",
        status_code=status_code,
        page=page,
        max_text=br.MAX_TEXT,
        max_reference=br.MAX_REFERENCE,
        crumbs=_crumbs(
            views.Crumb("Datalekken", BREACHES), views.Crumb(f"Datalek {page.breach.id}")
        ),
    )


@router.get(BREACHES + "/{breach_id:int}", response_class=HTMLResponse)
def breach_detail(
    request: Request,
    breach_id: int,
    gedaan: str | None = None,
    user: staff.StaffUser = Depends(READ_BREACHES),
) -> Response:
    page = breach_page(request, user, _get_breach(request, user, breach_id), notice=gedaan)
    return _breach_detail(request, page)


def _yes_no_field(value: str, name: str, errors: dict[str, str]) -> bool | None:
    if value == "ja":
        return True
    if value == "nee":
        return False
    errors[name] = "Kies ja of nee."
    return None


def _decision(
    values: dict[str, str], errors: dict[str, str], choice: str, moment_field: str
) -> tuple[bool, datetime | None] | None:
    """A decision to notify or not, with its reason: (notify, when, if done already).

    None when `errors` says what is missing. The moment only counts for a decision to notify.
    """
    notify = _yes_no_field(values[choice], choice, errors)
    if not values["reden"].strip():
        errors["reden"] = "Schrijf de reden op."
    moment = _moment(values[moment_field], moment_field, errors, required=False)
    if errors or notify is None:
        return None
    return notify, moment if notify else None


# Reads one form's values into a change (None when the errors it filled in say why not).
Step = Callable[[dict[str, str], dict[str, str], int | None], Callable[[], object] | None]


async def _step(
    request: Request,
    user: staff.StaffUser,
    breach_id: int,
    form_name: str,
    fields: tuple[str, ...],
    act: Step,
    done: str,
) -> Response:
    """Read one of the detail page's forms, let `act` make the change, or show what is wrong."""
    data = await request.form()
    check_csrf(request, str(data.get(CSRF_FIELD, "")))
    breach = _get_breach(request, user, breach_id)
    values = {name: str(data.get(name, ""))[:MAX_FIELD] for name in fields}
    errors: dict[str, str] = {}
    change = act(values, errors, _revision(data))
    status_code = 400
    if change is not None:
        try:
            change()
        except br.BreachConflict as error:
            errors, status_code = {"algemeen": str(error)}, 409
        except br.BreachError as error:
            target = STEP_FIELDS.get((form_name, error.field or ""), "algemeen")
            errors = {target: error.message}
            status_code = 409 if target == "algemeen" else 400
        else:
            return RedirectResponse(f"{breach_url(breach_id)}?gedaan={done}", 303)
    current = _get_breach(request, user, breach_id) if status_code == 409 else breach
    page = breach_page(
        request, user, current, values={form_name: values}, errors={form_name: errors}
    )
    return _breach_detail(request, page, status_code)


STEP_FIELDS: Final = {
    ("ap", "reason"): "reden",
    ("ap", "notifiedAt"): "gemeld_op",
    ("ap", "reference"): "kenmerk",
    ("melding", "notifiedAt"): "gemeld_op",
    ("melding", "reference"): "kenmerk",
    ("betrokkenen", "reason"): "reden",
    ("betrokkenen", "notifiedAt"): "geinformeerd_op",
    ("afsluiten", "note"): "notitie",
}


@router.post(BREACHES + "/{breach_id:int}/ap", response_class=HTMLResponse)
async def decide_authority(
    request: Request, breach_id: int, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    state = get_state(request)

    def act(
        values: dict[str, str], errors: dict[str, str], revision: int | None
    ) -> Callable[[], object] | None:
        decided = _decision(values, errors, "melden", "gemeld_op")
        if decided is None:
            return None
        notify, moment = decided
        return lambda: br.decide_authority(
            state.engine,
            user.organisation_id,
            breach_id,
            notify=notify,
            reason=values["reden"],
            by=_who(user),
            notified_at=moment,
            reference=(values["kenmerk"].strip() or None) if notify else None,
            expected_revision=revision,
        )

    return await _step(
        request, user, breach_id, "ap", ("melden", "reden", "gemeld_op", "kenmerk"), act, "ap"
    )


@router.post(BREACHES + "/{breach_id:int}/melding", response_class=HTMLResponse)
async def record_notification(
    request: Request, breach_id: int, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    state = get_state(request)

    def act(
        values: dict[str, str], errors: dict[str, str], revision: int | None
    ) -> Callable[[], object] | None:
        moment = _moment(values["gemeld_op"], "gemeld_op", errors, required=True)
        if errors or moment is None:
            return None
        return lambda: br.record_authority_notification(
            state.engine,
            user.organisation_id,
            breach_id,
            notified_at=moment,
            reference=values["kenmerk"].strip() or None,
            by=_who(user),
            expected_revision=revision,
        )

    return await _step(
        request, user, breach_id, "melding", ("gemeld_op", "kenmerk"), act, "melding"
    )


@router.post(BREACHES + "/{breach_id:int}/betrokkenen", response_class=HTMLResponse)
async def decide_residents(
    request: Request, breach_id: int, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    state = get_state(request)

    def act(
        values: dict[str, str], errors: dict[str, str], revision: int | None
    ) -> Callable[[], object] | None:
        decided = _decision(values, errors, "informeren", "geinformeerd_op")
        if decided is None:
            return None
        notify, moment = decided
        return lambda: br.decide_residents(
            state.engine,
            user.organisation_id,
            breach_id,
            notify=notify,
            reason=values["reden"],
            by=_who(user),
            notified_at=moment,
            expected_revision=revision,
        )

    fields = ("informeren", "reden", "geinformeerd_op")
    return await _step(request, user, breach_id, "betrokkenen", fields, act, "betrokkenen")


@router.post(BREACHES + "/{breach_id:int}/afsluiten", response_class=HTMLResponse)
async def close_breach(
    request: Request, breach_id: int, user: staff.StaffUser = Depends(MANAGE_BREACHES)
) -> Response:
    state = get_state(request)

    def act(
        values: dict[str, str], errors: dict[str, str], revision: int | None
    ) -> Callable[[], object] | None:
        return lambda: br.close_breach(
            state.engine,
            user.organisation_id,
            breach_id,
            by=_who(user),
            note=values["notitie"] or None,
            expected_revision=revision,
        )

    return await _step(request, user, breach_id, "afsluiten", ("notitie",), act, "afgesloten")


# --- sizing from the logbook -------------------------------------------------------------------


@dataclass(frozen=True)
class SizingPage:
    breach: br.Breach
    activities: list[Choice]
    since: str
    until: str
    result: views.Table | None
    total: str | None
    several_keys: bool
    errors: dict[str, str]


@router.get(BREACHES + "/{breach_id:int}/omvang", response_class=HTMLResponse)
def size_breach(
    request: Request,
    breach_id: int,
    user: staff.StaffUser = Depends(READ_BREACHES),
) -> Response:
    breach = _get_breach(request, user, breach_id)
    register = _register(request, user.organisation_id)
    query = request.query_params
    asked = "van" in query or "tot" in query or "verwerkingen" in query
    chosen = [v[:80] for v in query.getlist("verwerkingen")][:200] or list(breach.activities)
    errors: dict[str, str] = {}
    window = br.sizing_window(breach)
    since_text = query.get("van", "")[:40] if asked else _local_input(window[0] if window else None)
    until_text = query.get("tot", "")[:40] if asked else _local_input(window[1] if window else None)
    result: sizing.BreachSizing | None = None
    since = _moment(since_text, "van", errors, required=True)
    until = _moment(until_text, "tot", errors, required=True)
    if not chosen:
        errors["verwerkingen"] = "Kies minstens één verwerking."
    if not errors and since is not None and until is not None:
        try:
            result = sizing.affected_data_subjects(
                get_state(request).engine, user.organisation_id, chosen, since, until
            )
        except sizing.SizingError as error:
            target = {"from": "van", "until": "tot"}.get(error.field, "verwerkingen")
            errors[target] = error.message
    known = register.activities() if register is not None else []
    table = None
    total = None
    if result is not None:
        table = views.Table(
            "Aantal betrokkenen per verwerking volgens het logboek",
            ("Verwerking", "Betrokkenen", "Logregels", "Per soort nummer"),
            [
                (
                    _activity_name(register, a.activity_id),
                    fmt.plural(a.data_subjects, "persoon", "personen"),
                    str(a.records),
                    ", ".join(f"{k}: {v}" for k, v in a.by_id_type.items()) or "–",
                )
                for a in result.activities
            ],
        )
        total = (
            f"Samen {fmt.plural(result.data_subjects, 'persoon', 'personen')}: wie bij meer dan "
            "één verwerking voorkomt, telt één keer."
        )
    page = SizingPage(
        breach=breach,
        activities=[Choice(a.id, a.name, a.id in chosen) for a in known],
        since=since_text,
        until=until_text,
        result=table,
        total=total,
        several_keys=bool(result and result.several_keys),
        errors=errors if asked or window is not None else {},
    )
    return page_with_csrf(
        request,
        "incident_sizing.html",
        status_code=400 if page.errors else 200,
        page=page,
        crumbs=_crumbs(
            views.Crumb("Datalekken", BREACHES),
            views.Crumb(f"Datalek {breach.id}", breach_url(breach.id)),
            views.Crumb("Omvang"),
        ),
    )


# --- break-the-glass reviews --------------------------------------------------------------------


def review_url(decision_id: str) -> str:
    return f"{REVIEWS}/{decision_id}"


def _decision_row(
    item: rv.BreakGlassDecision, register: OrganisationRegister | None
) -> tuple[views.Value, ...]:
    verdict = item.review.verdict if item.review else None
    return (
        views.Link(w.moment_nl(item.decided_at), review_url(item.decision_id)),
        f"{item.role} ({item.department})",
        f"{ACTION_WORDS.get(item.action, item.action)}: {item.data_category}",
        _activity_name(register, item.purpose),
        VERDICT_BADGES[verdict],
    )


DECISION_HEADERS: Final = ("Wanneer", "Wie (rol)", "Wat", "Verwerking", "Beoordeling")
REVIEW_FILTERS: Final = {
    "te-beoordelen": ("Nog te beoordelen", False),
    "beoordeeld": ("Beoordeeld", True),
    "alle": ("Alle", None),
}


@router.get(REVIEWS, response_class=HTMLResponse)
def review_list(
    request: Request,
    toon: str | None = None,
    pagina: str | None = None,
    user: staff.StaffUser = Depends(READ_REVIEWS),
) -> Response:
    chosen = toon if toon in REVIEW_FILTERS else "te-beoordelen"
    label, reviewed = REVIEW_FILTERS[chosen]
    # A page number that is not one shows the first page, never an error page.
    wanted = pagina or ""
    page_number = int(wanted) if wanted.isdigit() and len(wanted) < 7 else 1
    page_number = max(1, page_number)
    engine = get_state(request).engine
    register = _register(request, user.organisation_id)
    items, total = rv.list_break_glass(
        engine,
        user.organisation_id,
        reviewed=reviewed,
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
    )
    summary = rv.unreviewed_break_glass(engine, user.organisation_id, None, None, examples=0)
    pages = max(1, -(-total // PAGE_SIZE))
    count = fmt.plural(total, "besluit", "besluiten")
    return page_with_csrf(
        request,
        "reviews.html",
        decisions=views.Table(
            f"Besluiten met noodtoegang: {label.lower()}",
            DECISION_HEADERS,
            [_decision_row(i, register) for i in items],
        ),
        summary=f"{count} gevonden." if total else "Geen besluiten gevonden.",
        figures=[
            views.Row("Besluiten met noodtoegang", str(summary.total)),
            views.Row("Nog te beoordelen", str(summary.unreviewed)),
            views.Row("Beoordeeld als terecht", str(summary.justified)),
            views.Row("Beoordeeld als niet terecht", str(summary.unjustified)),
            views.Row(
                "Wacht het langst sinds",
                w.moment_nl(summary.oldest_unreviewed) if summary.oldest_unreviewed else "–",
            ),
        ],
        filters=[Option(k, v[0], k == chosen) for k, v in REVIEW_FILTERS.items()],
        previous=f"{REVIEWS}?toon={chosen}&pagina={page_number - 1}" if page_number > 1 else None,
        next=f"{REVIEWS}?toon={chosen}&pagina={page_number + 1}" if page_number < pages else None,
        page_text=f"Pagina {page_number} van {pages}",
        crumbs=_crumbs(views.Crumb("Noodtoegang beoordelen")),
    )


@dataclass(frozen=True)
class ReviewPage:
    decision: rv.BreakGlassDecision
    rows: list[views.Row]
    justification: list[str] | None
    review: list[views.Row] | None
    may_review: bool
    refusal: str | None
    notice: str | None
    # An unjustified emergency access may itself be a data breach: offer to register one.
    suggest_breach: bool
    verdict: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def review_page(
    request: Request,
    user: staff.StaffUser,
    decision: rv.BreakGlassDecision,
    *,
    notice: str | None = None,
    verdict: str = "",
    note: str = "",
    errors: dict[str, str] | None = None,
) -> ReviewPage:
    register = _register(request, decision.organisation_id)
    reviewer = user.can(staff.BREAK_GLASS_REVIEW)
    refusal = (
        rv.self_review_reason(_reviewer(user), decision)
        if reviewer and decision.review is None
        else None
    )
    review = decision.review
    return ReviewPage(
        decision=decision,
        rows=[
            views.Row("Beoordeling", VERDICT_BADGES[review.verdict if review else None]),
            views.Row("Wanneer", w.moment_nl(decision.decided_at)),
            views.Row("Rol en afdeling", f"{decision.role} ({decision.department})"),
            views.Row("Wat", ACTION_WORDS.get(decision.action, decision.action)),
            views.Row("Welke gegevens", decision.data_category),
            views.Row("Verwerking", _activity_name(register, decision.purpose)),
            views.Row("Bron", decision.dataset, optional=True),
            views.Row("Dossier", decision.case_id, optional=True),
            views.Row("Kanaal", decision.channel, optional=True),
            views.Row("Over een inwoner", fmt.yes_no(decision.about_person)),
            views.Row("Regels die het toestonden", list(decision.rules) or None, optional=True),
            views.Row("Beslissingsnummer", decision.decision_id),
        ],
        justification=_paragraphs(decision.justification) if reviewer else None,
        review=[
            views.Row("Beoordeeld door", review.reviewer_name),
            views.Row("Op", w.moment_nl(review.reviewed_at)),
            views.Row("Toelichting", review.note, optional=True),
        ]
        if review
        else None,
        may_review=reviewer and review is None and refusal is None,
        suggest_breach=review is not None
        and review.verdict == rv.UNJUSTIFIED
        and user.can(staff.INCIDENTS_MANAGE),
        refusal=refusal,
        notice=NOTICES.get(notice or ""),
        verdict=verdict,
        note=note,
        errors=dict(errors or {}),
    )


def _reviewer(user: staff.StaffUser) -> rv.Reviewer:
    return rv.Reviewer(user.id, user.name, user.organisation_id, user.roles, user.department)


def _review_detail(request: Request, page: ReviewPage, status_code: int = 200) -> Response:
    return page_with_csrf(
        request,
        "review.html",
        status_code=status_code,
        page=page,
        max_note=rv.MAX_NOTE,
        crumbs=_crumbs(views.Crumb("Noodtoegang beoordelen", REVIEWS), views.Crumb("Besluit")),
    )


def _get_decision(
    request: Request, user: staff.StaffUser, decision_id: str
) -> rv.BreakGlassDecision:
    found = (
        rv.get_break_glass(get_state(request).engine, user.organisation_id, decision_id)
        if len(decision_id) == 32
        else None
    )
    if found is None:
        raise HTTPException(status_code=404)
    return found


@router.get(REVIEWS + "/{decision_id}", response_class=HTMLResponse)
def review_detail(
    request: Request,
    decision_id: str,
    gedaan: str | None = None,
    user: staff.StaffUser = Depends(READ_REVIEWS),
) -> Response:
    decision = _get_decision(request, user, decision_id)
    return _review_detail(request, review_page(request, user, decision, notice=gedaan))


@router.post(REVIEWS + "/{decision_id}", response_class=HTMLResponse)
def record_review(
    request: Request,
    decision_id: str,
    oordeel: Annotated[str, Form(max_length=40)] = "",
    toelichting: Annotated[str, Form(max_length=2 * rv.MAX_NOTE)] = "",
    formulier_token: Annotated[str, Form(max_length=200)] = "",
    user: staff.StaffUser = Depends(REVIEW),
) -> Response:
    check_csrf(request, formulier_token)
    decision = _get_decision(request, user, decision_id)
    verdicts = {"terecht": rv.JUSTIFIED, "niet-terecht": rv.UNJUSTIFIED}
    errors: dict[str, str] = {}
    status_code = 400
    if oordeel not in verdicts:
        errors["oordeel"] = "Kies of de noodtoegang terecht was."
    else:
        try:
            rv.record_review(
                get_state(request).engine,
                user.organisation_id,
                decision_id,
                reviewer=_reviewer(user),
                verdict=verdicts[oordeel],
                note=toelichting,
            )
        except rv.ReviewError as error:
            errors["toelichting" if error.field == "note" else "oordeel"] = error.message
        except rv.SelfReview as error:
            errors["oordeel"], status_code = str(error), 403
        except rv.AlreadyReviewed as error:
            errors["oordeel"], status_code = str(error), 409
            decision = _get_decision(request, user, decision_id)
        else:
            return RedirectResponse(f"{review_url(decision_id)}?gedaan=beoordeeld", 303)
    page = review_page(request, user, decision, verdict=oordeel, note=toelichting, errors=errors)
    return _review_detail(request, page, status_code)
