"""The BSN-keyed services over HTTP: answers, subject fields, and problem+json errors."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from starlette.testclient import TestClient

from glazenstad.sources import Population, elfproef

BSN_LIKE = re.compile(r"\d{9}")
UNKNOWN_VALID_BSN = "123456782"


def _strings_by_key(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) pair in a JSON value, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings_by_key(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_by_key(item, key)
    elif isinstance(value, str):
        yield key, value


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _assert_bsns_only_under_their_key(answer: Any) -> set[str]:
    """The gateway finds subjects by the key `burgerservicenummer`: no BSN may hide elsewhere."""
    found = set()
    for key, text in _strings_by_key(answer):
        if BSN_LIKE.fullmatch(text) and elfproef(text):
            assert key == "burgerservicenummer", key
        if key == "burgerservicenummer":
            found.add(text)
    return found


def test_index_lists_every_service(client: TestClient) -> None:
    answer = client.get("/").json()
    assert [b["pad"] for b in answer["bronnen"]] == [
        "/brp/v2",
        "/parkeerrechten/v1",
        "/sociaal-domein/v1",
        "/werk-inkomen/v1",
        "/vroegsignalering/v1",
    ]


def test_person_lookup_answers_the_person_and_names_relatives_by_bsn(
    client: TestClient, population: Population
) -> None:
    bsn = next(b for b, p in population.persons.items() if p.partner and p.kinderen)
    response = client.get(f"/brp/v2/personen/{bsn}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["burgerservicenummer"] == bsn
    person = population.persons[bsn]
    assert answer["naam"]["geslachtsnaam"] == person.naam.geslachtsnaam
    assert answer["geboortedatum"] == person.geboortedatum.isoformat()
    assert answer["verblijfplaats"]["postcode"] == person.verblijfplaats.postcode
    assert isinstance(answer["geheimhoudingPersoonsgegevens"], bool)
    subjects = _assert_bsns_only_under_their_key(answer)
    expected = {bsn, person.partner.burgerservicenummer if person.partner else ""}
    expected |= {k.burgerservicenummer for k in person.kinderen}
    assert subjects == expected


def test_repeated_lookup_gives_the_same_bytes(client: TestClient, population: Population) -> None:
    bsn = next(iter(population.persons))
    first = client.get(f"/brp/v2/personen/{bsn}").content
    assert client.get(f"/brp/v2/personen/{bsn}").content == first


def test_case_files_carry_health_notes_and_the_subject(
    client: TestClient, population: Population
) -> None:
    bsn = next(b for b, ds in population.dossiers.items() if ds[0].wet == "Jeugdwet")
    response = client.get(f"/sociaal-domein/v1/clienten/{bsn}/dossiers")
    assert response.status_code == 200
    answer = response.json()
    assert answer["burgerservicenummer"] == bsn
    assert len(answer["dossiers"]) == len(population.dossiers[bsn])
    for dossier in answer["dossiers"]:
        assert dossier["burgerservicenummer"] == bsn
        assert dossier["gezondheidsnotities"]
        assert isinstance(dossier["justitieleAntecedenten"], bool)
    subjects = _assert_bsns_only_under_their_key(answer)
    parents = {o.burgerservicenummer for o in population.persons[bsn].ouders}
    assert parents and subjects == {bsn} | parents


def test_benefits_carry_income_and_iban(client: TestClient, population: Population) -> None:
    bsn = next(iter(population.uitkeringen))
    answer = client.get(f"/werk-inkomen/v1/uitkeringen/{bsn}").json()
    assert answer["burgerservicenummer"] == bsn
    for uitkering, stored in zip(answer["uitkeringen"], population.uitkeringen[bsn], strict=True):
        assert uitkering["burgerservicenummer"] == bsn
        assert uitkering["iban"] == stored.iban
        assert uitkering["nettoBedragPerMaand"] == str(stored.netto_bedrag_per_maand)
    assert _assert_bsns_only_under_their_key(answer) == {bsn}


def test_signals_answer_arrears(client: TestClient, population: Population) -> None:
    bsn = next(iter(population.signalen))
    answer = client.get(f"/vroegsignalering/v1/signalen/{bsn}").json()
    assert [s["signaalId"] for s in answer["signalen"]] == [
        s.signaal_id for s in population.signalen[bsn]
    ]
    for signaal in answer["signalen"]:
        assert signaal["burgerservicenummer"] == bsn
        assert float(signaal["achterstandsbedrag"]) > 0
    assert _assert_bsns_only_under_their_key(answer) == {bsn}


PATHS = {
    "brp": "/brp/v2/personen/{}",
    "sociaal-domein": "/sociaal-domein/v1/clienten/{}/dossiers",
    "werk-inkomen": "/werk-inkomen/v1/uitkeringen/{}",
    "vroegsignalering": "/vroegsignalering/v1/signalen/{}",
}


def _outside(population: Population, service: str) -> str:
    """A resident this service holds nothing about."""
    indexes: dict[str, Mapping[str, object]] = {
        "sociaal-domein": population.dossiers,
        "werk-inkomen": population.uitkeringen,
        "vroegsignalering": population.signalen,
    }
    index = indexes[service]
    return next(b for b in population.persons if b not in index)


@pytest.mark.parametrize("service", sorted(PATHS))
def test_unknown_subject_is_a_404_problem_without_the_bsn(
    client: TestClient, population: Population, service: str
) -> None:
    bsns = [UNKNOWN_VALID_BSN]
    if service != "brp":
        bsns.append(_outside(population, service))
    for bsn in bsns:
        response = client.get(PATHS[service].format(bsn))
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 404
        assert problem["title"] == "Niet gevonden"
        assert "burgerservicenummer" in problem["detail"]
        assert bsn not in response.text


@pytest.mark.parametrize("service", sorted(PATHS))
@pytest.mark.parametrize("bsn", ["123456789", "12345678", "abcdefghi", "9999999999"])
def test_malformed_bsn_is_a_400_problem_naming_the_field(
    client: TestClient, service: str, bsn: str
) -> None:
    response = client.get(PATHS[service].format(bsn))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert [p["name"] for p in problem["invalidParams"]] == ["path.burgerservicenummer"]
    assert bsn not in response.text


def test_unknown_path_and_wrong_method_are_problems(
    client: TestClient, population: Population
) -> None:
    bsn = next(iter(population.persons))
    response = client.get(f"/brp/v1/personen/{bsn}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert bsn not in response.text
    response = client.delete(f"/brp/v2/personen/{bsn}")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"]
