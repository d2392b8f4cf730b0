"""The data-use rules in the portal: on an activity page, and the organisation's rules page.

Most tests use the demo register with the demo policies active (as `glazenstad demo` leaves it);
the shared test register has no active policy, which the portal must say plainly.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import parse_register
from glazenstad.register.model import ProcessingActivity
from glazenstad.rules.store import PolicyStore, policy_hash
from glazenstad.web.portal.spelregels import EMERGENCY_NOTE
from tests.conftest import DEMO_REGISTER
from tests.portal.conftest import (
    ACTIVATED_BY,
    PortalFactory,
    activate_policies,
    demo_policies,
)

VOORBEELDSTAD = "/organisaties/voorbeeldstad"
SCANAUTO = f"{VOORBEELDSTAD}/verwerkingen/parkeerhandhaving-scanauto"
SCANAUTO_API = (
    "/api/v1/organisations/voorbeeldstad/processing-activities/parkeerhandhaving-scanauto/rules"
)


def _main(html: str) -> str:
    match = re.search(r'<main id="main".*?</main>', html, re.S)
    assert match, "page has no <main id=main>"
    return match.group(0)


def _cards(html: str) -> dict[str, str]:
    """Each rule card's HTML by rule id."""
    return dict(
        re.findall(
            r'<article class="gs-rule[^"]*" aria-labelledby="regel-([^"]+)">(.*?)</article>',
            html,
            re.S,
        )
    )


def _section(html: str, section_id: str) -> str:
    match = re.search(
        rf'<section class="[^"]*" aria-labelledby="{section_id}">(.*?)</section>', html, re.S
    )
    assert match, f"no section #{section_id}"
    return match.group(1)


def _expected_rule_count() -> int:
    """Explicit rules plus purpose binding, counted from the YAML: one permit per active
    activity with roles, and one linkage permit when it lists two or more datasets."""
    policy = next(p for p in demo_policies() if p.organisation == "voorbeeldstad")
    parsed = parse_register(DEMO_REGISTER)
    derived = 0
    for item in parsed.entries:
        entry = item.entry
        if (
            item.organisation_id == "voorbeeldstad"
            and isinstance(entry, ProcessingActivity)
            and entry.status == "actief"
            and entry.roles
        ):
            derived += 1 + (len(entry.datasets) >= 2)
    return len(policy.rules) + derived


def _voorbeeldstad_hash() -> str:
    policy = next(p for p in demo_policies() if p.organisation == "voorbeeldstad")
    return policy_hash(policy)


def test_activity_page_shows_who_may_do_what_and_why(demo_portal: TestClient) -> None:
    main = _main(demo_portal.get(SCANAUTO).text)
    assert 'href="#spelregels">Wie mag wat, waarom, op grond van welke wet</a>' in main
    rules = _section(main, "spelregels")
    cards = _cards(rules)

    # Purpose binding from the register: allowed, in words, for the activity's roles.
    binding = cards["doelbinding-parkeerhandhaving-scanauto"]
    assert "Doelbinding: Controle op betaald parkeren met scanauto&#39;s</h4>" in binding
    assert 'utrecht-status-badge--safe">Toegestaan</span>' in binding
    assert "Volgt uit het verwerkingsregister" in binding
    assert "de rol is parkeerhandhaver of teamleider-parkeren of belastingmedewerker" in binding
    # Data named as the register names them, not by id.
    assert "inzien, vastleggen of wijzigen van Foto&#39;s van de scanauto, Kenteken" in binding

    # A deny rule of the policy: forbidden in words, with its explanation and a law link.
    deny = cards["scannen-alleen-tijdens-betaald-parkeren"]
    assert "De scanauto scant alleen als betaald parkeren geldt</h4>" in deny
    assert 'utrecht-status-badge--danger">Niet toegestaan</span>' in deny
    assert "maandag tot en met zaterdag van 9.00 tot 21.00 uur" in deny
    assert "het is buiten ma, di, wo, do, vr, za tussen 09:00 en 21:00" in deny
    assert (
        'href="https://wetten.overheid.nl/jci1.3:c:BWBR0005416&amp;artikel=225">'
        "Gemeentewet, artikel 225 (BWBR0005416)</a>"
    ) in deny
    assert "Uit de spelregels van de gemeente" in deny
    assert EMERGENCY_NOTE not in deny  # no break-glass for this one

    # Conditions for use (obligations) of a permit.
    scan = cards["scan-bewaren-als-betaald"]
    assert ">Voorwaarden bij gebruik</dt>" in scan
    assert "vervang door een pseudoniem: kenteken" in scan
    assert "bewaar volgens bewaarregel &#39;betaald&#39;" in scan

    # Rules for every activity come after this activity's own, folded away.
    own, general = rules.split('id="spelregels-alle-verwerkingen"', 1)
    assert "regel-scannen-alleen-tijdens-betaald-parkeren" in own
    assert "regel-camerabeelden-niet-koppelen" in general
    assert "<details" in general and "<summary" in general

    assert "Voor deze verwerking gelden 15 regels: 5 regels staan iets toe" in rules
    assert f'href="{SCANAUTO_API}"' in rules
    assert 'href="/organisaties/voorbeeldstad/spelregels"' in rules


