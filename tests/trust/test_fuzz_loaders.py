"""The register and policy loaders under bad YAML: a valid model or an error naming the place.

People write these files by hand, and a file can also come from somewhere less friendly. Whatever
is in it, loading must end in one of two ways: the parsed model, or the domain's validation error
(`RegisterValidationError`, `PolicyValidationError`) whose problems name the file and, where the
YAML allows, the line and the field. Any other exception (a RecursionError, a ValueError from deep
inside the YAML library, a MemoryError from an alias bomb) is a failure.

Hypothesis feeds arbitrary text and bytes, valid files with random edits in their text, and valid
documents with a random field replaced by a wrong value, deleted, or joined by an unknown one. A
table of known hostile constructs (alias bombs, deep nesting, duplicate keys, Python tags, huge
numbers, control characters, other encodings) runs on every run.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from glazenstad.register.loader import RegisterValidationError, parse_register
from glazenstad.register.yamlsource import MAX_DEPTH, Problem, plain
from glazenstad.rules.loader import PolicyValidationError, parse_policies
from tests.conftest import FIXTURES, TEST_REGISTER

TEST_POLICIES = FIXTURES / "policies" / "teststad"
REGISTER_FILES = sorted(p.relative_to(TEST_REGISTER) for p in TEST_REGISTER.rglob("*.yaml"))
POLICY_FILES = sorted(p.relative_to(TEST_POLICIES) for p in TEST_POLICIES.rglob("*.yaml"))

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Loader = Callable[[Path], object]
LOADERS: dict[str, tuple[Loader, type[Exception], Path, list[Path]]] = {
    "register": (parse_register, RegisterValidationError, TEST_REGISTER, REGISTER_FILES),
    "policies": (parse_policies, PolicyValidationError, TEST_POLICIES, POLICY_FILES),
}


@contextmanager
def tree_with(source: Path, relative: Path, content: bytes) -> Iterator[Path]:
    """A copy of a valid tree in a temporary directory, with one file's bytes replaced."""
    with tempfile.TemporaryDirectory(prefix="glazenstad-fuzz-") as tmp:
        root = Path(tmp) / source.name
        shutil.copytree(source, root)
        (root / relative).write_bytes(content)
        yield root


def assert_clean_outcome(kind: str, relative: Path, content: bytes) -> None:
    """Load a tree whose file `relative` holds `content`; only a model or the domain error pass."""
    load, domain_error, source, _ = LOADERS[kind]
    with tree_with(source, relative, content) as root:
        try:
            load(root)
        except domain_error as exc:
            problems: list[Problem] = getattr(exc, "problems")  # noqa: B009 - both errors have it
            assert problems, f"{domain_error.__name__} without a problem"
            for problem in problems:
                assert problem.message.strip(), problem
                assert str(problem).startswith(problem.file), problem
                named = _named_file(root, problem.file)
                assert named is not None, f"{problem} names no file or directory of the tree"
                if problem.line is not None and named.is_file():
                    lines = named.read_bytes().count(b"\n") + 1
                    assert 1 <= problem.line <= lines, f"{problem}: the file has {lines} lines"


def _named_file(root: Path, name: str) -> Path | None:
    """The file or directory a problem names: relative to the tree, its parent, or absolute."""
    for candidate in (root / name, root.parent / name, Path(name)):
        if candidate.exists() and candidate.resolve().is_relative_to(root.parent.resolve()):
            return candidate
    return None


def _dump(documents: list[Any]) -> bytes:
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump_all(documents, out)
    return out.getvalue().encode("utf-8")


def _documents(path: Path) -> list[Any]:
    return [_builtin(plain(d)) for d in YAML(typ="rt").load_all(path.read_text(encoding="utf-8"))]


def _builtin(node: Any) -> Any:
    """ruamel's scalar subclasses (ScalarFloat, ...) as the builtin types the dumper knows."""
    if isinstance(node, dict):
        return {key: _builtin(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_builtin(value) for value in node]
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


# --- strategies -------------------------------------------------------------------------------

AWKWARD_STRINGS = [
    "",
    " ",
    "~",
    "null",
    "yes",
    "no",
    "1e999",
    "0x1F",
    "-.inf",
    "!!python/object:os.system",
    "*anchor",
    "&anchor",
    "'",
    '"',
    "a\x00b",
    "\ufeff",
    "é",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "\u202e",
    "x" * 5000,
    "'; DROP TABLE register_entry_version; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "2026-02-30",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.dates(),
    st.sampled_from(AWKWARD_STRINGS),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a plain document (the empty path is the document itself)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated_document_file(draw: st.DrawFn, kind: str) -> tuple[Path, bytes]:
    """A valid file of the tree, re-dumped with one field replaced, deleted or added."""
    _, _, source, files = LOADERS[kind]
    relative = draw(st.sampled_from(files))
    documents = _documents(source / relative)
    index = draw(st.integers(0, len(documents) - 1))
    paths = [p for p in _paths(documents[index]) if p]
    path = draw(st.sampled_from(paths))
    parent = _parent(documents[index], path)
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
    else:
        parent.append(draw(values))
    return relative, _dump(documents)


@st.composite
def edited_text_file(draw: st.DrawFn, kind: str) -> tuple[Path, bytes]:
    """A valid file with a random slice of its text replaced by random text."""
    _, _, source, files = LOADERS[kind]
    relative = draw(st.sampled_from(files))
    text = (source / relative).read_text(encoding="utf-8")
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 80)))
    insert = draw(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(
                ["\n  - ", ": ", "\t", "&a ", "*a", "<<: *a\n", "!!binary ", "? ", "---\n", "%YAML"]
            ),
        )
    )
    return relative, (text[:start] + insert + text[end:]).encode("utf-8", "surrogatepass")


