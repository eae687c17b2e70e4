from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.provenance import (
    ModelFileError,
    PairStats,
    Params,
    __version__,
    compare_models,
    open_model,
    read_tensor,
    spectral_ratio,
)
from tests.analysis.provenance.conftest import (
    SIGMA,
    StateDict,
    add_noise,
    build_model,
    derive,
    write_tokenizer,
)


def test_exact_copy_is_identical(models: dict[str, Path]) -> None:
    report = compare_models(models["original"], models["original"])
    assert report.verdict.kind == "identical"
    assert report.config.identical and report.tokenizer.same_vocabulary
    out = report.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["version"] == __version__ == "0.1.0"
    assert out["params"]["seed"] == 0
    assert out["original"]["files"][0]["sha256"] == out["suspect"]["files"][0]["sha256"]


def test_noisy_copy_is_detected_and_sigma_estimated(models: dict[str, Path]) -> None:
    report = compare_models(models["original"], models["noisy"])
    assert report.verdict.kind == "iid_gaussian_noise", report.noise.to_dict()
    assert abs(report.noise.sigma - SIGMA) / SIGMA < 0.10
    assert report.noise.std_cv < 0.1
    assert abs(report.noise.kurtosis) < 0.1
    assert "sigma ~ 0.001" in report.verdict.text


def test_independent_model_never_gets_a_noise_verdict(models: dict[str, Path]) -> None:
    report = compare_models(models["original"], models["independent"])
    assert report.verdict.kind == "no_noise_verdict"
    assert "not a finding of independence" in report.verdict.text
    assert report.noise.median_rel_diff > 1.2
    assert report.noise.corr_d_a < -0.5
    failed = {c.name for c in report.noise.checks if not c.passed}
    assert {"median_rel_diff", "median_corr", "corr_d_a"} <= failed


def test_renamed_and_reordered_copy_is_aligned_by_content(
    models: dict[str, Path], tmp_path: Path
) -> None:
    def rename(sd: StateDict) -> StateDict:
        names = sorted(sd)
        return {f"w{len(names) - i:03d}": sd[k] for i, k in enumerate(names)}

    suspect = derive(models["noisy"], tmp_path / "renamed", rename)
    report = compare_models(models["original"], suspect)
    a = report.alignment
    assert not a.unmatched_original and not a.unmatched_suspect
    assert a.reordered and a.renamed == len(a.pairs)
    by_name = {p.original: p for p in report.pairs}
    # the original tensor's noisy version was found, not another tensor of the same shape
    assert all(p.corr > 0.99 or np.isnan(p.corr) for p in by_name.values())
    assert report.verdict.kind == "iid_gaussian_noise"


def test_renamed_exact_copy_matches_by_hash(models: dict[str, Path], tmp_path: Path) -> None:
    suspect = derive(
        models["original"], tmp_path / "r", lambda sd: {f"x.{k}": v for k, v in sd.items()}
    )
    report = compare_models(models["original"], suspect)
    assert {p.method for p in report.alignment.pairs} == {"hash"}
    assert report.verdict.kind == "identical"


@pytest.mark.parametrize(("dtype", "label"), [(torch.bfloat16, "BF16"), (torch.float16, "F16")])
def test_dtype_cast_copy_is_recognised(
    models: dict[str, Path], tmp_path: Path, dtype: torch.dtype, label: str
) -> None:
    suspect = derive(
        models["original"], tmp_path / "cast", lambda sd: {k: v.to(dtype) for k, v in sd.items()}
    )
    report = compare_models(models["original"], suspect)
    assert report.verdict.kind == "identical_at_lower_precision"
    assert label in report.verdict.text
    assert all(p.suspect_dtype == label for p in report.pairs)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_noisy_copy_stored_in_half_precision_is_detected(
    models: dict[str, Path], tmp_path: Path, dtype: torch.dtype
) -> None:
    suspect = derive(
        models["original"],
        tmp_path / "noisy-half",
        lambda sd: {k: v.to(dtype) for k, v in add_noise(sd).items()},
    )
    report = compare_models(models["original"], suspect)
    assert report.verdict.kind == "iid_gaussian_noise", report.noise.to_dict()
    assert abs(report.noise.sigma - SIGMA) / SIGMA < 0.10


