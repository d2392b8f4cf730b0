"""`glazenstad backup ...`: back up the configured database into a directory, and restore one
into an empty database, checked against its manifest and the logbook (docs/backup.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glazenstad.cli.common import console, fail
from glazenstad.settings import get_settings

app = typer.Typer(
    help="Back up the database, and restore a backup (checked against its manifest).",
    no_args_is_help=True,
)


def _step(message: str) -> None:
    console.print(f"  {message}", style="dim", highlight=False, markup=False, soft_wrap=True)


def _size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count //= 1024
    return f"{count:,} bytes"


@app.command("create")
def backup_create(
    directory: Annotated[Path, typer.Argument(help="New or empty directory for the backup.")],
) -> None:
    """Back up the configured database (consistent while the server writes) with a manifest."""
    from glazenstad.db.backup import BackupError, create_backup

    url = get_settings().effective_database_url
    console.print(f"Backing up {_safe_url(url)} into {directory}")
    try:
        manifest = create_backup(url, directory, progress=_step)
    except BackupError as exc:
        fail(f"Backup failed: {exc}")
    for entry in manifest["files"]:
        console.print(
            f"{entry['name']}: {_size(int(entry['bytes']))}, sha256 {entry['sha256']}",
            highlight=False,
            soft_wrap=True,
        )
    tables = manifest["tables"]
    console.print(
        f"Schema revision {manifest['schema_revision']}; {len(tables)} table(s), "
        f"{sum(tables.values()):,} row(s); {tables.get('log_record', 0):,} log record(s) in "
        f"{len(manifest['chain_heads'])} chain(s).",
        highlight=False,
    )
    console.print(
        "Done. Keep the pseudonym keys, the staff directory and the gateway configuration "
        "with it (docs/backup.md)."
    )


@app.command("restore")
def backup_restore(
    directory: Annotated[Path, typer.Argument(help="A directory made by `backup create`.")],
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Drop whatever the target database holds first."),
    ] = False,
) -> None:
    """Restore a backup into the configured (empty) database, migrate it, verify the logbook."""
    from glazenstad.db.backup import BackupError, describe_contents, restore_backup

    url = get_settings().effective_database_url
    console.print(f"Restoring {directory} into {_safe_url(url)}")
    try:
        report = restore_backup(url, directory, replace=replace, progress=_step)
    except BackupError as exc:
        fail(f"Restore failed: {exc}")
    if report.dropped:
        console.print(f"Dropped: {describe_contents(report.dropped)}", highlight=False)
    console.print(
        f"Backup of {report.manifest['created_at']}, schema revision {report.revision_before}; "
        f"now at {report.revision_after}.",
        highlight=False,
    )
    verified = report.verified
    for chain in verified.chains:
        if not chain.ok:
            console.print(f"BROKEN {chain.broken}", highlight=False, markup=False)
    console.print(
        f"Logbook: {len(verified.chains)} chain(s), {verified.records:,} record(s), "
        f"{'intact' if verified.ok else 'BROKEN'}.",
        highlight=False,
    )
    for problem in report.mismatches:
        console.print(f"Differs from the manifest: {problem}", highlight=False, markup=False)
    if not report.ok:
        fail("The restored database does not match its backup (see above).")
    manifest = report.manifest
    register = manifest.get("register_versions", {}).get("count", 0)
    policies = manifest.get("policy_versions", {}).get("count", 0)
    console.print(
        f"Matches the manifest: {len(manifest['tables'])} table(s) with the same row counts, "
        f"{len(manifest['chain_heads'])} chain head(s), {register} register entry version(s) "
        f"and {policies} policy version(s) identical.",
        highlight=False,
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
