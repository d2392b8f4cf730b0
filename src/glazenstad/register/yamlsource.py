"""Reading YAML written by people, and pointing at the exact line when it is wrong.

Shared by the register loader and the rules loader: ruamel.yaml's round-trip nodes keep line
numbers, and a pydantic error location (`legal_basis.laws[0].bwb_id`) is walked down those nodes
to the deepest line that exists.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 64
"""Deepest nesting a file may have; register and policy files stay under ten levels. Deeper
input is refused before anything walks it recursively."""
MAX_VALUES = 200_000
"""Most values a file may expand to, an alias counted at every use: a few lines of nested
aliases ("billion laughs") would otherwise expand to millions of values in memory."""

_QUOTED_OR_BRACKET = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[\[\]{}]""")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, located as precisely as the YAML allows."""

    file: str
    line: int | None
    field: str | None
    message: str
    entry: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.entry:
            parts.append(self.entry)
        if self.field:
            parts.append(f"field '{self.field}'")
        return ": ".join(parts) + f": {self.message}"


class ProblemsError(ValueError):
    """A configuration file people wrote is wrong; `problems` says where (one per line)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StrictFileModel(BaseModel):
    """A configuration file's shape: an unknown field is an error (a typo must not vanish)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain Python values (dates stay dates)."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(value) for value in node]
    if isinstance(node, datetime | date):
        return node
    if isinstance(node, bool | int | float) or node is None:
        return node
    return str(node)


def locate(node: Any, loc: Iterable[int | str], default_line: int) -> int:
    """The 1-based line of the deepest node on `loc` that exists in the YAML."""
    line = default_line
    for step in loc:
        if isinstance(node, CommentedMap) and step in node:
            line = node.lc.key(step)[0] + 1
            node = node[step]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            line = node.lc.item(step)[0] + 1
            node = node[step]
        else:
            break
    return line


def field_path(loc: Iterable[int | str]) -> str:
    path = ""
    for step in loc:
        path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
    return path


def error_message(error: Any, model: type[BaseModel]) -> str:
    """A pydantic error in words for the person who wrote the YAML."""
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = list(model.model_fields) if len(loc) == 1 else []
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown field '{name}'{hint}"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    if "input" in error and kind not in ("model_type", "dict_type", "list_type"):
        value = error["input"]
        if isinstance(value, str | int | float) and len(str(value)) <= 120:
            message += f" (got {value!r})"
    return message


def read_documents(path: Path, relative: str) -> tuple[list[tuple[Any, int]], list[Problem]]:
    """The YAML documents of a file with their first lines, or the problem that stops reading.

    The documents are shared with later reads of the same text (see `_parse`): read them, never
    change them.
    """
    try:
        text = path.read_text(encoding="utf-8")
        if _flow_depth(text) > MAX_DEPTH:  # the YAML scanner slows down quadratically first
            return [], [Problem(relative, None, None, f"nested more than {MAX_DEPTH} levels deep")]
        parsed = _parse(text)
        if isinstance(parsed, _TooBig):
            return [], [Problem(relative, parsed.line, None, parsed.message)]
        return list(parsed), []
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return [], [Problem(relative, line, None, f"not valid YAML: {exc.problem}")]
    except UnicodeDecodeError as exc:
        return [], [Problem(relative, None, None, f"not UTF-8 text: {exc.reason}")]
    except YAMLError as exc:  # e.g. a control character the YAML reader refuses
        return [], [Problem(relative, None, None, f"not valid YAML: {exc}")]
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        return [], [Problem(relative, None, None, f"not valid YAML: {exc}")]
    except TypeError as exc:  # e.g. an alias of a list used as a mapping key
        return [], [Problem(relative, None, None, f"not valid YAML: a key must be text ({exc})")]
    except RecursionError:
        return [], [Problem(relative, None, None, f"nested more than {MAX_DEPTH} levels deep")]


class _TooBig(NamedTuple):
    line: int
    message: str


@lru_cache(maxsize=512)
def _parse(text: str) -> tuple[tuple[Any, int], ...] | _TooBig:
    """The documents of a YAML text with their first lines, or why one of them is too big.

    Parsing is by far the slowest step of loading a register or a set of policies (ruamel's
    round-trip parser, which keeps the line numbers every error message needs), and the same
    unchanged files are read again and again in one process: checked, then loaded; the demo
    and every test that starts from it. So a text parsed once is not parsed again. Errors are
    not cached (they raise), and neither is anything else about the file.
    """
    documents = []
    for document in YAML(typ="rt").load_all(text):
        line = document.lc.line + 1 if isinstance(document, CommentedMap | CommentedSeq) else 1
        too_big = _size_problem(document)
        if too_big:
            return _TooBig(line, too_big)
        documents.append((document, line))
    return tuple(documents)


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ ] and { } outside quoted strings, a cheap look before parsing.

    A plain scalar with an apostrophe can hide brackets from this count, never add them: it
    errs towards letting a file through, to the full check after parsing.
    """
    depth = deepest = 0
    for match in _QUOTED_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _size_problem(document: Any) -> str | None:
    """Why a loaded document is too deep or too large to work with, if it is.

    Walks without recursion and stops at the limits, so checking costs no more than the limits.
    Aliases are followed at every use, as every later step (and pydantic) would see them.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    values = 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            return f"expands to more than {MAX_VALUES} values (through aliases?)"
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node)
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1) for child in node)
    return None


def validation_problems(
    exc: Any,
    model: type[BaseModel],
    node: Any,
    relative: str,
    line: int,
    label: str | None,
    tags: frozenset[str] = frozenset(),
) -> Iterator[Problem]:
    """One problem per pydantic error; `tags` are union tags in error locations, not YAML keys."""
    for error in exc.errors():
        loc = tuple(step for step in error["loc"] if step not in tags)
        yield Problem(
            relative,
            locate(node, loc, line),
            field_path(loc) or None,
            error_message({**error, "loc": loc}, model),
            label,
        )


def suggestion(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def read_single_model(path: Path, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Read a file that holds exactly one YAML document of `model`.

    Configuration files outside the register (staff directory, system clients) share this, so
    that every one of them reports its mistakes with file, line and field in the same way.
    """
    relative = path.name
    if not path.is_file():
        return None, [Problem(str(path), None, None, "no such file")]
    documents, problems = read_documents(path, relative)
    if problems:
        return None, problems
    if len(documents) != 1:
        found = len(documents)
        return None, [Problem(relative, None, None, f"expected one YAML document, found {found}")]
    node, line = documents[0]
    try:
        return model.model_validate(plain(node)), []
    except ValidationError as exc:
        return None, list(validation_problems(exc, model, node, relative, line, None))
