from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.probes.probeset import ProbeItem
from analysis.probes.runner import (
    ModelLoadError,
    RemoteCodeRefused,
    check_no_remote_code,
    default_loader,
    hash_model_dir,
    run_text_model,
)
from tests.analysis.probes.conftest import Zoo, make_items


def test_importing_the_package_does_not_import_torch() -> None:
    import subprocess

    code = (
        "import sys, analysis.probes; "
        "print(sorted(m for m in ('torch', 'transformers', 'django') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_batched_and_one_at_a_time_give_identical_answers(zoo: Zoo) -> None:
    items = make_items()
    batched = run_text_model(str(zoo.original), items, batch_size=16, max_new_tokens=6)
    single = run_text_model(str(zoo.original), items, batch_size=1, max_new_tokens=6)
    assert batched.answers == single.answers
    assert batched.raw == single.raw
    assert set(batched.answers) == {i.id for i in items}
    assert batched.params["batch_size"] == 16 and single.params["batch_size"] == 1


def test_run_is_deterministic_and_records_versions_and_hashes(zoo: Zoo) -> None:
    items = make_items(n_choice=6, n_gen=2)
    a = run_text_model(str(zoo.original), items, max_new_tokens=4, label="orig")
    b = run_text_model(str(zoo.original), items, max_new_tokens=4)
    assert a.answers == b.answers
    assert a.label == "orig" and b.label == "original"
    assert set(a.versions) == {"torch", "transformers", "probes"}
    assert a.params["trust_remote_code"] is False and a.params["decoding"] == "greedy"
    assert a.dir_sha256 == hash_model_dir(zoo.original)[0]
    assert "config.json" in a.file_sha256
    d = a.to_dict()
    assert json.loads(json.dumps(d))["answers"] == dict(a.answers)


def test_choice_items_answer_with_one_of_the_choices(zoo: Zoo) -> None:
    items = make_items(n_choice=10, n_gen=0)
    ans = run_text_model(str(zoo.independent), items)
    for item in items:
        assert item.choices is not None
        assert ans.answers[item.id] in {c.casefold() for c in item.choices}


def test_copy_answers_identically_and_independent_model_differs(zoo: Zoo) -> None:
    items = make_items()
    o = run_text_model(str(zoo.original), items, max_new_tokens=6)
    c = run_text_model(str(zoo.copy), items, max_new_tokens=6)
    i = run_text_model(str(zoo.independent), items, max_new_tokens=6)
    assert o.answers == c.answers
    assert sum(o.answers[k] == i.answers[k] for k in o.answers) < len(items) * 0.6


def test_injected_loader_is_used(zoo: Zoo) -> None:
    calls: list[str] = []

    def loader(model_dir: str) -> tuple[Any, Any]:
        calls.append(model_dir)
        return default_loader(str(zoo.original))

    items = make_items(n_choice=3, n_gen=1)
    out = run_text_model("in-memory", items, loader=loader, max_new_tokens=2)
    assert calls == ["in-memory"] and out.dir_sha256 is None


@pytest.mark.parametrize("config_name", ["config.json", "tokenizer_config.json"])
def test_a_folder_asking_for_remote_code_is_refused(
    zoo: Zoo, tmp_path: Path, config_name: str
) -> None:
    import shutil

    hostile = tmp_path / "hostile"
    shutil.copytree(zoo.original, hostile)
    cfg_path = hostile / config_name
    cfg = json.loads(cfg_path.read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel"}
    cfg_path.write_text(json.dumps(cfg))
    (hostile / "evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(RemoteCodeRefused, match=f"{config_name}: asks for remote code"):
        check_no_remote_code(hostile)
    with pytest.raises(RemoteCodeRefused, match="trust_remote_code stays off"):
        run_text_model(str(hostile), make_items(n_choice=1, n_gen=0))


def test_unloadable_folders_and_image_items_get_clear_errors(tmp_path: Path, zoo: Zoo) -> None:
    with pytest.raises(ModelLoadError, match="no config.json"):
        run_text_model(str(tmp_path), make_items(n_choice=1, n_gen=0))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable config"):
        run_text_model(str(broken), make_items(n_choice=1, n_gen=0))
    with pytest.raises(ModelLoadError, match="image-text models are not supported"):
        run_text_model(str(zoo.original), [ProbeItem("i1", "what is shown?", image="x.png")])
    with pytest.raises(ValueError, match="batch_size"):
        run_text_model(str(zoo.original), make_items(n_choice=1, n_gen=0), batch_size=0)


def test_multi_token_choices_are_scored_by_summed_log_likelihood(zoo: Zoo) -> None:
    import torch

    model, tok = default_loader(str(zoo.independent))
    rng_items = make_items(n_choice=6, n_gen=0, seed=3)
    items = [
        ProbeItem(i.id, i.prompt, choices=("a1 a2", "a3", "w5 w6 w7", "a0 a0")) for i in rng_items
    ]
    for bs in (1, 5, 24):
        got = run_text_model(str(zoo.independent), items, batch_size=bs)
        for item in items:
            assert item.choices is not None
            prompt = tok(item.prompt)["input_ids"]
            scores = []
            for choice in item.choices:
                cont = tok(" " + choice, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([prompt + cont])
                with torch.no_grad():
                    logp = torch.log_softmax(model(input_ids=ids).logits.double(), dim=-1)
                n = len(prompt)
                scores.append(sum(float(logp[0, n + k - 1, t]) for k, t in enumerate(cont)))
            best = item.choices[max(range(len(scores)), key=lambda c: (scores[c], -c))]
            assert got.answers[item.id] == best, (bs, item.id, scores)
