"""Read register YAML from disk, validate it completely, then propose it all or nothing.

Validation runs before anything is written and collects every problem, each with file, line and
field, so a privacy officer fixes a file in one go instead of one error per run. Only when the
whole tree is valid is a load written, in one transaction: the changed versions as a proposal,
which a second person approves before it is in force (`glazenstad.register.approval`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap
from sqlalchemy import Engine, and_, func, select

from glazenstad.audit.four_eyes import named
from glazenstad.audit.trail import check_trace_id
from glazenstad.db.base import utcnow
from glazenstad.register.approval import (
    RegisterApprovalError,
    approve_in,
    check_second_person,
    propose,
)
from glazenstad.register.model import (
    KIND_ORGANISATION,
    MODELS,
    REFERENCES,
    Entry,
    Organisation,
    entry_uri,
)
from glazenstad.register.tables import (
    register_entry_version,
    register_load,
    register_proposed_entry,
)
from glazenstad.register.yamlsource import (
    Problem,
    locate,
    plain,
    read_documents,
    suggestion,
    validation_problems,
)

YAML_SUFFIXES = (".yaml", ".yml")
ORGANISATION_FILE = "organisation.yaml"


class RegisterValidationError(Exception):
    """The register tree is invalid; nothing was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the register; nothing was loaded")


@dataclass(frozen=True)
class ParsedEntry:
    organisation_id: str
    entry: Entry
    file: str
    line: int
    node: Any = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return self.entry.KIND

    @property
    def entry_id(self) -> str:
        return self.entry.id


@dataclass
class ParsedRegister:
    """A validated register tree: per organisation, its organisation entry and all other entries."""

    organisations: dict[str, Organisation] = field(default_factory=dict)
    entries: list[ParsedEntry] = field(default_factory=list)


@dataclass(frozen=True)
class LoadResult:
    load_id: int | None
    organisations: list[str]
    added: int
    changed: int
    removed: int
    unchanged: int
    approved: bool = False
    """Whether the load is in force already (approved in the same call)."""


def organisation_dirs(root: Path) -> list[Path]:
    """The organisation directories under `root` (or `root` itself when it is one)."""
    if (root / ORGANISATION_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / ORGANISATION_FILE).is_file())


def parse_register(root: Path) -> ParsedRegister:
    """Validate a register tree; raise `RegisterValidationError` listing every problem."""
    problems: list[Problem] = []
    parsed = ParsedRegister()
    if not root.is_dir():
        raise RegisterValidationError([Problem(str(root), None, None, "is not a directory")])
    org_dirs = organisation_dirs(root)
    if not org_dirs:
        raise RegisterValidationError(
            [Problem(str(root), None, None, f"no {ORGANISATION_FILE} here or in a subdirectory")]
        )
    base = root if root not in org_dirs else root.parent
    for org_dir in org_dirs:
        problems.extend(_parse_organisation(org_dir, base, parsed))
    if problems:
        raise RegisterValidationError(problems)
    return parsed


