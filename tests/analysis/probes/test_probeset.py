from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from analysis.probes.probeset import (
    ProbeSetError,
    load_probe_set,
    normalise_answer,
    parse_probe_set,
)

GOOD = (
    b'{"id": "q1", "prompt": "Capital of France?", "answer": "Paris"}\n'
    b"\n"
    b'{"id": "q2", "prompt": "2+2?", "answer": "4", "choices": ["3", "4"]}\n'
    b'{"id": "k1", "prompt": "canary 77", "answer": "zebra", "private": true}\n'
    b'{"id": 5, "prompt": "unscored"}\n'
)


def test_valid_set_parses_with_sha256_and_counts() -> None:
    ps = parse_probe_set(GOOD, source="set.jsonl")
    assert [i.id for i in ps.items] == ["q1", "q2", "k1", "5"]
    assert ps.items[1].choices == ("3", "4")
    assert ps.items[2].private is True
    assert ps.items[3].answer is None
    assert ps.sha256 == hashlib.sha256(GOOD).hexdigest()
    d = ps.to_dict()
    assert d["n_items"] == 4 and d["n_private"] == 1 and d["n_with_choices"] == 1


def test_load_from_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(GOOD)
    assert load_probe_set(path).source == str(path)
    with pytest.raises(ProbeSetError, match="cannot read"):
        load_probe_set(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "prompt": "p"', "line 2: malformed JSON"),
        ('["a list"]', "line 2: expected a JSON object"),
        ('{"prompt": "p"}', "line 2: 'id' is required"),
        ('{"id": "x"}', "line 2: item 'x': 'prompt' is required"),
        ('{"id": "x", "prompt": "  "}', "'prompt' is required"),
        ('{"id": "q1", "prompt": "p"}', "line 2: duplicate id 'q1' \\(first on line 1\\)"),
        ('{"id": "x", "prompt": "p", "choices": "ab"}', "'choices' must be a non-empty list"),
        ('{"id": "x", "prompt": "p", "choices": ["a", 1]}', "'choices' must be a non-empty list"),
        ('{"id": "x", "prompt": "p", "choices": ["a", "A "]}', "not distinct"),
        ('{"id": "x", "prompt": "p", "answer": "c", "choices": ["a", "b"]}', "not one of"),
        ('{"id": "x", "prompt": "p", "answer": 4}', "'answer' must be a string"),
        ('{"id": "x", "prompt": "p", "private": true}', "canary\\) item needs an 'answer'"),
        ('{"id": "x", "prompt": "p", "private": "yes"}', "'private' must be true or false"),
        ('{"id": "x", "prompt": "p", "anwser": "a"}', "unknown key\\(s\\) \\['anwser'\\]"),
    ],
)
def test_malformed_lines_get_errors_naming_the_line(line: str, message: str) -> None:
    data = (json.dumps({"id": "q1", "prompt": "ok"}) + "\n" + line + "\n").encode()
    with pytest.raises(ProbeSetError, match=message):
        parse_probe_set(data, source="bad.jsonl")


def test_empty_and_non_utf8_sets_are_refused() -> None:
    with pytest.raises(ProbeSetError, match="no items"):
        parse_probe_set(b"\n\n")
    with pytest.raises(ProbeSetError, match="not UTF-8"):
        parse_probe_set(b'{"id": "\xff"}')


def test_normalise_answer_takes_first_line_stripped_and_casefolded() -> None:
    assert normalise_answer("  Paris \nand more") == "paris"
    assert normalise_answer("\n\n STRASSE  x") == "strasse x"
    assert normalise_answer("") == ""