def test_activity_page_shows_the_same_rules_as_the_api(demo_portal: TestClient) -> None:
    api = demo_portal.get(SCANAUTO_API).json()
    cards = _cards(_main(demo_portal.get(SCANAUTO).text))
    assert len(cards) == len(api)
    assert set(cards) == {r["id"] for r in api}
    titles = {r["id"]: r["title"].replace("'", "&#39;") for r in api}
    for rule_id, card in cards.items():
        assert f">{titles[rule_id]}</h4>" in card


def test_break_glass_rules_say_so(demo_portal: TestClient) -> None:
    main = _main(demo_portal.get(f"{VOORBEELDSTAD}/verwerkingen/wmo-maatwerkvoorziening").text)
    cards = _cards(main)
    assert EMERGENCY_NOTE in cards["kantoortijd-sociaal-domein"]
    assert EMERGENCY_NOTE in cards["alleen-eigen-dossier"]
    assert EMERGENCY_NOTE not in cards["gezondheid-en-strafrecht-alleen-intern"]


def test_rules_page_lists_the_active_version_and_all_rules(demo_portal: TestClient) -> None:
    response = demo_portal.get(f"{VOORBEELDSTAD}/spelregels")
    assert response.status_code == 200
    assert "<title>Spelregels voor gegevensgebruik – Gemeente Voorbeeldstad – Glazen Stad" in (
        response.text
    )
    assert 'aria-current="page">Spelregels</a>' in response.text  # main menu
    main = _main(response.text)
    digest = _voorbeeldstad_hash()

    now = _section(main, "nu")
    assert "Spelregels gegevensgebruik Gemeente Voorbeeldstad" in now
    assert f">{digest[:12]}</dd>" in now
    assert ">Geldt sinds</dt>" in now and re.search(r"\d{4} om \d{1,2}\.\d{2} uur", now)
    assert ACTIVATED_BY in now
    assert "Vastgesteld door het college" in now
    assert f"{_expected_rule_count()} regels" in now

    allowed = _section(main, "mag-wel")
    forbidden = _section(main, "mag-niet")
    assert "regel-scanfoto-delen-bij-bezwaar" in allowed
    assert "regel-scanfoto-delen-bij-bezwaar" not in forbidden
    deny = _cards(forbidden)["scannen-alleen-tijdens-betaald-parkeren"]
    assert 'utrecht-status-badge--danger">Niet toegestaan</span>' in deny
    # Which activities a rule is about, linked; rules without purposes hold for all.
    assert (
        '<a class="utrecht-link utrecht-link--html-a" '
        'href="/organisaties/voorbeeldstad/verwerkingen/parkeerhandhaving-scanauto">'
    ) in deny
    assert "Alle verwerkingen" in _cards(forbidden)["camerabeelden-niet-koppelen"]
    assert 'utrecht-status-badge--safe">Toegestaan</span>' not in forbidden
    assert 'utrecht-status-badge--danger">Niet toegestaan</span>' not in allowed
    # Purpose binding from the register: one row per activity, linked to its rules.
    assert "Doelbinding per verwerking</caption>" in allowed
    assert (
        'href="/organisaties/voorbeeldstad/verwerkingen/parkeerhandhaving-scanauto#spelregels">'
        "Doelbinding: Controle op betaald parkeren met scanauto&#39;s</a>"
    ) in allowed

    assert "Er zijn geen eerdere versies." in _section(main, "eerdere-versies")
    developers = _section(main, "ontwikkelaars")
    api = f"/api/v1/organisations/voorbeeldstad/policies/{digest}"
    assert f'href="{api}/rules"' in developers
    assert demo_portal.get(f"{api}/rules").status_code == 200


