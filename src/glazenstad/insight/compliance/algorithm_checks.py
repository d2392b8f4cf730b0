"""NA007: algorithms in use whose register record is not ready for the Algoritmeregister.

"Publication-ready" means: the record the project exports for the national Algoritmeregister
(`register.exports.algorithm_record`) passes the standard's field rules
(`ALGORITMEREGISTER_V1_SCHEMA`), and the register's quality checks find nothing that the
Algoritmeregister would refuse or that residents need for an impactful algorithm: no
disallowed HTML (AL004), and for impactful and high-risk algorithms a description of human
intervention (AL001) and an impact assessment (AL002). The evidence adds how much was logged
under the activities the algorithm serves, so "in use" is backed by what happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from jsonschema import Draft202012Validator

from glazenstad.insight.compliance import links
from glazenstad.insight.compliance.checks import ALGORITHM_NOT_PUBLISHABLE
from glazenstad.insight.compliance.model import CheckResult, EvidenceItem, Figure
from glazenstad.insight.compliance.wording import count_nl, records_nl
from glazenstad.register.exports import ALGORITMEREGISTER_V1_SCHEMA, algorithm_record
from glazenstad.register.quality import check_organisation
from glazenstad.register.store import OrganisationRegister

PUBLICATION_BLOCKERS = frozenset({"AL001", "AL002", "AL004"})
_VALIDATOR = Draft202012Validator(ALGORITMEREGISTER_V1_SCHEMA)


def algorithm_check(
    register: OrganisationRegister,
    records_per_activity: Mapping[str, int],
    public_url: str = "",
) -> CheckResult:
    org_id = register.organisation.organisation_id
    blockers: dict[str, list[str]] = {}
    for finding in check_organisation(register):
        if finding.code in PUBLICATION_BLOCKERS or (
            finding.check.kind == "algorithm" and finding.check.severity == "fout"
        ):
            blockers.setdefault(finding.entry_id, []).append(
                f"{finding.check.title} ({finding.code})"
            )
    in_use = [a for a in register.algorithms() if a.status == "In gebruik"]
    items: list[EvidenceItem] = []
    for algorithm in in_use:
        reasons = list(blockers.get(algorithm.id, []))
        record = algorithm_record(register, algorithm, public_url)
        for error in sorted(_VALIDATOR.iter_errors(record), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in error.path) or "record"
            reasons.append(f"veld {where}: {error.message}")
        if not reasons:
            continue
        logged = sum(records_per_activity.get(a, 0) for a in algorithm.activities)
        items.append(
            EvidenceItem(
                subject=algorithm.id,
                label=algorithm.name,
                count=1,
                detail="; ".join(reasons)
                + f". Onder de gekoppelde verwerkingen staan {records_nl(logged)}.",
                links=(
                    links.algorithm(org_id, algorithm.id, algorithm.name),
                    links.quality_findings(org_id),
                ),
            )
        )
    return CheckResult(
        ALGORITHM_NOT_PUBLISHABLE,
        "fail" if items else "pass",
        len(items),
        f"{count_nl(len(items), 'algoritme', 'algoritmes')} in gebruik "
        f"{'is' if len(items) == 1 else 'zijn'} niet klaar voor het Algoritmeregister."
        if items
        else f"Alle {len(in_use)} algoritmes in gebruik zijn klaar voor publicatie.",
        (
            Figure("algorithmsInUse", "Algoritmes in gebruik", len(in_use)),
            Figure("notPublishable", "Niet klaar voor publicatie", len(items)),
        ),
        tuple(items),
        (links.algoritmeregister_export(org_id),),
    )
