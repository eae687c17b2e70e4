from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.probes.cli import main
from analysis.probes.probeset import ProbeItem
from analysis.probes.report import analyse
from analysis.probes.runner import ModelAnswers, run_text_model
from analysis.probes.verdict import CONSISTENT, NO_EVIDENCE, STRONG
from tests.analysis.probes.conftest import Zoo, make_items, write_jsonl


@pytest.fixture(scope="module")
def items() -> list[ProbeItem]:
    return make_items()


@pytest.fixture(scope="module")
def runs(zoo: Zoo, items: list[ProbeItem]) -> dict[str, ModelAnswers]:
    out = {
        name: run_text_model(str(path), items, max_new_tokens=6, label=name)
        for name, path in [
            ("original", zoo.original),
            ("copy", zoo.copy),
            ("independent", zoo.independent),
        ]
    }
    for path in zoo.references:
        out[path.name] = run_text_model(str(path), items, max_new_tokens=6, label=path.name)
    return out


def _refs(runs: dict[str, ModelAnswers]) -> list[ModelAnswers]:
    return [v for k, v in runs.items() if k.startswith("ref")]


def test_copy_with_independent_references_is_strong_evidence(
    runs: dict[str, ModelAnswers], items: list[ProbeItem]
) -> None:
    rep = analyse(items, runs["original"], runs["copy"], _refs(runs))
    assert rep.verdict.verdict == STRONG, rep.verdict.rule
    assert rep.suspect_pair.agreement == 1.0
    assert rep.suspect_pair.same_wrong == rep.suspect_pair.both_wrong
    assert rep.item_null is not None and rep.item_null.p_value < 1e-6
    assert rep.pair_null is not None and rep.pair_null.rank == 1
    assert len(rep.reference_pairs) == 6 + 4  # C(4,2) among refs + (original, ref) x 4
    assert set(rep.adjusted) == {"item_null", "pair_null"}
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["verdict"] == STRONG and d["rule"] and d["version"] == "0.1.0"


def test_independent_model_is_no_evidence(
    runs: dict[str, ModelAnswers], items: list[ProbeItem]
) -> None:
    rep = analyse(items, runs["original"], runs["independent"], _refs(runs))
    assert rep.verdict.verdict == NO_EVIDENCE, rep.verdict.rule
    assert rep.item_null is not None and rep.item_null.p_value > 0.01


def test_without_references_a_copy_is_only_consistent_and_the_report_says_why(
    runs: dict[str, ModelAnswers], items: list[ProbeItem]
) -> None:
    rep = analyse(items, runs["original"], runs["copy"])
    assert rep.verdict.verdict == CONSISTENT
    assert "no null distribution" in rep.verdict.rule
    assert rep.p_values == {} and any("no null" in n for n in rep.notes)
    assert analyse(items, runs["original"], runs["independent"]).verdict.verdict == NO_EVIDENCE


def test_canary_items_reproduced_by_the_suspect_are_strong_evidence(
    runs: dict[str, ModelAnswers], items: list[ProbeItem]
) -> None:
    # Private items whose expected answer is what the original generated: references rarely
    # reproduce it.  Each canary reuses a generation item's answers under a new id.
    sources = [i.id for i in items if i.choices is None]
    canaries = [
        ProbeItem(f"k-{src}", "canary", answer=runs["original"].answers[src], private=True)
        for src in sources
    ]

    def with_canaries(m: ModelAnswers) -> ModelAnswers:
        return replace(m, answers={**m.answers, **{f"k-{s}": m.answers[s] for s in sources}})

    full = items + canaries
    o, c = with_canaries(runs["original"]), with_canaries(runs["copy"])
    refs = [with_canaries(r) for r in _refs(runs)]
    rep = analyse(full, o, c, refs)
    assert rep.canary is not None and rep.canary.hits == len(canaries)
    assert rep.verdict.verdict == STRONG and "canary" in rep.verdict.rule
    assert set(rep.adjusted) == {"canary", "item_null", "pair_null"}


def test_duplicate_labels_are_refused(
    runs: dict[str, ModelAnswers], items: list[ProbeItem]
) -> None:
    with pytest.raises(ValueError, match="distinct"):
        analyse(items, runs["original"], runs["original"])


def test_cli_writes_a_json_report(
    zoo: Zoo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = write_jsonl(tmp_path / "set.jsonl", make_items(n_choice=20, n_gen=4))
    out = tmp_path / "report.json"
    argv = ["run", "--probe-set", str(probe), "--original", str(zoo.original)]
    argv += ["--suspect", str(zoo.copy), "--json", str(out), "--max-new-tokens", "4"]
    for r in zoo.references[:3]:
        argv += ["--reference", str(r)]
    assert main(argv) == 0
    rep = json.loads(out.read_text())
    assert rep["verdict"] in {STRONG, CONSISTENT}
    assert rep["probe_set"]["n_items"] == 24 and len(rep["probe_set"]["sha256"]) == 64
    assert [m["label"] for m in rep["models"]][:2] == ["original:original", "suspect:copy"]
    assert "probes:" in capsys.readouterr().err


def test_cli_reports_hostile_inputs_clearly(
    zoo: Zoo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x"}\n{oops\n')
    argv = ["run", "--probe-set", str(bad), "--original", str(zoo.original)]
    assert main([*argv, "--suspect", str(zoo.copy)]) == 2
    assert "bad.jsonl, line 2: malformed JSON" in capsys.readouterr().err

    good = write_jsonl(tmp_path / "ok.jsonl", make_items(n_choice=2, n_gen=0))
    hostile = tmp_path / "hostile"
    shutil.copytree(zoo.copy, hostile)
    cfg = json.loads((hostile / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "x.Y"}
    (hostile / "config.json").write_text(json.dumps(cfg))
    argv = ["run", "--probe-set", str(good), "--original", str(zoo.original)]
    assert main([*argv, "--suspect", str(hostile)]) == 2
    assert "asks for remote code" in capsys.readouterr().err
    assert main([*argv, "--suspect", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
