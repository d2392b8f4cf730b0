"""Project metadata others rely on: publiccode.yml, the licence, the README's quick start."""

from __future__ import annotations

import re

from ruamel.yaml import YAML

from tests.conftest import ROOT

# publiccode.yml standard 0.4: required keys and permitted values.
DEVELOPMENT_STATUS = {"concept", "development", "beta", "stable", "obsolete"}
SOFTWARE_TYPES = {
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
}
MAINTENANCE_TYPES = {"internal", "contract", "community", "none"}


def test_publiccode_yml_is_valid() -> None:
    data = YAML(typ="safe").load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))
    for key in (
        "publiccodeYmlVersion",
        "name",
        "url",
        "platforms",
        "developmentStatus",
        "softwareType",
        "description",
        "legal",
        "maintenance",
        "localisation",
    ):
        assert key in data, key
    assert data["publiccodeYmlVersion"] == "0.4"
    assert data["url"].startswith("https://")
    assert data["developmentStatus"] in DEVELOPMENT_STATUS
    assert data["softwareType"] in SOFTWARE_TYPES
    assert data["maintenance"]["type"] in MAINTENANCE_TYPES
    assert data["maintenance"]["contacts"]
    assert data["legal"]["license"] == "EUPL-1.2"
    assert isinstance(data["localisation"]["localisationReady"], bool)
    assert data["localisation"]["availableLanguages"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["releaseDate"])
    for lang, description in data["description"].items():
        assert len(description["shortDescription"]) <= 150, lang
        assert 150 <= len(description["longDescription"]) <= 10_000, lang
        assert description["features"], lang


def test_licence_is_eupl_1_2() -> None:
    assert (
        (ROOT / "LICENSE")
        .read_text(encoding="utf-8")
        .startswith("EUROPEAN UNION PUBLIC LICENCE v. 1.2")
    )


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(bin/\S+)", quick_start, flags=re.M)
    assert commands == ["bin/demo", "bin/test"]
    assert "exec bin/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
