"""Plain-Dutch explanations of decisions, written from the reference evaluator's trace."""

from __future__ import annotations

from glazenstad.rules import outcome as oc
from glazenstad.rules.reference import Evaluation
from glazenstad.rules.request import DecisionRequest

ACTION_WORDS = {
    "read": "inzien",
    "write": "vastleggen of wijzigen",
    "link": "koppelen",
    "share": "delen",
    "delete": "verwijderen",
}


def _laws(evaluation: Evaluation) -> str:
    laws = evaluation.outcome.legal_basis
    if not laws:
        return ""
    return " Grondslag: " + "; ".join(law.label for law in laws) + "."


def explain(evaluation: Evaluation, request: DecisionRequest) -> str:
    """Why the answer is yes or no, naming rules, failed conditions and the law."""
    out = evaluation.outcome
    activity = evaluation.activity
    doing = ACTION_WORDS.get(request.action, request.action)
    data = request.resource.data_category
    if out.reason == oc.UNKNOWN_PURPOSE:
        return (
            f"Nee. Het doel '{request.purpose}' staat niet in het verwerkingsregister. "
            "Persoonsgegevens mogen alleen worden gebruikt voor een geregistreerd doel."
        )
    assert activity is not None
    purpose = f"'{activity.name}'"
    if out.reason == oc.INACTIVE_PURPOSE:
        return (
            f"Nee. De verwerking {purpose} is niet actief (status: {activity.status}). "
            "Voor een beëindigde of nog niet gestarte verwerking mogen geen gegevens worden "
            "gebruikt."
        )
    if out.reason == oc.UNKNOWN_ACTION:
        return f"Nee. De handeling '{request.action}' is onbekend."
    if out.reason == oc.UNKNOWN_DATA_CATEGORY:
        return (
            f"Nee. De gegevenscategorie '{data}' staat niet in het register. Alleen "
            "geregistreerde gegevens mogen worden gebruikt."
        )
    if out.reason == oc.DENY_RULE:
        parts = [f"Nee. U mag {data} niet {doing} voor {purpose}."]
        for rule in out.rules:
            parts.append(f"Spelregel '{rule.title}' ({rule.id}): {rule.explanation}")
        glass = [r for r in out.rules if r.break_glass]
        if glass and len(glass) == len(out.rules) and not request.context.justification:
            parts.append(
                "In een noodgeval kan dit met een schriftelijke motivering toch "
                "(doorbreken van de regel); dat wordt vastgelegd en achteraf beoordeeld."
            )
        return " ".join(parts)
    if out.reason == oc.NO_PERMIT:
        parts = [f"Nee. Geen spelregel staat toe dat u {data} {doing} voor {purpose}."]
        near = [t for t in evaluation.traces if t.targeted and t.rule.effect == "permit"]
        for trace in near:
            parts.append(
                f"Spelregel '{trace.rule.title}' geldt niet, want " + "; ".join(trace.failed) + "."
            )
        if not near:
            parts.append(
                f"De verwerking {purpose} gebruikt {data} niet voor '{doing}', of er is "
                "geen regel voor deze handeling."
            )
        return " ".join(parts)
    parts = [f"Ja. U mag {data} {doing} voor {purpose}."]
    for rule in out.rules:
        parts.append(f"Spelregel '{rule.title}': {rule.explanation}")
    if out.break_glass:
        parts.append(
            "Dit is toegestaan omdat u een noodsituatie heeft gemotiveerd; de regel(s) "
            + ", ".join(f"'{r.title}'" for r in out.set_aside)
            + " zijn doorbroken. Dit wordt vastgelegd en achteraf beoordeeld."
        )
    return " ".join(parts) + _laws(evaluation)
