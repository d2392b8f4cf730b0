"""Vendoring the NL Design System CSS from node_modules into our own static files."""

from __future__ import annotations

from pathlib import Path

import pytest

from glazenstad.web.portal.assets import VENDOR_FILES, MissingAssetError, build_assets, main
from tests.conftest import ROOT, missing_tool

NODE_MODULES = ROOT / "node_modules"


def _fake_node_modules(root: Path, *, skip: str | None = None) -> Path:
    for spec in VENDOR_FILES.values():
        if spec.package == skip:
            continue
        path = root / spec.package / spec.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* {spec.package} {spec.source} */", encoding="utf-8")
    return root


def test_copies_exactly_the_vendor_files(tmp_path: Path) -> None:
    node_modules = _fake_node_modules(tmp_path / "node_modules")
    written = build_assets(node_modules, tmp_path / "vendor")
    assert sorted(p.name for p in written) == sorted(VENDOR_FILES)
    assert sorted(p.name for p in (tmp_path / "vendor").iterdir()) == sorted(VENDOR_FILES)
    theme = (tmp_path / "vendor" / "voorbeeld-theme.css").read_text(encoding="utf-8")
    assert theme == "/* @nl-design-system-unstable/voorbeeld-design-tokens dist/theme.css */"


def test_rebuilding_never_exposes_a_half_written_file(tmp_path: Path) -> None:
    """A portal serving the CSS while it is rebuilt must see the old file or the new, whole."""
    node_modules = _fake_node_modules(tmp_path / "node_modules")
    target = tmp_path / "vendor"
    build_assets(node_modules, target)
    theme = target / "voorbeeld-theme.css"
    with theme.open("rb") as reader_of_the_old:
        unchanged_inode = theme.stat().st_ino
        build_assets(node_modules, target)
        assert theme.stat().st_ino == unchanged_inode, "unchanged content is left alone"

        spec = VENDOR_FILES["voorbeeld-theme.css"]
        (node_modules / spec.package / spec.source).write_text("/* new */", encoding="utf-8")
        build_assets(node_modules, target)
        assert theme.stat().st_ino != unchanged_inode, "new content arrives by rename"
        assert reader_of_the_old.read().startswith(b"/* @nl-design-system-unstable")
    assert theme.read_text(encoding="utf-8") == "/* new */"
    assert sorted(p.name for p in target.iterdir()) == sorted(VENDOR_FILES), "no temporary left"


def test_missing_package_is_named_with_the_fix(tmp_path: Path) -> None:
    node_modules = _fake_node_modules(
        tmp_path / "node_modules", skip="@utrecht/component-library-css"
    )
    with pytest.raises(MissingAssetError) as raised:
        build_assets(node_modules, tmp_path / "vendor")
    message = str(raised.value)
    assert "@utrecht/component-library-css is not installed" in message
    assert "npm ci" in message
    assert "voorbeeld-design-tokens" not in message
    assert not (tmp_path / "vendor").exists(), "nothing is copied when something is missing"


def test_command_line_reports_missing_node_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--node-modules", str(tmp_path / "nothing"), "--target", str(tmp_path / "v")]) == 1
    err = capsys.readouterr().err
    assert "npm ci" in err and "@utrecht/component-library-css" in err


def test_real_packages_provide_the_classes_the_templates_use(tmp_path: Path) -> None:
    if not (NODE_MODULES / "@utrecht" / "component-library-css").is_dir():
        reason = "node_modules is not installed here (run `npm ci`)"
        missing_tool(reason)
    assert main(["--node-modules", str(NODE_MODULES), "--target", str(tmp_path)]) == 0
    library = (tmp_path / "utrecht-component-library.css").read_text(encoding="utf-8")
    theme = (tmp_path / "voorbeeld-theme.css").read_text(encoding="utf-8")
    assert ".voorbeeld-theme {" in theme
    for css_class in (
        "utrecht-skip-link",
        "utrecht-table",
        "utrecht-data-list",
        "utrecht-page-header",
    ):
        assert f".{css_class}" in library
    # Nothing is fetched from elsewhere at run time: no @import, no remote url().
    for css in (library, theme):
        assert "@import" not in css
        assert "url(http" not in css and 'url("http' not in css and "url('http" not in css
