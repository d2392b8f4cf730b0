"""One generated population and its sources app, shared by the tests of this package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from glazenstad.sources import ParkingRights, Population, create_sources_app, generate

SEED = 7
PERSONS = 1_500


@pytest.fixture(scope="session")
def population() -> Population:
    return generate(SEED, PERSONS)


@pytest.fixture(scope="session")
def parking(population: Population) -> ParkingRights:
    return ParkingRights(population.parking)


@pytest.fixture(scope="session")
def client(population: Population) -> Iterator[TestClient]:
    with TestClient(create_sources_app(population=population)) as test_client:
        yield test_client
