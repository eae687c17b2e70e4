from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from scipy.stats import kstest
from transformers import LlamaConfig, LlamaForCausalLM

from analysis.provenance import (
    Params,
    compare_models,
    fisher,
    hungarian_match,
    layer_test,
    open_model,
    permutation_test,
)
from tests.analysis.provenance.conftest import (
    CFG,
    StateDict,
    add_noise,
    build_model,
    derive,
)

LAYERS = CFG["num_hidden_layers"]
WIDTH = CFG["intermediate_size"]


def mlp_permutations(seed: int = 11) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(WIDTH, generator=g) for _ in range(LAYERS)]


def permute_mlp(sd: StateDict, perms: list[torch.Tensor]) -> StateDict:
    """Function-preserving: MLP hidden units reordered in gate/up rows and down columns."""
    out = dict(sd)
    for layer, pn in enumerate(perms):
        k = f"model.layers.{layer}.mlp."
        for n in ("gate_proj", "up_proj"):
            out[k + n + ".weight"] = sd[k + n + ".weight"][pn]
        out[k + "down_proj.weight"] = sd[k + "down_proj.weight"][:, pn]
    return out


@pytest.fixture(scope="module")
def permuted(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("permuted")
    perms = mlp_permutations()
    return derive(
        models["original"], root / "permuted", lambda sd: add_noise(permute_mlp(sd, perms))
    )


def test_mlp_permutation_preserves_the_function(models: dict[str, Path]) -> None:
    sd = load_file(models["original"] / "model.safetensors")
    logits = []
    for state in (sd, permute_mlp(sd, mlp_permutations())):
        model = LlamaForCausalLM(LlamaConfig(**CFG))
        model.load_state_dict(state, strict=False)
        with torch.no_grad():
            logits.append(model(torch.arange(16).unsqueeze(0)).logits)
    assert float((logits[0] - logits[1]).abs().max()) < 1e-5


def test_permuted_noisy_copy_is_detected_and_its_permutation_found(
    models: dict[str, Path], permuted: Path
) -> None:
    report = compare_models(models["original"], permuted)
    assert report.verdict.kind == "no_noise_verdict"  # T1 cannot see through the permutation
    test = report.permutation_test
    assert test is not None and test.comparable and test.matched is not None
    assert test.matched.p < 1e-12 and test.matched.log10_p < -12
    assert len(test.layers) == LAYERS
    for layer, pn in zip(test.layers, mlp_permutations(), strict=True):
        assert layer.rho_matched > 0.99 and layer.agreement == 1.0
        # suspect row j holds original row pn[j]: original row i sits at argsort(pn)[i]
        assert layer.permutation == tuple(int(j) for j in torch.argsort(pn))
        assert len(layer.hungarian_seconds) == 2 and min(layer.hungarian_seconds) >= 0
    # The constrained statistic (Spearman against identity) is blind to the permutation by design.
    assert test.constrained is not None and test.constrained.p > 1e-3
    assert test.hungarian_seconds_mean >= 0


def test_noisy_copy_is_significant_on_both_statistics(models: dict[str, Path]) -> None:
    test = compare_models(models["original"], models["noisy"]).permutation_test
    assert test is not None and test.constrained is not None and test.matched is not None
    assert test.constrained.p < 1e-12 and test.matched.p < 1e-12
    assert all(layer.permutation == tuple(range(WIDTH)) for layer in test.layers)


def test_independent_model_is_not_significant(models: dict[str, Path]) -> None:
    out = compare_models(models["original"], models["independent"]).to_dict()
    json.dumps(out, allow_nan=False)
    section = out["permutation_test"]
    assert section["comparable"] and section["layers_tested"] == LAYERS
    assert section["hungarian_matchings"] == 2 * LAYERS
    assert section["matched"]["p"] > 0.01 and section["constrained"]["p"] > 0.01
    assert set(section["layers"][0]) >= {"rho_matched", "p_matched", "permutation"}


def _mlp(seed: int, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**{**CFG, "intermediate_size": width}))
    return [
        (
            layer.mlp.gate_proj.weight.detach().double().numpy(),
            layer.mlp.up_proj.weight.detach().double().numpy(),
        )
        for layer in model.model.layers
    ]


