"""Where the evidence can be seen: paths of the portal and API pages a finding points to.

Insight does not import the web layer (it is the outer ring), so the few stable public paths
the evidence links to are spelled here; the route tests of the portal and API keep them honest.
"""

from __future__ import annotations

from glazenstad.insight.compliance.model import EvidenceLink

API = "/api/v1"


def activity(org_id: str, activity_id: str, name: str | None = None) -> EvidenceLink:
    return EvidenceLink(
        f"Verwerking {name or activity_id} in het register",
        f"/organisaties/{org_id}/verwerkingen/{activity_id}",
    )


def activity_api(org_id: str, activity_id: str) -> EvidenceLink:
    return EvidenceLink(
        "De verwerking in de API",
        f"{API}/organisations/{org_id}/processing-activities/{activity_id}",
    )


def activities(org_id: str) -> EvidenceLink:
    return EvidenceLink("Alle verwerkingen in het register", f"/organisaties/{org_id}/verwerkingen")


def algorithm(org_id: str, algorithm_id: str, name: str) -> EvidenceLink:
    return EvidenceLink(
        f"Algoritme {name} in het register", f"/organisaties/{org_id}/algoritmes/{algorithm_id}"
    )


def algoritmeregister_export(org_id: str) -> EvidenceLink:
    return EvidenceLink(
        "Export voor het Algoritmeregister (API)",
        f"{API}/organisations/{org_id}/exports/algoritmeregister",
    )


def quality_findings(org_id: str, code: str | None = None) -> EvidenceLink:
    query = f"?code={code}" if code else ""
    return EvidenceLink(
        "Kwaliteitsbevindingen van het register (API)",
        f"{API}/organisations/{org_id}/quality-findings{query}",
    )


def execution_findings(org_id: str, kind: str) -> EvidenceLink:
    return EvidenceLink(
        f"Bevindingen van de sensorpijplijn: {kind} (API)",
        f"{API}/organisations/{org_id}/execution-findings?kind={kind}",
    )


def sensors(org_id: str) -> EvidenceLink:
    return EvidenceLink("Sensoren in het register", f"/organisaties/{org_id}/sensoren")


def decision(decision_id: str) -> EvidenceLink:
    return EvidenceLink(f"Besluit {decision_id} (API)", f"{API}/decisions/{decision_id}")


def break_glass_reviews() -> EvidenceLink:
    return EvidenceLink("Noodtoegang beoordelen", "/medewerkers/doorbraken")


def breaches() -> EvidenceLink:
    return EvidenceLink("Datalekken", "/medewerkers/datalekken")


def dashboard() -> EvidenceLink:
    return EvidenceLink("Dashboard: logboek en bewaartermijnen", "/medewerkers/dashboard")
