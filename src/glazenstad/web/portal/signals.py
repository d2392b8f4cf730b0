"""Signals in the staff portal: file one from a denial, follow it, and answer it as its owner.

Pages (Dutch, B1), for staff of one organisation:

- `/medewerkers/signalen`: the signals this person may see (their own, those about rules they
  answer for, or all), with what waits for their answer first;
- `/medewerkers/signalen/nieuw?besluit=<decision id>`: the form to file a signal about a denied
  decision, reachable from wherever a denial shows its decision id;
- `/medewerkers/signalen/<id>`: one signal with its history, and the form to take the next
  step for whoever answers for the rule.

Forms carry the double-submit token of `devlogin`. The texts warn not to write personal data;
the domain refuses a BSN or a licence plate with a message next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glazenstad.insight.figures import reason_title
from glazenstad.insight.signals import (
    Actor,
    DeniedDecision,
    Signal,
    SignalConflict,
    SignalError,
    SignalForbidden,
    SignalInputError,
    SignalNotFound,
    SignalStore,
    denied_decision,
    workflow,
)
from glazenstad.insight.signals.content import MAX_RESPONSE, MAX_TEXT, redacted
from glazenstad.insight.signals.decisions import BINDING_PREFIX, LINK_BINDING_PREFIX
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.explain import ACTION_WORDS
from glazenstad.web import staff
from glazenstad.web.api.v1.signals import SIGNAL_PERMISSIONS, TRIAGE_PERMISSIONS, signal_actor
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import views
from glazenstad.web.portal.devlogin import check_csrf, page_with_csrf
from glazenstad.web.portal.stafflogin import HOME_PATH as STAFF_HOME
from glazenstad.web.state import get_state

router = APIRouter(include_in_schema=False)
LIST_PATH: Final = "/medewerkers/signalen"
NEW_PATH: Final = "/medewerkers/signalen/nieuw"
MAX_DECISION_FIELD: Final = 100

STATE_TONES: Final[dict[str, views.Tone]] = {
    workflow.NEW: "warning",
    workflow.UNDER_REVIEW: "neutral",
    workflow.RULE_CHANGED: "safe",
    workflow.EXPLAINED: "safe",
    workflow.REJECTED: "danger",
}
PERSONAL_DATA_WARNING: Final = (
    "Schrijf geen persoonsgegevens in uw signaal: geen namen, burgerservicenummers (BSN), "
    "adressen, dossiernummers of kentekens. Dat is niet nodig: de beslissing is al aan het "
    "signaal gekoppeld, zodat de eigenaar van de regel kan zien wat er gebeurde."
)


def new_signal_url(decision_id: str) -> str:
    """Where a member of staff files a signal about a denied decision."""
    return f"{NEW_PATH}?besluit={decision_id}"


def signal_url(signal_id: int) -> str:
    return f"{LIST_PATH}/{signal_id}"


# --- who may open these pages ----------------------------------------------------------------


def _register(request: Request, organisation_id: str) -> OrganisationRegister | None:
    from glazenstad.web.portal.routes import snapshot_of

    return snapshot_of(request).organisation(organisation_id)


def _name(request: Request, user_id: str) -> str:
    """A colleague's name from the staff directory (their id when they are no longer in it)."""
    found = staff.directory_of(request).user(user_id)
    return found.name if found is not None else user_id


def _activity_name(register: OrganisationRegister | None, activity_id: str) -> str:
    found = register.activity(activity_id) if register is not None else None
    return found.name if found is not None else activity_id


def _state_badge(state: str) -> views.Badge:
    return views.Badge(workflow.LABELS.get(state, state), STATE_TONES.get(state, "neutral"))


def _rule_link(organisation_id: str, rule_id: str | None, title: str) -> views.Value:
    """The rule on the public rules page (purpose binding: on its activity's page)."""
    if rule_id is None:
        return title
    base = f"/organisaties/{organisation_id}"
    for prefix in (LINK_BINDING_PREFIX, BINDING_PREFIX):
        if rule_id.startswith(prefix):
            return views.Link(title, f"{base}/verwerkingen/{rule_id[len(prefix) :]}#spelregels")
    return views.Link(title, f"{base}/spelregels#regel-{rule_id}")


def _paragraphs(text: str) -> list[str]:
    return [part.strip() for part in text.splitlines() if part.strip()]