# --- properties -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(LOADERS))
@FUZZ
@given(data=st.data())
def test_arbitrary_text_and_bytes(kind: str, data: st.DataObject) -> None:
    files = LOADERS[kind][3]
    relative = data.draw(st.sampled_from(files))
    content = data.draw(
        st.one_of(
            st.text().map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.binary(max_size=400),
        )
    )
    assert_clean_outcome(kind, relative, content)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@FUZZ
@given(data=st.data())
def test_documents_with_a_wrong_field(kind: str, data: st.DataObject) -> None:
    relative, content = data.draw(mutated_document_file(kind))
    assert_clean_outcome(kind, relative, content)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@FUZZ
@given(data=st.data())
def test_files_with_edited_text(kind: str, data: st.DataObject) -> None:
    relative, content = data.draw(edited_text_file(kind))
    assert_clean_outcome(kind, relative, content)


# --- known hostile constructs -----------------------------------------------------------------


def _laughs(levels: int, width: int = 10) -> str:
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*lol{level - 1}"] * width)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, bytes] = {
    "billion laughs": ("kind: organisation\nid: x\n" + _laughs(9)).encode(),
    "billion laughs in a key": ("kind: organisation\n" + _laughs(8) + "? *lol7\n: x\n").encode(),
    "recursive alias": b"kind: organisation\nid: &a [*a]\n",
    "deep flow nesting": b"kind: organisation\nid: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "deep mapping nesting": b"kind: organisation\nid: " + b"{a: " * 2_000 + b"}" * 2_000 + b"\n",
    "deep block nesting": (
        "kind: organisation\nid:\n"
        + "".join("  " * (i + 1) + "- \n" for i in range(MAX_DEPTH + 10))
    ).encode(),
    "duplicate keys": b"kind: organisation\nid: a\nid: b\n",
    "python object tag": b"kind: organisation\nid: !!python/object/apply:os.system ['true']\n",
    "python name tag": b"!!python/name:os.system\n",
    "unknown local tag": b"kind: !organisation organisation\nid: !x {a: 1}\n",
    "binary tag": b"kind: organisation\nid: !!binary aGVsbG8=\n",
    "huge integer": b"kind: organisation\nid: " + b"9" * 5_000 + b"\n",
    "huge float": b"kind: organisation\nid: 1e99999\n",
    "nul byte": b"kind: organisation\x00\nid: x\n",
    "control characters": b"kind: organisation\nid: \x07\x1b[31m\n",
    "latin-1": "kind: organisation\nname: Gemeente Café\n".encode("latin-1"),
    "utf-16 with bom": "kind: organisation\nid: x\n".encode("utf-16"),
    "utf-8 bom": b"\xef\xbb\xbfkind: organisation\nid: x\n",
    "invalid utf-8": b"kind: organisation\nid: \xc3\x28\n",
    "lone surrogate": "kind: organisation\nid: \ud800\n".encode("utf-8", "surrogatepass"),
    "merge of an undefined anchor": b"kind: organisation\n<<: *nowhere\n",
    "many documents": b"---\nkind: organisation\n" * 300,
    "a list, not a mapping": b"- kind: organisation\n",
    "a bare scalar": b"organisation\n",
    "a key named like a field path": b'kind: policy\nid: p\n"rules[": 1\n"rules[x]": 2\n',
    "empty": b"",
}


@pytest.mark.parametrize("kind", sorted(LOADERS))
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_refused_with_a_clear_problem(kind: str, name: str) -> None:
    _, domain_error, source, files = LOADERS[kind]
    relative = files[0]
    assert_clean_outcome(kind, relative, HOSTILE[name])
    if name == "empty":
        return
    with tree_with(source, relative, HOSTILE[name]) as root, pytest.raises(domain_error):
        LOADERS[kind][0](root)


@pytest.mark.parametrize(
    "name", ["billion laughs", "deep flow nesting", "deep mapping nesting", "deep block nesting"]
)
def test_bombs_are_named_as_such(name: str) -> None:
    """The refusal says what is wrong (size or depth), at the file, not a generic crash text."""
    relative = Path("teststad/organisation.yaml")
    with (
        tree_with(TEST_REGISTER, relative, HOSTILE[name]) as root,
        pytest.raises(RegisterValidationError) as caught,
    ):
        parse_register(root)
    messages = [str(p) for p in caught.value.problems]
    assert any(
        "organisation.yaml" in m and ("levels deep" in m or "values" in m) for m in messages
    ), messages


def test_the_valid_trees_still_load() -> None:
    """The limits leave the real files alone: the fixtures and the demo tree parse cleanly."""
    assert parse_register(TEST_REGISTER).organisations
    assert parse_policies(TEST_POLICIES).policies
    demo = FIXTURES.parents[1] / "demo"
    assert len(parse_register(demo / "register").organisations) >= 2
    assert parse_policies(demo / "policies").policies
