"""The generated population: deterministic per seed, consistent, and recognisably fictional."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from datetime import date

import msgspec
import pytest

from glazenstad.sources import ZONE_CODES, Population, elfproef, generate, generate_parking
from glazenstad.sources.identifiers import normalize_kenteken
from glazenstad.sources.synthetic import BSN_PREFIX, PEILDATUM, fictional_bsns, max_persons
from tests.conftest import ROOT
from tests.sources.conftest import PERSONS, SEED


def _digest(population: Population) -> str:
    parts = (
        population.persons,
        population.dossiers,
        population.uitkeringen,
        population.signalen,
        population.parking.rights,
        population.parking.plates_without_rights,
    )
    return hashlib.sha256(msgspec.json.encode(parts)).hexdigest()


def test_same_seed_gives_the_same_data(population: Population) -> None:
    assert generate(SEED, PERSONS) == population


def test_same_seed_gives_the_same_data_in_another_process(population: Population) -> None:
    """String hashing is randomised per process; the data must not depend on it."""
    code = (
        "from tests.sources.test_synthetic import _digest;"
        "from glazenstad.sources import generate;"
        f"print(_digest(generate({SEED}, {PERSONS})))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == _digest(population)


def test_another_seed_gives_other_people(population: Population) -> None:
    other = generate(SEED + 1, PERSONS)
    assert set(other.persons) != set(population.persons)
    assert set(other.parking.rights) != set(population.parking.rights)


def test_exactly_the_asked_number_of_persons() -> None:
    for persons in (0, 1, 2, 37):
        assert len(generate(1, persons).persons) == persons


def test_more_persons_than_test_bsns_is_refused() -> None:
    with pytest.raises(ValueError, match="persons"):
        generate(1, max_persons() + 1)


def test_bsns_are_valid_unique_and_from_the_test_range(population: Population) -> None:
    assert len(fictional_bsns()) == len(set(fictional_bsns())) == max_persons() > 9_000
    for bsn, person in population.persons.items():
        assert person.burgerservicenummer == bsn
        assert elfproef(bsn)
        assert bsn.startswith(BSN_PREFIX)


def test_relatives_are_persons_and_relations_are_mutual(population: Population) -> None:
    persons = population.persons
    for bsn, person in persons.items():
        if person.partner is not None:
            partner = persons[person.partner.burgerservicenummer]
            assert partner.partner is not None
            assert partner.partner.burgerservicenummer == bsn
            assert partner.verblijfplaats == person.verblijfplaats
        for parent in person.ouders:
            assert bsn in {
                k.burgerservicenummer for k in persons[parent.burgerservicenummer].kinderen
            }
            assert parent.geboortedatum < person.geboortedatum
        for child in person.kinderen:
            assert bsn in {o.burgerservicenummer for o in persons[child.burgerservicenummer].ouders}
    assert any(p.partner for p in persons.values())
    assert any(p.kinderen for p in persons.values())


def test_addresses_and_dates_are_fictional_and_plausible(population: Population) -> None:
    for person in population.persons.values():
        assert person.verblijfplaats.woonplaats == "Voorbeeldstad"
        # PostNL never issues the letter pairs SA, SD and SS.
        assert person.verblijfplaats.postcode[-2:] in {"SA", "SD", "SS"}
        assert person.geboortedatum <= PEILDATUM
        assert person.naam.volledige_naam.endswith(person.naam.geslachtsnaam)


def _age(born: date) -> int:
    return PEILDATUM.year - born.year - ((PEILDATUM.month, PEILDATUM.day) < (born.month, born.day))


def test_case_files_belong_to_persons_and_fit_their_law(population: Population) -> None:
    persons = population.persons
    numbers: Counter[str] = Counter()
    laws: Counter[str] = Counter()
    for bsn, dossiers in population.dossiers.items():
        person = persons[bsn]
        for dossier in dossiers:
            numbers[dossier.dossiernummer] += 1
            laws[dossier.wet] += 1
            assert dossier.burgerservicenummer == bsn
            assert dossier.gezondheidsnotities
            assert dossier.startdatum <= PEILDATUM
            if dossier.einddatum is not None:
                assert dossier.startdatum <= dossier.einddatum
            if dossier.wet == "Jeugdwet":
                assert _age(person.geboortedatum) < 18
                assert {g.burgerservicenummer for g in dossier.gezagsdragers} == {
                    o.burgerservicenummer for o in person.ouders
                }
            else:
                assert _age(person.geboortedatum) >= 18
    assert max(numbers.values()) == 1
    assert laws["Jeugdwet"] > 0 and laws["Wmo 2015"] > 0


def _iban_valid(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def test_benefits_match_the_household_and_carry_valid_ibans(population: Population) -> None:
    assert population.uitkeringen
    adults_at: Counter[object] = Counter(
        p.verblijfplaats for p in population.persons.values() if _age(p.geboortedatum) >= 18
    )
    for bsn, uitkeringen in population.uitkeringen.items():
        person = population.persons[bsn]
        assert 18 <= _age(person.geboortedatum) < 67
        for uitkering in uitkeringen:
            assert uitkering.burgerservicenummer == bsn
            assert uitkering.iban.startswith("NL") and "VBSB" in uitkering.iban
            assert _iban_valid(uitkering.iban)
            # Married or not, two adults keeping house together get the couples' norm.
            if uitkering.leefvorm == "gehuwden":
                assert adults_at[person.verblijfplaats] >= 2
            if uitkering.ontheffingsreden == "medisch":
                assert uitkering.medische_beperkingen
        main = uitkeringen[0]
        assert main.netto_bedrag_per_maand == main.normbedrag_per_maand - min(
            main.normbedrag_per_maand, main.overige_inkomsten_per_maand
        )


def test_signals_name_the_person_at_their_address(population: Population) -> None:
    assert population.signalen
    for bsn, signalen in population.signalen.items():
        person = population.persons[bsn]
        for signaal in signalen:
            assert signaal.burgerservicenummer == bsn
            assert signaal.naam == person.naam
            assert signaal.adres == person.verblijfplaats
            assert signaal.achterstandsbedrag > 0


def test_plates_are_canonical_unique_and_split_by_rights_share() -> None:
    data = generate_parking(3, vehicles=1_000, rights_share=0.6)
    plates = [*data.rights, *data.plates_without_rights]
    assert len(plates) == len(set(plates)) == 1_000
    assert len(data.rights) == 600
    for plate in plates:
        assert normalize_kenteken(plate) == plate
    for rights in data.rights.values():
        assert rights.permits or rights.sessions
        for zone in [p.zone for p in rights.permits] + [s.zone for s in rights.sessions]:
            assert zone in ZONE_CODES
        for session in rights.sessions:
            assert session.van < session.tot


def test_parking_alone_equals_parking_of_the_population(population: Population) -> None:
    assert generate_parking(SEED) == population.parking


@pytest.mark.parametrize("share", [-0.1, 1.1])
def test_rights_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="rights_share"):
        generate_parking(1, vehicles=10, rights_share=share)