def test_rules_page_lists_earlier_versions_with_their_status(
    portal_factory: PortalFactory, sqlite_url: str
) -> None:
    portal = portal_factory(DEMO_REGISTER)
    current = next(p for p in demo_policies() if p.organisation == "voorbeeldstad")
    earlier = current.model_copy(update={"title": "Spelregels Voorbeeldstad, eerste versie"})
    draft = current.model_copy(update={"title": "Spelregels Voorbeeldstad, concept"})
    activate_policies(sqlite_url, [earlier])
    activate_policies(sqlite_url, [current])  # retires the earlier version
    engine = make_engine(sqlite_url)
    PolicyStore(engine).save(draft, by="beleidsadviseur")
    engine.dispose()

    main = _main(portal.get(f"{VOORBEELDSTAD}/spelregels").text)
    assert f">{policy_hash(current)[:12]}</dd>" in _section(main, "nu")
    history = _section(main, "eerdere-versies")
    rows = re.findall(r"<tr class=\"utrecht-table__row\">(.*?)</tr>", history, re.S)[1:]
    assert len(rows) == 2
    assert "Spelregels Voorbeeldstad, concept" in rows[0]
    assert "Concept, geldt nog niet" in rows[0]
    assert "door beleidsadviseur" in rows[0]
    assert policy_hash(earlier)[:12] in rows[1]
    assert "Vervallen sinds" in rows[1]
    assert f'/policies/{policy_hash(earlier)}"' in rows[1]


def test_without_an_active_policy_the_portal_says_so(portal: TestClient) -> None:
    org = "/organisaties/teststad"
    activity = _main(portal.get(f"{org}/verwerkingen/parkeren-scanauto").text)
    rules = _section(activity, "spelregels")
    assert "Er zijn op dit moment geen spelregels van kracht bij Gemeente Teststad." in rules
    assert "<article" not in rules
    api = "/api/v1/organisations/teststad/processing-activities/parkeren-scanauto/rules"
    assert f'href="{api}"' in rules
    assert portal.get(api).json() == []

    page = _main(portal.get(f"{org}/spelregels").text)
    assert "Er zijn op dit moment geen spelregels van kracht bij Gemeente Teststad." in page
    assert 'id="mag-wel"' not in page and 'id="mag-niet"' not in page
    assert "Er zijn geen eerdere versies." in page

    organisation = _main(portal.get(org).text)
    assert "Er zijn op dit moment geen spelregels van kracht." in organisation
    assert 'href="/organisaties/teststad/spelregels"' in organisation


def test_organisation_page_names_the_active_rules(demo_portal: TestClient) -> None:
    main = _main(demo_portal.get(VOORBEELDSTAD).text)
    assert (
        "Nu geldt: Spelregels gegevensgebruik Gemeente Voorbeeldstad "
        f"(versie {_voorbeeldstad_hash()[:12]}), sinds "
    ) in main
    assert 'href="/organisaties/voorbeeldstad/spelregels"' in main


def test_each_organisation_shows_only_its_own_rules(demo_portal: TestClient) -> None:
    main = _main(demo_portal.get("/organisaties/duinwijk/spelregels").text)
    assert "Spelregels gegevensgebruik Gemeente Duinwijk" in main
    assert "regel-kantoortijd-wmo" in main
    assert "regel-kantoortijd-sociaal-domein" not in main


def test_rules_page_of_an_unknown_organisation_is_a_404(portal: TestClient) -> None:
    response = portal.get("/organisaties/onbekend/spelregels")
    assert response.status_code == 404
    assert "Pagina niet gevonden" in response.text
