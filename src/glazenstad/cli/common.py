"""What every command group shares: the consoles, failing with an exit code, the database, and
resolving `--organisation` and `--by` (a member of staff) the same way everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from glazenstad.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from glazenstad.register.store import RegisterStore
    from glazenstad.web.staff import StaffDirectory, StaffUser

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` on stderr as it is (no markup) and exit: 2 for wrong input, 1 otherwise."""
    errors.print(message, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def open_engine() -> Engine:
    """The configured database, migrated to the newest schema."""
    from glazenstad.db.engine import make_engine, migrate

    engine = make_engine(get_settings().effective_database_url)
    migrate(engine)
    return engine


def organisation_of(register: RegisterStore, organisation: str | None) -> str:
    """`--organisation`, checked against the register; may be left out with one organisation."""
    ids = sorted(register.snapshot().organisations)
    if organisation is not None:
        if organisation not in ids:
            fail(f"--organisation: '{organisation}' is not in the register", 2)
        return organisation
    if len(ids) == 1:
        return ids[0]
    known = ", ".join(ids) or "none (load a register first)"
    fail(f"--organisation: choose one of: {known}", 2)


def staff_directory() -> StaffDirectory:
    from glazenstad.web.staff import StaffDirectoryError, directory_for

    settings = get_settings()
    try:
        return directory_for(settings.mode, settings.staff_directory)
    except StaffDirectoryError as exc:
        fail(f"staff directory: {exc}", 2)


def staff_member(user_id: str, *permissions: str) -> StaffUser:
    """`--by`: a member of staff from the directory, holding one of `permissions` (if named)."""
    from glazenstad.web.staff import PERMISSIONS

    user = staff_directory().user(user_id)
    if user is None:
        fail(f"--by: '{user_id}' is not in the staff directory", 2)
    if permissions and not any(user.can(p) for p in permissions):
        needed = " or ".join(f"'{p}' ({PERMISSIONS[p]})" for p in permissions)
        fail(f"--by: {user.name} lacks the permission {needed}")
    return user