def _crumbs(*last: views.Crumb) -> list[views.Crumb]:
    return [
        views.Crumb("Home", "/"),
        views.Crumb("Medewerkers", STAFF_HOME),
        *(last or (views.Crumb("Signalen"),)),
    ]


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class SignalList:
    waiting: views.Table | None
    table: views.Table
    summary: str
    states: list[Option]
    rules: list[Option]
    filtered: bool
    may_file: bool


def _row(request: Request, signal: Signal) -> tuple[views.Value, ...]:
    return (
        views.Link(f"Signaal {signal.id}", signal_url(signal.id)),
        signal.rule_title,
        _state_badge(signal.state),
        fmt.date_nl(signal.filed_at),
        _name(request, signal.filed_by),
        signal.owner,
    )


HEADERS: Final = ("Signaal", "Spelregel", "Status", "Ingediend", "Door", "Eigenaar van de regel")


def _list_view(
    request: Request, actor: Actor, state: str | None, rule_id: str | None
) -> SignalList:
    store = SignalStore(get_state(request).engine)
    visible = store.search(actor)
    found = [
        s
        for s in visible
        if (state is None or s.state == state) and (rule_id is None or s.rule_id == rule_id)
    ]
    waiting = [s for s in visible if s.is_open and actor.may_answer(s)]
    rules = {s.rule_id: s.rule_title for s in visible if s.rule_id is not None}
    count = fmt.plural(len(found), "signaal", "signalen")
    return SignalList(
        waiting=(
            views.Table(
                "Signalen die op uw antwoord wachten",
                HEADERS,
                [_row(request, s) for s in waiting],
            )
            if waiting
            else None
        ),
        table=views.Table("Signalen die u kunt zien", HEADERS, [_row(request, s) for s in found]),
        summary=f"{count} gevonden." if found else "Geen signalen gevonden.",
        states=[Option("", "Alle", state is None)]
        + [Option(s, workflow.LABELS[s], s == state) for s in workflow.STATES],
        rules=[Option("", "Alle", rule_id is None)]
        + [
            Option(r, title, r == rule_id)
            for r, title in sorted(rules.items(), key=lambda item: item[1].casefold())
        ],
        filtered=state is not None or rule_id is not None,
        may_file=actor.may_file,
    )


@router.get(LIST_PATH, response_class=HTMLResponse)
def signal_list(
    request: Request,
    status: str | None = None,
    regel: str | None = None,
    user: staff.StaffUser = Depends(staff.portal_staff(*SIGNAL_PERMISSIONS)),
) -> Response:
    state = status if status in workflow.STATES else None
    rule_id = (regel or "").strip()[:80] or None
    return page_with_csrf(
        request,
        "signals.html",
        listing=_list_view(request, signal_actor(user), state, rule_id),
        new_path=NEW_PATH,
        crumbs=_crumbs(),
    )


# --- filing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleChoice:
    value: str
    title: str
    owner: str
    checked: bool


@dataclass(frozen=True)
class NewSignalForm:
    decision_field: str
    decision: DeniedDecision | None
    decision_rows: list[views.Row]
    rules: list[RuleChoice]
    text: str
    errors: dict[str, str] = field(default_factory=dict)


NO_RULE_VALUE: Final = "-"
"""The form's value for "no rule" (a denial that came from no rule)."""


def _decision_rows(
    decision: DeniedDecision, register: OrganisationRegister | None
) -> list[views.Row]:
    return [
        views.Row("Beslissing", decision.decision_id),
        views.Row("Wanneer", fmt.datetime_nl(decision.decided_at)),
        views.Row("Verwerking", _activity_name(register, decision.purpose)),
        views.Row("Wat u wilde doen", ACTION_WORDS.get(decision.action, decision.action)),
        views.Row("Welke gegevens", decision.data_category),
        views.Row("Met de rol", f"{decision.role} ({decision.department})"),
        views.Row("Waarom het niet mocht", reason_title(decision.reason)),
    ]