def test_reader_decodes_bf16_like_torch(models: dict[str, Path], tmp_path: Path) -> None:
    suspect = derive(
        models["original"],
        tmp_path / "bf",
        lambda sd: {k: v.to(torch.bfloat16) for k, v in sd.items()},
    )
    from safetensors.torch import load_file

    ref = load_file(suspect / "model.safetensors")
    model = open_model(suspect)
    for info in model.tensors:
        np.testing.assert_array_equal(read_tensor(model, info), ref[info.name].float().numpy())


def test_low_rank_fine_tune_is_not_iid_noise(models: dict[str, Path], tmp_path: Path) -> None:
    def fine_tune(sd: StateDict) -> StateDict:
        g = torch.Generator().manual_seed(3)
        out = dict(sd)
        for k in [k for k in sorted(sd) if k.endswith(("q_proj.weight", "up_proj.weight"))]:
            m, n = sd[k].shape
            u, v = torch.randn(m, 2, generator=g), torch.randn(2, n, generator=g)
            out[k] = sd[k] + 0.01 * (u @ v)
        return out

    suspect = derive(models["original"], tmp_path / "ft", fine_tune)
    report = compare_models(models["original"], suspect)
    assert report.verdict.kind == "no_noise_verdict"
    failed = {c.name for c in report.noise.checks if not c.passed}
    assert {"std_cv", "kurtosis"} <= failed


def test_relative_noise_is_named_as_such(models: dict[str, Path], tmp_path: Path) -> None:
    def rel_noise(sd: StateDict) -> StateDict:
        g = torch.Generator().manual_seed(5)
        return {
            k: v + 0.01 * (v.std() if v.std() > 0 else 1.0) * torch.randn(v.shape, generator=g)
            for k, v in sd.items()
        }

    report = compare_models(
        models["original"], derive(models["original"], tmp_path / "r", rel_noise)
    )
    assert report.verdict.kind == "relative_gaussian_noise", report.noise.to_dict()
    assert abs(report.noise.relative_sigma - 0.01) < 0.001


def test_shared_base_delta(models: dict[str, Path], tmp_path: Path) -> None:
    def tune(seed: int) -> Callable[[StateDict], StateDict]:
        def change(sd: StateDict) -> StateDict:
            g = torch.Generator().manual_seed(seed)
            return {k: v + 0.005 * torch.randn(v.shape, generator=g) for k, v in sd.items()}

        return change

    base = models["original"]
    owner = derive(base, tmp_path / "owner", tune(11))
    honest = derive(base, tmp_path / "honest", tune(12))
    copier = derive(owner, tmp_path / "copier", add_noise)
    copied = compare_models(owner, copier, base=base)
    independent = compare_models(owner, honest, base=base)
    assert copied.base_delta is not None and independent.base_delta is not None
    assert copied.base_delta.median_r_delta > 0.9
    assert abs(independent.base_delta.median_r_delta) < 0.2
    assert copied.base_delta.median_rho_delta < 0.5 < independent.base_delta.median_rho_delta
    assert "no verdict" in copied.to_dict()["base_delta"]["note"]


def test_tokenizer_and_config_differences_are_listed(
    models: dict[str, Path], tmp_path: Path
) -> None:
    suspect = derive(models["original"], tmp_path / "tok", dict, config={"rms_norm_eps": 1e-5})
    write_tokenizer(suspect, extra_special=("<|slice|>",))
    report = compare_models(models["original"], suspect)
    assert report.tokenizer.special_only_suspect == ("<|slice|>",)
    assert not report.tokenizer.special_only_original
    assert not report.tokenizer.same_vocabulary
    assert [c[0] for c in report.config.changed] == ["rms_norm_eps"]


