"""Reading people's YAML: a text parsed once is not parsed again, and a changed file is."""

from __future__ import annotations

from pathlib import Path

from glazenstad.register.yamlsource import read_documents


def test_a_changed_file_is_read_anew_and_an_unchanged_one_shares_its_parse(
    tmp_path: Path,
) -> None:
    path = tmp_path / "organisation.yaml"
    path.write_text("kind: organisation\nid: teststad\n", encoding="utf-8")
    first, problems = read_documents(path, "organisation.yaml")
    assert not problems and first[0][0]["id"] == "teststad"
    again, _ = read_documents(path, "organisation.yaml")
    assert again[0][0] is first[0][0], "the same text is parsed once"

    path.write_text("# renamed\nkind: organisation\nid: anderstad\n", encoding="utf-8")
    changed, problems = read_documents(path, "organisation.yaml")
    assert not problems and changed[0][0]["id"] == "anderstad"
    assert changed[0][1] == 2, "lines are those of the new text"


def test_a_problem_is_reported_every_time(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: organisation\nid: [unclosed\n", encoding="utf-8")
    for _ in range(2):
        documents, problems = read_documents(path, "broken.yaml")
        assert documents == [] and len(problems) == 1
        assert problems[0].file == "broken.yaml" and problems[0].line is not None


def test_a_document_too_big_is_refused_every_time(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        lines.append(
            f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, "
            f"*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for _ in range(2):
        documents, problems = read_documents(path, "laughs.yaml")
        assert documents == [] and len(problems) == 1 and problems[0].line == 1
        assert "expands to more than" in problems[0].message
