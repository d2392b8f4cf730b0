"""The app factory and the package's place in the layout (ADR 8)."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from starlette.testclient import TestClient

import glazenstad.sources
from glazenstad.sources import DATASETS, create_sources_app, upstreams
from tests.conftest import DEMO_REGISTER


def test_app_serves_the_population_it_was_asked_for() -> None:
    app = create_sources_app(seed=3, persons=50)
    population = app.state.population
    assert population.seed == 3
    assert len(population.persons) == 50
    with TestClient(app) as client:
        assert client.get("/").json()["seed"] == 3
        for bsn in population.persons:
            assert client.get(f"/brp/v2/personen/{bsn}").status_code == 200


def test_sources_import_nothing_else_from_glazenstad() -> None:
    """A stand-in for other organisations' systems must not change when the platform does."""
    package = Path(glazenstad.sources.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] == "glazenstad":
                    assert name.startswith("glazenstad.sources"), f"{path.name}: {name}"


def test_register_api_urls_name_the_prefixes_served_here() -> None:
    """The gateway finds a source by its dataset's api_url: the paths must match the app's."""
    documents = YAML(typ="safe").load_all(
        (DEMO_REGISTER / "voorbeeldstad" / "datasets.yaml").read_text(encoding="utf-8")
    )
    api_urls = {d["id"]: d.get("api_url") for d in documents if d}
    for dataset, prefix in DATASETS.items():
        url = api_urls[dataset]
        assert url is not None, dataset
        assert urlsplit(url).path.rstrip("/") == prefix, dataset


def test_upstreams_point_every_dataset_at_the_local_app() -> None:
    assert upstreams("http://127.0.0.1:8100/") == {
        "brp": "http://127.0.0.1:8100/brp/v2",
        "npr-parkeerrechten": "http://127.0.0.1:8100/parkeerrechten/v1",
        "sociaal-domein-zaaksysteem": "http://127.0.0.1:8100/sociaal-domein/v1",
        "werk-inkomen-suite": "http://127.0.0.1:8100/werk-inkomen/v1",
        "vroegsignalering-feed": "http://127.0.0.1:8100/vroegsignalering/v1",
    }