def test_mismatched_shapes_are_reported_unmatched(models: dict[str, Path], tmp_path: Path) -> None:
    def resize(sd: StateDict) -> StateDict:
        out = dict(sd)
        out["model.embed_tokens.weight"] = torch.cat([sd["model.embed_tokens.weight"]] * 2)
        return out

    report = compare_models(models["original"], derive(models["original"], tmp_path / "m", resize))
    assert report.alignment.unmatched_original == ("model.embed_tokens.weight",)
    assert report.alignment.unmatched_suspect == ("model.embed_tokens.weight",)
    assert report.verdict.kind == "no_noise_verdict"


def test_pair_stats_refuses_mismatched_shapes(models: dict[str, Path]) -> None:
    from analysis.provenance import pair_stats

    m = open_model(models["original"])
    a, b = m.tensor("model.embed_tokens.weight"), m.tensor("model.norm.weight")
    with pytest.raises(ModelFileError, match="cannot compare"):
        pair_stats(read_tensor(m, a), read_tensor(m, b), a, b)


def test_spectral_ratio_separates_iid_from_low_rank() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((400, 300))
    assert 0.95 < spectral_ratio(noise) < 1.05
    low_rank = noise + 0.5 * np.outer(rng.standard_normal(400), rng.standard_normal(300))
    assert spectral_ratio(low_rank) > 1.5


def test_sharded_checkpoint_is_read_through_its_index(
    models: dict[str, Path], tmp_path: Path
) -> None:
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(models["original"])
    model.save_pretrained(tmp_path / "sharded", safe_serialization=True, max_shard_size="20KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").exists()
    report = compare_models(models["original"], tmp_path / "sharded")
    assert len(report.suspect.files) > 1
    assert report.verdict.kind == "identical"


def test_cli_prints_json(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.provenance",
            "compare",
            str(models["original"]),
            str(models["noisy"]),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    printed = json.loads(proc.stdout)
    assert printed["verdict"]["kind"] == "iid_gaussian_noise"
    assert json.loads(out.read_text()) == printed
    assert "torch" not in proc.stderr


def test_package_imports_no_framework() -> None:
    code = (
        "import sys, analysis.provenance; "
        "bad = {'torch', 'django', 'celery', 'rest_framework', 'cases', 'integrity'} & "
        "{m.split('.')[0] for m in sys.modules}; print(sorted(bad))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    assert proc.stdout.strip() == "[]"


def test_pairstats_to_dict_has_no_nan(models: dict[str, Path]) -> None:
    report = compare_models(models["original"], models["noisy"], params=Params(seed=3))
    assert isinstance(report.pairs[0], PairStats)
    json.dumps(report.to_dict(), allow_nan=False)


def test_wide_noisy_copy_passes_the_marchenko_pastur_check(tmp_path: Path) -> None:
    original = build_model(
        tmp_path / "wide", seed=2, hidden_size=256, intermediate_size=512, num_hidden_layers=1
    )
    noisy = compare_models(original, derive(original, tmp_path / "wide-noisy", add_noise))
    assert noisy.noise.spectral_eligible >= 7
    assert noisy.noise.spectral_in_band == 1.0
    assert noisy.verdict.kind == "iid_gaussian_noise"

    def low_rank(sd: StateDict) -> StateDict:
        g = torch.Generator().manual_seed(9)
        out = add_noise(sd)
        for k, v in sd.items():
            if v.ndim == 2 and min(v.shape) >= 256:
                u, w = (
                    torch.randn(v.shape[0], 1, generator=g),
                    torch.randn(1, v.shape[1], generator=g),
                )
                out[k] = out[k] + 2 * SIGMA * (u @ w)
        return out

    tuned = compare_models(original, derive(original, tmp_path / "wide-tuned", low_rank))
    assert tuned.noise.spectral_in_band == 0.0
    assert tuned.verdict.kind == "no_noise_verdict"