def _new_form(
    request: Request,
    actor: Actor,
    decision_field: str,
    *,
    rule: str | None = None,
    text: str = "",
    errors: dict[str, str] | None = None,
) -> NewSignalForm:
    errors = dict(errors or {})
    state = get_state(request)
    register = _register(request, actor.organisation_id)
    decision: DeniedDecision | None = None
    if decision_field and "besluit" not in errors:
        try:
            decision = denied_decision(
                state.engine, state.rules.policies, register, actor, decision_field
            )
        except SignalInputError as error:
            errors["besluit"] = error.message
    rules: list[RuleChoice] = []
    if decision is not None:
        only = len(decision.rules) == 1
        rules = [
            RuleChoice(
                r.id or NO_RULE_VALUE, r.title, r.owner, only or (r.id or NO_RULE_VALUE) == rule
            )
            for r in decision.rules
        ]
    return NewSignalForm(
        decision_field=decision_field,
        decision=decision,
        decision_rows=_decision_rows(decision, register) if decision else [],
        rules=rules,
        text=text,
        errors=errors,
    )


def _new_page(request: Request, form: NewSignalForm, status_code: int = 200) -> Response:
    return page_with_csrf(
        request,
        "signal_new.html",
        status_code=status_code,
        form=form,
        warning=PERSONAL_DATA_WARNING,
        max_text=MAX_TEXT,
        list_path=LIST_PATH,
        new_path=NEW_PATH,
        crumbs=_crumbs(views.Crumb("Signalen", LIST_PATH), views.Crumb("Signaal indienen")),
    )


@router.get(NEW_PATH, response_class=HTMLResponse)
def new_signal(
    request: Request,
    besluit: str | None = None,
    user: staff.StaffUser = Depends(staff.portal_staff(staff.SIGNALS_FILE)),
) -> Response:
    decision_field = (besluit or "").strip()[:MAX_DECISION_FIELD]
    form = _new_form(request, signal_actor(user), decision_field)
    return _new_page(request, form, 400 if form.errors else 200)


FORM_FIELDS: Final = {"decision": "besluit", "rule": "regel", "text": "toelichting"}


@router.post(NEW_PATH, response_class=HTMLResponse)
def file_signal(
    request: Request,
    besluit: Annotated[str, Form(max_length=MAX_DECISION_FIELD)] = "",
    regel: Annotated[str, Form(max_length=200)] = "",
    toelichting: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
    formulier_token: Annotated[str, Form(max_length=200)] = "",
    user: staff.StaffUser = Depends(staff.portal_staff(staff.SIGNALS_FILE)),
) -> Response:
    check_csrf(request, formulier_token)
    actor = signal_actor(user)
    state = get_state(request)
    rule_id = None if regel in ("", NO_RULE_VALUE) else regel
    try:
        decision = denied_decision(
            state.engine,
            state.rules.policies,
            _register(request, actor.organisation_id),
            actor,
            besluit,
        )
        if not regel and len(decision.rules) > 1:
            raise SignalInputError("rule", "Kies over welke regel uw signaal gaat.")
        signal = SignalStore(state.engine).file(actor, decision, rule_id, toelichting)
    except SignalInputError as error:
        field_name = FORM_FIELDS.get(error.field, "toelichting")
        form = _new_form(
            request,
            actor,
            besluit.strip(),
            rule=regel,
            text=redacted(toelichting),
            errors={field_name: error.message},
        )
        return _new_page(request, form, 400)
    except SignalConflict as error:
        form = _new_form(
            request, actor, besluit.strip(), rule=regel, text=redacted(toelichting),
            errors={"toelichting": error.message},
        )  # fmt: skip
        return _new_page(request, form, 409)
    return RedirectResponse(f"{signal_url(signal.id)}?ingediend=1", status_code=303)


# --- one signal ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalPage:
    signal: Signal
    title: str
    rows: list[views.Row]
    text: list[str]
    response: list[str]
    history: views.Table
    next_states: list[Option]
    may_answer: bool
    notice: str | None
    answer: str = ""
    errors: dict[str, str] = field(default_factory=dict)


NOTICES: Final = {
    "ingediend": "Uw signaal is ingediend. De eigenaar van de regel bekijkt het en laat u weten "
    "wat ermee gebeurt. U vindt het terug onder Signalen.",
    "bijgewerkt": "De status van het signaal is bijgewerkt. De indiener ziet uw antwoord hier.",
}


