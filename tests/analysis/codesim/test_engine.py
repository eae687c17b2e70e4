"""Algorithm tests on tiny inline sources (no database)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.codesim import (
    Params,
    SourceFile,
    __version__,
    annotate_history,
    compare_trees,
    load_tree,
    render_html,
    score_submissions,
    tokenize,
)
from analysis.codesim.loader import Skipped

ORIGINAL = """\
def mean_of(values):
    total = 0
    for v in values:
        total = total + v
    return total / len(values)


def variance_of(values):
    m = mean_of(values)
    acc = 0
    for v in values:
        acc = acc + (v - m) * (v - m)
    return acc / len(values)


def report(values):
    print("mean", mean_of(values))
    print("variance", variance_of(values))
    if len(values) > 10:
        print("large sample")
"""

RENAMED = """\
def average(xs):
    # running sum
    s = 0
    for item in xs:
        s = s + item
    return s / len(xs)


def spread(xs):
    avg = average(xs)
    accum = 0
    for item in xs:
        accum = accum + (item - avg) * (item - avg)
    return accum / len(xs)


def report(xs):
    print("mean", average(xs))
    print("variance", spread(xs))
    if len(xs) > 10:
        print("large sample")
"""

REORDERED_PADDED = """\
def report(values):
    unused = [0] * 3
    print("mean", mean_of(values))
    print("variance", variance_of(values))
    if len(values) > 10:
        print("large sample")


def variance_of(values):
    m = mean_of(values)
    acc = 0
    debug = False
    for v in values:
        acc = acc + (v - m) * (v - m)
    if debug:
        print("debugging")
    return acc / len(values)


def mean_of(values):
    total = 0
    for v in values:
        total = total + v
    return total / len(values)
"""

INDEPENDENT = """\
import statistics


class Summary:
    def __init__(self, data):
        self.data = sorted(data)

    def describe(self):
        return {"median": statistics.median(self.data), "max": max(self.data)}


if __name__ == "__main__":
    s = Summary([3, 1, 2])
    print(s.describe())
"""


def _src(path: str, text: str) -> list[SourceFile]:
    return [SourceFile(path, text)]


def _score(a: str, b: str, others: dict[str, str] | None = None) -> float:
    subs = {"a": _src("a.py", a), "b": _src("b.py", b)}
    for name, text in (others or {}).items():
        subs[name] = _src(name + ".py", text)
    for p in score_submissions(subs):
        if {p.left, p.right} == {"a", "b"}:
            return p.score
    return 0.0


def test_renamed_and_commented_copy_scores_high() -> None:
    assert _score(ORIGINAL, RENAMED) > 0.5


def test_reordered_and_dead_code_padded_copy_scores_high() -> None:
    assert _score(ORIGINAL, REORDERED_PADDED) > 0.5


def test_independent_solution_scores_low() -> None:
    independent = _score(ORIGINAL, INDEPENDENT)
    assert independent < 0.25
    assert independent < _score(ORIGINAL, RENAMED) / 2


REWRITTEN_LOGIC = """\
def report(xs):
    n = 0
    total = 0.0
    while n < len(xs):
        total += xs[n]
        n += 1
    m = total / len(xs)
    print("mean", m)
    print("variance", sum((x - m) ** 2 for x in xs) / len(xs))
    if not len(xs) <= 10:
        print("large sample")
