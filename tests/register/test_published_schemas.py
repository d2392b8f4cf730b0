"""The JSON Schemas in schemas/ are the ones the code enforces, and they accept the demo."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from glazenstad.register.exports import ALGORITMEREGISTER_V1_SCHEMA
from glazenstad.register.model import register_json_schema
from tests.conftest import DEMO_REGISTER, ROOT, TEST_REGISTER

SCHEMAS = ROOT / "schemas"


def test_published_register_schema_is_current() -> None:
    published = json.loads((SCHEMAS / "register.schema.json").read_text(encoding="utf-8"))
    assert published == register_json_schema(), (
        "schemas/register.schema.json is out of date: run "
        "`glazenstad register schema --output schemas/register.schema.json`"
    )


def test_published_algoritmeregister_schema_is_current() -> None:
    path = SCHEMAS / "algoritmeregister-v1.0.schema.json"
    assert json.loads(path.read_text(encoding="utf-8")) == ALGORITMEREGISTER_V1_SCHEMA


def test_every_register_document_validates_against_the_published_schema() -> None:
    validator = Draft202012Validator(register_json_schema())
    yaml = YAML(typ="safe")
    count = 0
    for root in (TEST_REGISTER, DEMO_REGISTER):
        for path in sorted(Path(root).rglob("*.yaml")):
            for document in yaml.load_all(path.read_text(encoding="utf-8")):
                # YAML dates arrive as date objects; the schema describes their JSON form.
                document = json.loads(json.dumps(document, default=str))
                errors = list(validator.iter_errors(document))
                assert not errors, f"{path}: {errors[0].message}"
                count += 1
    assert count > 10