def _signal_page(
    request: Request,
    actor: Actor,
    signal: Signal,
    *,
    notice: str | None = None,
    chosen: str | None = None,
    answer: str = "",
    errors: dict[str, str] | None = None,
) -> SignalPage:
    register = _register(request, signal.organisation_id)
    may_answer = actor.may_answer(signal)
    history = views.Table(
        "Alle stappen, van oud naar nieuw",
        ("Wanneer", "Wie", "Stap", "Toelichting"),
        [
            (
                fmt.datetime_nl(event.at),
                _name(request, event.by),
                (
                    "Ingediend"
                    if event.from_state is None
                    else f"{workflow.LABELS.get(event.from_state, event.from_state)} → "
                    f"{workflow.LABELS.get(event.to_state, event.to_state)}"
                ),
                event.text,
            )
            for event in signal.history
        ],
    )
    next_states = [
        Option(state, workflow.ACTIONS[state], state == chosen)
        for state in (workflow.next_states(signal.state) if may_answer else ())
    ]
    return SignalPage(
        signal=signal,
        title=f"Signaal {signal.id}: {signal.rule_title}",
        rows=[
            views.Row("Status", _state_badge(signal.state)),
            views.Row(
                "Spelregel", _rule_link(signal.organisation_id, signal.rule_id, signal.rule_title)
            ),
            views.Row("Eigenaar van de regel", signal.owner),
            views.Row(
                "Verwerking",
                views.Link(
                    _activity_name(register, signal.purpose),
                    f"/organisaties/{signal.organisation_id}/verwerkingen/{signal.purpose}",
                )
                if register is not None and register.activity(signal.purpose) is not None
                else signal.purpose,
            ),
            views.Row("Beslissing", signal.decision_id),
            views.Row("Ingediend door", _name(request, signal.filed_by)),
            views.Row("Ingediend op", fmt.datetime_nl(signal.filed_at)),
        ],
        text=_paragraphs(signal.text),
        response=_paragraphs(signal.response or ""),
        history=history,
        next_states=next_states,
        may_answer=may_answer and bool(next_states),
        notice=NOTICES.get(notice or ""),
        answer=answer,
        errors=dict(errors or {}),
    )


def _detail(request: Request, page: SignalPage, status_code: int = 200) -> Response:
    return page_with_csrf(
        request,
        "signal.html",
        status_code=status_code,
        page=page,
        max_response=MAX_RESPONSE,
        warning=PERSONAL_DATA_WARNING,
        crumbs=_crumbs(
            views.Crumb("Signalen", LIST_PATH), views.Crumb(f"Signaal {page.signal.id}")
        ),
    )


def _get(actor: Actor, request: Request, signal_id: int) -> Signal:
    try:
        return SignalStore(get_state(request).engine).get(actor, signal_id)
    except SignalNotFound:
        raise HTTPException(status_code=404) from None


@router.get(LIST_PATH + "/{signal_id:int}", response_class=HTMLResponse)
def signal_detail(
    request: Request,
    signal_id: int,
    ingediend: str | None = None,
    bijgewerkt: str | None = None,
    user: staff.StaffUser = Depends(staff.portal_staff(*SIGNAL_PERMISSIONS)),
) -> Response:
    actor = signal_actor(user)
    notice = "ingediend" if ingediend else ("bijgewerkt" if bijgewerkt else None)
    page = _signal_page(request, actor, _get(actor, request, signal_id), notice=notice)
    return _detail(request, page)


@router.post(LIST_PATH + "/{signal_id:int}/behandelen", response_class=HTMLResponse)
def move_signal(
    request: Request,
    signal_id: int,
    status: Annotated[str, Form(max_length=40)] = "",
    antwoord: Annotated[str, Form(max_length=MAX_RESPONSE * 2)] = "",
    formulier_token: Annotated[str, Form(max_length=200)] = "",
    user: staff.StaffUser = Depends(staff.portal_staff(*TRIAGE_PERMISSIONS)),
) -> Response:
    check_csrf(request, formulier_token)
    actor = signal_actor(user)
    store = SignalStore(get_state(request).engine)
    try:
        if not status:
            raise SignalInputError("state", "Kies wat de volgende stap is.")
        store.move(actor, signal_id, status, antwoord or None)
    except SignalNotFound:
        raise HTTPException(status_code=404) from None
    except SignalForbidden:
        raise HTTPException(status_code=403) from None
    except SignalError as error:
        field_name = "antwoord" if getattr(error, "field", "") == "response" else "status"
        current = _get(actor, request, signal_id)
        page = _signal_page(
            request,
            actor,
            current,
            chosen=status,
            answer=redacted(antwoord),
            errors={field_name: error.message},
        )
        return _detail(request, page, 409 if isinstance(error, SignalConflict) else 400)
    return RedirectResponse(f"{signal_url(signal_id)}?bijgewerkt=1", status_code=303)