def test_independent_models_give_roughly_uniform_p_values() -> None:
    combined: dict[str, list[float]] = {"constrained": [], "matched": []}
    per_layer: list[float] = []
    for pair in range(12):
        a, b = _mlp(100 + 2 * pair, 96), _mlp(101 + 2 * pair, 96)
        tests = [
            layer_test(i, ga, ua, gb, ub)
            for i, ((ga, ua), (gb, ub)) in enumerate(zip(a, b, strict=True))
        ]
        combined["constrained"].append(fisher([t.p_constrained for t in tests]).p)
        combined["matched"].append(fisher([t.p_matched for t in tests]).p)
        per_layer += [t.p_matched for t in tests] + [t.p_constrained for t in tests]
    for ps in combined.values():
        assert np.mean(np.array(ps) < 0.05) <= 2 / 12  # expected 0.6 of 12
    assert kstest(per_layer, "uniform").pvalue > 0.01


def test_gqa_suspect_is_still_compared_on_its_mlp(tmp_path: Path, models: dict[str, Path]) -> None:
    gqa = build_model(tmp_path / "gqa", seed=3, num_key_value_heads=2)
    test = permutation_test(open_model(models["original"]), open_model(gqa))
    assert test.comparable and test.matched is not None and test.matched.p > 0.01


def test_other_mlp_width_is_not_comparable(tmp_path: Path, models: dict[str, Path]) -> None:
    narrow = build_model(tmp_path / "narrow", seed=3, intermediate_size=48)
    report = compare_models(models["original"], narrow)
    test = report.permutation_test
    assert test is not None and not test.comparable and test.matched is None
    assert "not comparable" in test.reason
    assert "layer 0: shapes differ (gate_proj (64, 32) vs (48, 32)" in test.not_comparable[0]
    json.dumps(report.to_dict(), allow_nan=False)


def test_model_without_llama_mlp_is_not_comparable(tmp_path: Path, models: dict[str, Path]) -> None:
    renamed = derive(
        models["original"],
        tmp_path / "renamed",
        lambda sd: {k.replace("mlp.", "ffn."): v for k, v in sd.items()},
    )
    test = permutation_test(open_model(models["original"]), open_model(renamed))
    assert not test.comparable and "in suspect" in test.reason


def test_permutation_test_can_be_switched_off(models: dict[str, Path]) -> None:
    report = compare_models(
        models["original"], models["noisy"], params=Params(permutation_test=False)
    )
    assert report.permutation_test is None and report.to_dict()["permutation_test"] is None


def test_layers_are_sampled_across_depth(tmp_path: Path) -> None:
    a = build_model(tmp_path / "a", seed=5, num_hidden_layers=5)
    test = permutation_test(open_model(a), open_model(a), max_layers=3)
    assert [t.layer for t in test.layers] == [0, 2, 4] and test.layers_available == 5


def test_hungarian_match_recovers_a_sign_flipped_permutation() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((50, 20))
    pn = rng.permutation(50)
    signs = rng.choice([-1.0, 1.0], size=(50, 1))
    pi, cos, seconds = hungarian_match(w, signs * w[pn])
    assert np.array_equal(pn[pi], np.arange(50)) and cos == pytest.approx(1.0) and seconds >= 0


def test_the_combined_log10_p_stays_finite_far_in_the_tail() -> None:
    from scipy.stats import chi2

    from analysis.provenance.permutation import chi2_even_log10_sf, fisher

    for x, df in ((3.0, 2), (20.0, 4), (55.5, 10)):
        assert abs(chi2_even_log10_sf(x, df) - chi2.logsf(x, df) / math.log(10)) < 1e-9
    tail = fisher([1e-300, 1e-300])
    assert tail.log10_p is not None and math.isfinite(tail.log10_p) and tail.log10_p < -590
