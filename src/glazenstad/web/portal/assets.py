"""Copy the NL Design System CSS from node_modules into the portal's own static files.

The portal must never load anything from a CDN (privacy of visitors, and the Content-Security-
Policy allows only 'self'), so the two CSS files it needs are vendored into
`web/static/vendor/` (git-ignored) by this step, after `npm ci`:

- the Utrecht component library bundle: the BEM classes the templates use (utrecht-page,
  utrecht-table, ...);
- the Voorbeeld theme: the design tokens (colours, spacing, type) under the `.voorbeeld-theme`
  class that the base template sets on <html>.

No font files are needed: the theme names Noto Sans and Noto Serif with generic fallbacks and its
own font.css is empty (the @fontsource packages are only development dependencies of the theme).
Each package's licence (EUPL-1.2) is copied along, because the CSS points to it.

Run: python -m glazenstad.web.portal.assets [--node-modules DIR] [--target DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PROJECT_ROOT = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class VendorFile:
    package: str
    source: str


# Name in static/vendor/ → where it comes from. The templates link the .css names.
VENDOR_FILES: dict[str, VendorFile] = {
    "utrecht-component-library.css": VendorFile("@utrecht/component-library-css", "dist/index.css"),
    "voorbeeld-theme.css": VendorFile(
        "@nl-design-system-unstable/voorbeeld-design-tokens", "dist/theme.css"
    ),
    "LICENSE-utrecht-component-library-css.md": VendorFile(
        "@utrecht/component-library-css", "LICENSE.md"
    ),
    "LICENSE-voorbeeld-design-tokens.md": VendorFile(
        "@nl-design-system-unstable/voorbeeld-design-tokens", "LICENSE.md"
    ),
}


class MissingAssetError(FileNotFoundError):
    """A package or file the portal needs is not in node_modules."""


def vendor_dir() -> Path:
    return STATIC_DIR / "vendor"


def _package_version(node_modules: Path, package: str) -> str:
    try:
        data = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "?"
    return str(data.get("version", "?"))


def build_assets(node_modules: Path, target: Path) -> list[Path]:
    """Copy the vendored CSS (and licences) into `target`; the list of files written.

    Everything is checked before anything is copied, so a half-installed node_modules never
    leaves a mix of old and new files behind.
    """
    problems: list[str] = []
    for name, spec in VENDOR_FILES.items():
        package_dir = node_modules / spec.package
        if not package_dir.is_dir():
            problem = f"package {spec.package} is not installed in {node_modules}"
        elif not (package_dir / spec.source).is_file():
            problem = f"{spec.package} has no {spec.source} (needed for {name})"
        else:
            continue
        if problem not in problems:
            problems.append(problem)
    if problems:
        raise MissingAssetError(
            "cannot build the portal assets: "
            + "; ".join(problems)
            + f". Run `npm ci` in {node_modules.parent} (the directory with package.json) first."
        )
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in VENDOR_FILES.items():
        destination = target / name
        _replace_if_changed(node_modules / spec.package / spec.source, destination)
        written.append(destination)
    return written


def _replace_if_changed(source: Path, destination: Path) -> None:
    """Put `source` at `destination` in one rename, and only when the bytes differ.

    A running portal may be serving the file while the assets are rebuilt: copying over it in
    place would let a reader see it half written (shorter than the size it announced).
    """
    content = source.read_bytes()
    try:
        if destination.read_bytes() == content:
            return
    except OSError:
        pass
    with tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", delete=False
    ) as handle:
        handle.write(content)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, destination)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glazenstad.web.portal.assets",
        description="Copy the NL Design System CSS from node_modules into the portal's static "
        "files (run after `npm ci`).",
    )
    parser.add_argument(
        "--node-modules",
        type=Path,
        default=None,
        help="the node_modules directory (default: ./node_modules, else the project's own)",
    )
    parser.add_argument(
        "--target", type=Path, default=vendor_dir(), help="where to copy to (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    node_modules: Path | None = args.node_modules
    if node_modules is None:
        here = Path.cwd() / "node_modules"
        node_modules = here if here.is_dir() else PROJECT_ROOT / "node_modules"
    try:
        written = build_assets(node_modules, args.target)
    except MissingAssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    packages = sorted({spec.package for spec in VENDOR_FILES.values()})
    for package in packages:
        print(f"{package} {_package_version(node_modules, package)}")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