def _parse_organisation(org_dir: Path, base: Path, parsed: ParsedRegister) -> list[Problem]:
    problems: list[Problem] = []
    entries: list[ParsedEntry] = []
    organisation: tuple[Organisation, str, int] | None = None
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    files = sorted(p for p in org_dir.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
    for path in files:
        relative = str(path.relative_to(base))
        documents, unreadable = read_documents(path, relative)
        if unreadable:
            problems.extend(unreadable)
            continue
        for index, (document, line) in enumerate(documents):
            if document is None:
                continue
            where = f"document {index + 1}" if len(documents) > 1 else None
            if not isinstance(document, CommentedMap):
                problems.append(
                    Problem(relative, line, None, "a document must be a mapping", where)
                )
                continue
            kind = document.get("kind")
            model = MODELS.get(str(kind)) if kind is not None else None
            if model is None:
                known = ", ".join(sorted(MODELS))
                problems.append(
                    Problem(
                        relative,
                        locate(document, ["kind"], line),
                        "kind",
                        f"unknown kind {kind!r}; expected one of {known}"
                        if kind is not None
                        else f"required field is missing; expected one of {known}",
                        where,
                    )
                )
                continue
            label = f"{kind} '{document.get('id', '?')}'"
            try:
                entry = model.model_validate(plain(document))
            except ValidationError as exc:
                # Known ids still count as defined, so one bad entry does not also make every
                # reference to it an error.
                if isinstance(document.get("id"), str):
                    seen.setdefault((str(kind), document["id"]), (relative, line))
                problems.extend(validation_problems(exc, model, document, relative, line, label))
                continue
            key = (entry.KIND, entry.id)
            if key in seen:
                first_file, first_line = seen[key]
                problems.append(
                    Problem(
                        relative,
                        locate(document, ["id"], line),
                        "id",
                        f"duplicate id; {kind} '{entry.id}' is already defined at "
                        f"{first_file}:{first_line}",
                        label,
                    )
                )
                continue
            seen[key] = (relative, line)
            if isinstance(entry, Organisation):
                organisation = (entry, relative, line)
            else:
                entries.append(ParsedEntry("", entry, relative, line, document))
    if organisation is None:
        if not problems:
            problems.append(
                Problem(str(org_dir.relative_to(base)), None, None, "no organisation entry")
            )
        return problems
    org, org_file, org_line = organisation
    if org.id in parsed.organisations:
        problems.append(
            Problem(org_file, org_line, "id", f"organisation '{org.id}' is defined twice")
        )
        return problems
    problems.extend(_check_references(entries, seen))
    parsed.organisations[org.id] = org
    parsed.entries.append(ParsedEntry(org.id, org, org_file, org_line))
    parsed.entries.extend(ParsedEntry(org.id, e.entry, e.file, e.line) for e in entries)
    return problems


def _check_references(
    entries: list[ParsedEntry], seen: dict[tuple[str, str], tuple[str, int]]
) -> list[Problem]:
    problems: list[Problem] = []
    for parsed_entry in entries:
        for field_name, target_kind in REFERENCES.get(parsed_entry.kind, {}).items():
            for index, ref in enumerate(getattr(parsed_entry.entry, field_name)):
                if (target_kind, ref) not in seen:
                    hint = suggestion(ref, sorted(i for k, i in seen if k == target_kind))
                    problems.append(
                        Problem(
                            parsed_entry.file,
                            locate(parsed_entry.node, [field_name, index], parsed_entry.line),
                            f"{field_name}[{index}]",
                            f"refers to unknown {target_kind} '{ref}'{hint}",
                            f"{parsed_entry.kind} '{parsed_entry.entry_id}'",
                        )
                    )
    return problems


def canonical_document(entry: Entry) -> dict[str, Any]:
    """The stored form of an entry: every field, defaults filled in, JSON types."""
    return entry.model_dump(mode="json")


def content_hash(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_register(
    engine: Engine,
    root: Path,
    *,
    loaded_by: str = "cli",
    approved_by: str | None = None,
    note: str | None = None,
    trace_id: str | None = None,
    dry_run: bool = False,
) -> LoadResult:
    """Validate `root` and propose a new version of every entry that changed, in one transaction.

    Entries of a loaded organisation that are no longer in its files get a tombstone version;
    organisations not in `root` are left alone. The load is a proposal by `loaded_by` and is not
    in force until someone else approves it (`approve_load`, four-eyes rule). Naming a second
    person as `approved_by` approves it in the same transaction: for set-ups where both people
    are known at once (the demo, test fixtures); the same person is refused as always.
    """
    if not named(loaded_by):
        raise RegisterApprovalError("loaded_by: who proposes the change must be named")
    if approved_by is not None:
        check_second_person(loaded_by, approved_by, "the register load")
    check_trace_id(trace_id)
    parsed = parse_register(root)
    now = utcnow()
    with engine.begin() as conn:
        latest = _latest_versions(conn, list(parsed.organisations))
        rows: list[dict[str, Any]] = []
        added = changed = unchanged = 0
        present: set[tuple[str, str, str]] = set()
        for item in parsed.entries:
            org = parsed.organisations[item.organisation_id]
            document = canonical_document(item.entry)
            digest = content_hash(document)
            key = (item.organisation_id, item.kind, item.entry_id)
            present.add(key)
            previous = latest.get(key)
            if (
                previous is not None
                and previous["content_hash"] == digest
                and not previous["removed"]
            ):
                unchanged += 1
                continue
            if previous is None:
                added += 1
            else:
                changed += 1
            rows.append(
                {
                    "organisation_id": item.organisation_id,
                    "kind": item.kind,
                    "entry_id": item.entry_id,
                    "uri": entry_uri(org.register_uri, item.kind, item.entry_id),
                    "version": (previous["version"] + 1) if previous else 1,
                    "content_hash": digest,
                    "removed": False,
                    "name": item.entry.name,
                    "document": document,
                    "source_file": item.file,
                    "source_line": item.line,
                }
            )
        removed = 0
        for key, previous in latest.items():
            if key in present or previous["removed"]:
                continue
            removed += 1
            rows.append(
                {
                    "organisation_id": key[0],
                    "kind": key[1],
                    "entry_id": key[2],
                    "uri": previous["uri"],
                    "version": previous["version"] + 1,
                    "content_hash": previous["content_hash"],
                    "removed": True,
                    "name": previous["name"],
                    "document": previous["document"],
                    "source_file": None,
                    "source_line": None,
                }
            )
        organisations = sorted(parsed.organisations)
        if dry_run or not rows:
            return LoadResult(None, organisations, added, changed, removed, unchanged)
        load_id = int(
            conn.execute(
                register_load.insert().values(
                    loaded_at=now,
                    loaded_by=loaded_by.strip(),
                    source=str(root),
                    organisations=organisations,
                    added=added,
                    changed=changed,
                    removed=removed,
                    unchanged=unchanged,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for row in rows:
            row["load_id"] = load_id
        conn.execute(register_proposed_entry.insert(), rows)
        propose(conn, load_id, organisations, by=loaded_by, note=note, trace_id=trace_id, at=now)
        if approved_by is not None:
            # Proposed and approved in one transaction: one moment for both.
            approve_in(conn, load_id, by=approved_by, note=note, trace_id=trace_id, at=now)
    return LoadResult(
        load_id, organisations, added, changed, removed, unchanged, approved=approved_by is not None
    )


def _latest_versions(conn: Any, organisation_ids: list[str]) -> dict[tuple[str, str, str], Any]:
    v = register_entry_version
    newest = (
        select(v.c.organisation_id, v.c.kind, v.c.entry_id, func.max(v.c.version).label("version"))
        .where(v.c.organisation_id.in_(organisation_ids))
        .group_by(v.c.organisation_id, v.c.kind, v.c.entry_id)
        .subquery()
    )
    query = select(v).join(
        newest,
        and_(
            v.c.organisation_id == newest.c.organisation_id,
            v.c.kind == newest.c.kind,
            v.c.entry_id == newest.c.entry_id,
            v.c.version == newest.c.version,
        ),
    )
    return {
        (row.organisation_id, row.kind, row.entry_id): row._mapping for row in conn.execute(query)
    }


__all__ = [
    "KIND_ORGANISATION",
    "LoadResult",
    "ParsedRegister",
    "Problem",
    "RegisterApprovalError",
    "RegisterValidationError",
    "load_register",
    "parse_register",
]