"""


def test_copy_with_rewritten_logic_keeps_its_literals_and_scores_high() -> None:
    # Structure rewritten (while for for, compound assignment, inlined helpers); the program's
    # messages and constants are the same, which independent authors would not match.
    rewritten = _score(ORIGINAL, REWRITTEN_LOGIC)
    assert rewritten > 0.5
    assert rewritten > 2 * _score(ORIGINAL, INDEPENDENT)


def test_one_shared_common_literal_is_not_enough() -> None:
    # Twenty short solutions that all print "YES" or "NO" and use the same small constants: the
    # common values are weak evidence, so the literal channel stays low (the structural channels
    # still see that the solutions are alike).
    bodies = [
        f"def solve(a, b):\n    return a * {i} + b\n\nprint('YES' if solve(1, 2) else 'NO')\n"
        if i % 2
        else f"x = int(input())\nfor j in range(x):\n    x -= {i}\nprint('YES')\n"
        for i in range(20)
    ]
    subs = {f"s{i:02d}": _src(f"s{i:02d}.py", b) for i, b in enumerate(bodies)}
    scores = score_submissions(subs)
    assert max(p.channels["literals"] for p in scores) < 0.5


def test_literal_values_ignore_spelling() -> None:
    from analysis.codesim.features import literal_value

    assert literal_value("STR", '"Sum:\\n"') == literal_value("STR", "'Sum: '") == "S:Sum:"
    assert literal_value("STR", 'f"x = {x}"') == "S:x = {x}"
    assert literal_value("STR", '"""doc"""') == "S:doc"
    assert literal_value("STR", '""') is None
    assert literal_value("NUM", "5L") == literal_value("NUM", "5.0") == "N:5"
    assert literal_value("NUM", "1_000") == "N:1000"
    assert literal_value("NUM", "0x1F") == "N:0x1F"
    assert literal_value("ID", "x") is None


def test_identical_files_score_one() -> None:
    assert _score(ORIGINAL, ORIGINAL) == pytest.approx(1.0)


def test_tokens_drop_comments_and_normalise_names_and_literals() -> None:
    stream = tokenize(SourceFile("x.py", 'x = foo(1, "a")  # note\n'))
    assert stream.syms == ("ID", "=", "ID", "(", "NUM", ",", "STR", ")")
    assert stream.texts[2] == "foo"
    assert (stream.lines[2], stream.cols[2]) == (1, 5)


@pytest.mark.parametrize(
    ("path", "lang"),
    [
        ("a.py", "python"),
        ("A.java", "java"),
        ("a.c", "c"),
        ("a.cpp", "cpp"),
        ("a.js", "javascript"),
        ("a.ts", "typescript"),
        ("a.go", "go"),
        ("a.rs", "rust"),
        ("notes.unknownext", "text"),
    ],
)
def test_languages_are_detected_by_extension(path: str, lang: str) -> None:
    stream = tokenize(SourceFile(path, "int main() { return 0; } // hi\n"))
    assert stream.lang == lang
    assert len(stream) > 0


def test_rename_map_and_fragment_lines() -> None:
    report = compare_trees(_src("stats.py", ORIGINAL), _src("copy.py", RENAMED))
    assert report.version == __version__
    assert report.params == Params().to_dict()
    pair = report.pairs[0]
    renames = {(r.original, r.suspect) for r in pair.rename_map}
    assert ("mean_of", "average") in renames
    assert ("values", "xs") in renames
    assert ("total", "s") in renames
    assert ("print", "print") not in renames
    counts = {r.original: r.count for r in report.rename_map}
    assert counts["values"] >= 5
    frag = max(pair.fragments, key=lambda f: f.tokens)
    assert frag.left_path == "stats.py" and frag.right_path == "copy.py"
    # The renamed file has one extra comment line at the top of the first function.
    assert frag.right_lines[0] - frag.left_lines[0] in (0, 1)
    assert pair.suspect_coverage > 0.8
    assert pair.longest_fragment == frag.tokens
    assert report.suspect_coverage > 0.8
    json.dumps(report.to_dict())


def test_fragment_columns_point_at_matched_tokens() -> None:
    left = "x = 1\n" + ORIGINAL
    report = compare_trees(_src("l.py", left), _src("r.py", ORIGINAL), params=Params())
    frag = report.pairs[0].fragments[0]
    left_lines = left.split("\n")
    right_lines = ORIGINAL.split("\n")
    assert left_lines[frag.left_lines[0] - 1][frag.left_cols[0] - 1 :].startswith("def")
    assert right_lines[frag.right_lines[0] - 1][frag.right_cols[0] - 1 :].startswith("def")
    assert frag.left_lines[0] == frag.right_lines[0] + 1


def test_base_code_counts_for_nothing() -> None:
    base = _src("template.py", ORIGINAL)
    report = compare_trees(_src("a.py", ORIGINAL), _src("b.py", ORIGINAL), base=base)
    assert report.covered_tokens == 0
    assert all(not p.fragments for p in report.pairs)
    subs = {"a": _src("a.py", ORIGINAL), "b": _src("b.py", ORIGINAL)}
    assert not [p for p in score_submissions(subs, base=base) if p.score > 0.05]


def test_base_only_removes_the_shared_part() -> None:
    base = _src("template.py", ORIGINAL)
    own = INDEPENDENT
    report = compare_trees(_src("a.py", ORIGINAL + own), _src("b.py", ORIGINAL + own), base=base)
    assert report.covered_tokens > 0
    assert report.suspect_coverage > 0.9  # of the non-base part


def test_html_is_self_contained_and_escaped() -> None:
    evil = ORIGINAL + '\nprint("<script>alert(1)</script>")\n'
    report = compare_trees(_src("<b>.py", evil), _src("c.py", evil))
    page = render_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;b&gt;.py" in page
    assert "http://" not in page and "https://" not in page
    assert "background:hsl(" in page


def test_history_marks_first_commit_of_each_file() -> None:
    report = compare_trees(_src("stats.py", ORIGINAL), _src("copy.py", RENAMED))
    original_history = [
        {"sha": "b2", "committed_at": "2024-03-01T10:00:00Z", "files": [["M", "stats.py"]]},
        {"sha": "a1", "committed_at": "2024-01-01T10:00:00+00:00", "files": [["A", "stats.py"]]},
    ]
    suspect_history: list[dict[str, Any]] = [
        {"sha": "c3", "committed_at": "2024-02-01T00:00:00Z", "files": [["A", "copy.py"]]},
        {"bad": "entry"},
    ]
    annotated = annotate_history(
        report,
        original_history=original_history,
        suspect_history=suspect_history,
        original_release="2024-06-01T00:00:00Z",
    )
    info = annotated.pairs[0].history
    assert info is not None
    assert info["original_first_commit"]["sha"] == "a1"
    assert info["suspect_first_commit"]["sha"] == "c3"
    assert info["suspect_before_release"] is True
    assert info["suspect_before_original"] is False
    assert "history" in annotated.to_dict()["pairs"][0]


def test_results_are_deterministic() -> None:
    subs = {n: _src(n + ".py", t) for n, t in [("a", ORIGINAL), ("b", RENAMED), ("c", INDEPENDENT)]}
    assert [p.to_dict() for p in score_submissions(subs)] == [
        p.to_dict() for p in score_submissions(subs)
    ]


def test_load_tree_skips_binary_undecodable_and_large(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("print(1)\n")
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9\xff'\n")
    (tmp_path / "big.js").write_text("a" * 2000)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    skipped: list[Skipped] = []
    files = load_tree(tmp_path, max_file_bytes=1000, skipped=skipped)
    assert [f.path for f in files] == ["ok.py"]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["bin.dat"].startswith("binary")
    assert reasons["latin.py"].startswith("undecodable")
    assert reasons["big.js"].startswith("too large")


def test_load_tree_file_limit(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"f{i:02d}.py").write_text(f"x = {i}\n")
    skipped: list[Skipped] = []
    assert len(load_tree(tmp_path, max_files=10, skipped=skipped)) == 10
    assert len(skipped) == 20 and "file limit" in skipped[0].reason


def test_minified_and_deeply_nested_input_is_bounded() -> None:
    minified = "var a=" + "[" * 5000 + "]" * 5000 + ";" + "f(1,2);" * 30_000
    nested = "def f():\n" + "".join("    " * (i + 1) + "if x:\n" for i in range(300)) + "pass\n"
    params = Params(max_tokens_per_file=50_000)
    report = compare_trees(
        [SourceFile("m.js", minified), SourceFile("n.py", nested)],
        [SourceFile("m.js", minified), SourceFile("n.py", nested)],
        params=params,
    )
    assert report.pairs
    assert any("truncated" in n for n in report.notes)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-m", "analysis.codesim", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_pairs_prints_valid_csv_for_mixed_languages(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(ORIGINAL)
    (tmp_path / "b.py").write_text(RENAMED)
    (tmp_path / "c.java").write_text("class C { int f(int x) { return x + 1; } }\n")
    (tmp_path / "d.go").write_text("package main\nfunc f(x int) int { return x + 1 }\n")
    (tmp_path / "e.bin").write_bytes(b"\x00\x00")
    sub = tmp_path / 'team, "x"'
    sub.mkdir()
    (sub / "main.rs").write_text('fn main() { println!("hi"); }\n')
    (sub / "util.c").write_text("int add(int a, int b) { return a + b; }\n")
    res = _run_cli("pairs", str(tmp_path))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and set(rows[0]) == {"left", "right", "score"}
    names = {r["left"] for r in rows} | {r["right"] for r in rows}
    assert 'team, "x"' in names and "e.bin" not in names
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    best = max(rows, key=lambda r: float(r["score"]))
    assert {best["left"], best["right"]} == {"a.py", "b.py"}
    assert "e.bin" in res.stderr


def test_cli_compare_writes_json_and_html(tmp_path: Path) -> None:
    (tmp_path / "orig").mkdir()
    (tmp_path / "sus").mkdir()
    (tmp_path / "orig" / "stats.py").write_text(ORIGINAL)
    (tmp_path / "sus" / "copy.py").write_text(RENAMED)
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    res = _run_cli(
        "compare",
        str(tmp_path / "orig"),
        str(tmp_path / "sus"),
        "--json",
        str(out_json),
        "--html",
        str(out_html),
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out_json.read_text())
    assert data["version"] == __version__ and data["pairs"]
    assert out_html.read_text().startswith("<!DOCTYPE html>")


def test_cli_reports_missing_directory_clearly() -> None:
    res = _run_cli("pairs", "/nonexistent/codesim-dir")
    assert res.returncode != 0
    assert "does not exist" in res.stderr
    assert "Traceback" not in res.stderr


def test_package_does_not_import_django() -> None:
    code = (
        "import sys, analysis.codesim; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'celery', 'rest_framework', 'cases', 'integrity')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[3]
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
