"""Same-coordinate weight comparison (test T1 of the research note) and the noise signature.

For each aligned pair (A = original, B = suspect, D = B - A), all in float64:

* ``rel_diff`` = ||D|| / ||A||  (independent models: about sqrt(2); copies + small noise: << 1),
* ``corr`` = centred correlation r(A, B)  (derived without permutation: ~1; independent: ~0),
* ``d_std``: std(D), less the rounding variance (ulp^2 / 12) of a bf16/fp16 suspect,
* ``d_kurtosis``: excess kurtosis of D (Gaussian: 0; sparse/low-rank edits: far from 0),
* ``corr_d_a`` = r(D, A)  (additive noise: 0; two unrelated equal-variance tensors: -1/sqrt(2)),
* ``spectral_ratio`` = s_max(D) / (std(D) (sqrt(m) + sqrt(n))) for large 2-D tensors
  (i.i.d. noise sits on the Marchenko-Pastur edge, 1; training updates are low-rank, > 1).

Verdict "original plus i.i.d. Gaussian noise of sigma ~ s" only if every check holds (thresholds
from the research note, section 5 T1, and its prototype table, section 8): median rel_diff < 1 and
median corr > 0.7 (noise no larger than the weights themselves: the scale is not what marks a noisy
copy, r(D, A) near 0 and one constant sigma are; independent models sit at rel_diff about sqrt(2),
corr about 0 and r(D, A) about -1/sqrt(2)), coefficient of variation of the per-tensor std(D) < 0.1
(one scalar sigma, as in Llama3-V: 0.008 measured; relative noise and independent models: 0.39-0.44;
fine-tunes 0.22-0.30), |size-weighted mean of per-tensor excess kurtosis| below max(0.1, 4
sqrt(24/N)) and pooled |r(D, A)| below max(0.02, 4/sqrt(N)) (N elements: four standard errors of the
null, so that tiny models are not failed on sampling noise alone), the Marchenko-Pastur check on >=
95 % of eligible tensors (2-D, both sides >= 256; Tracy-Widom fluctuations make it meaningless for
smaller ones), and >= 90 % of the original's parameters paired. Independent models fail at least the
correlation, rel_diff and r(D, A) checks by a wide margin. When everything but the CV holds and
std(D)/std(A) is near-constant instead (CV < 0.1), the verdict is noise relative to each tensor's
scale. Tensors whose bf16/fp16 rounding step swamps D (rounding variance above a quarter of var(D))
are left out of the signature and counted in ``rounded_away``. A failed verdict is NOT a finding of
independence: permutations, fine-tunes and pruning need the tests of section 5 T2.

The shared-base delta test (r_delta = r(S - W_b, O - W_b), rho_delta = ||S - O|| / ||O - W_b||)
is reported separately and gives no verdict: it must be calibrated against honest fine-tunes of
the same base (research note, section 8 item 6).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.provenance.artefacts import (
    Alignment,
    ConfigDiff,
    TokenizerComparison,
    align_tensors,
    compare_tokenizers,
    config_diff,
    tokenizer_info,
)
from analysis.provenance.permutation import PermutationTest, permutation_test
from analysis.provenance.reader import (
    DEFAULT_MAX_HEADER_BYTES,
    ModelFileError,
    ModelFolder,
    TensorInfo,
    open_model,
    read_tensor,
)
from analysis.provenance.version import __version__

F64 = npt.NDArray[np.float64]
_PRECISION_RANK = {"F64": 3, "F32": 2, "BF16": 1, "F16": 1}


@dataclass(frozen=True, kw_only=True)
class Params:
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    min_content_score: float = 0.5
    max_group_elements: int = 200_000_000
    max_rel_diff: float = 1.0
    min_corr: float = 0.7
    max_std_cv: float = 0.1
    kurtosis_tol: float = 0.1
    corr_d_a_tol: float = 0.02
    spectral_low: float = 0.95
    spectral_high: float = 1.05
    spectral_min_dim: int = 256
    spectral_min_fraction: float = 0.95
    min_coverage: float = 0.9
    max_rounding_share: float = 0.25
    permutation_test: bool = True
    permutation_max_layers: int = 8  # layers spread over the depth; 0: all
    permutation_max_width: int = 16384
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _f(x: float) -> float | None:
    return None if not math.isfinite(x) else x


@dataclass(frozen=True)
class PairStats:
    original: str
    suspect: str
    shape: tuple[int, ...]
    original_dtype: str
    suspect_dtype: str
    numel: int
    identical: bool  # same dtype and bytes
    equal_at: str | None  # dtypes differ but values agree once rounded to this (lower) precision
    rel_diff: float
    corr: float
    a_std: float
    d_mean: float
    d_std: float  # rounding-corrected
    d_std_raw: float
    rounding_std: float  # sqrt(mean ulp^2 / 12) of a bf16/fp16 suspect, else 0
    d_kurtosis: float
    corr_d_a: float
    spectral_ratio: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["shape"] = list(self.shape)
        return {k: _f(v) if isinstance(v, float) else v for k, v in out.items()}


def _round_to(x: F64, dtype: str) -> F64:
    if dtype == "F16":
        return x.astype(np.float16).astype(np.float64)
    f = x.astype(np.float32)
    if dtype == "BF16":
        u = f.view(np.uint32).astype(np.uint64)
        rounded = (
            (u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
        ) << np.uint64(16)
        f = rounded.astype(np.uint32).view(np.float32)
    return f.astype(np.float64)


def _rounding_variance(b: F64, dtype: str) -> float:
    """Mean ulp^2/12 of values stored in bf16/fp16: the variance rounding adds to D."""
    if dtype not in ("BF16", "F16") or b.size == 0:
        return 0.0
    _, e = np.frexp(b)
    ulp = np.ldexp(1.0, e - 8) if dtype == "BF16" else np.maximum(np.ldexp(1.0, e - 11), 2.0**-24)
    ulp = np.where(b == 0, 0.0, ulp)
    return float(np.mean(ulp * ulp) / 12.0)


def _centred_corr(x: F64, y: F64) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    den = float(np.sqrt((xc @ xc) * (yc @ yc)))
    return float(xc @ yc) / den if den > 0 else float("nan")


def spectral_ratio(d: F64, *, seed: int = 0) -> float:
    """s_max(D) / (std(D) (sqrt(m) + sqrt(n))): about 1 for an i.i.d. matrix."""
    from scipy.sparse.linalg import svds

    m, n = d.shape
    sd = float(d.std())
    if sd == 0:
        return float("nan")
    v0 = np.random.default_rng(seed).standard_normal(min(m, n))
    s = svds(d - d.mean(), k=1, v0=v0, return_singular_vectors=False)
    return float(s[0]) / (sd * (math.sqrt(m) + math.sqrt(n)))


def pair_stats(
    a: F64, b: F64, oi: TensorInfo, si: TensorInfo, *, params: Params = Params()
) -> PairStats:
    if a.shape != b.shape:
        raise ModelFileError(f"cannot compare {oi.name} {a.shape} with {si.name} {b.shape}")
    x, y = a.ravel(), b.ravel()
    d = y - x
    n = x.size
    norm_a = float(np.linalg.norm(x))
    norm_d = float(np.linalg.norm(d))
    rel = norm_d / norm_a if norm_a > 0 else (0.0 if norm_d == 0 else float("inf"))
    d_mean = float(d.mean()) if n else 0.0
    dc = d - d_mean
    m2 = float(dc @ dc) / n if n else 0.0
    m4 = float(np.mean(dc**4)) if n else 0.0
    kurt = m4 / (m2 * m2) - 3.0 if m2 > 0 else float("nan")
    var_round = _rounding_variance(y, si.dtype)
    var_corr = max(m2 - var_round, 0.0)
    equal_at = None
    if oi.dtype != si.dtype and oi.dtype in _PRECISION_RANK and si.dtype in _PRECISION_RANK:
        low = min((oi.dtype, si.dtype), key=lambda t: _PRECISION_RANK[t])
        if np.array_equal(_round_to(x, low), _round_to(y, low)):
            equal_at = low
    lam = float("nan")
    if a.ndim == 2 and min(a.shape) >= params.spectral_min_dim and m2 > 0:
        lam = spectral_ratio(d.reshape(a.shape), seed=params.seed)
    return PairStats(
        original=oi.name,
        suspect=si.name,
        shape=tuple(a.shape),
        original_dtype=oi.dtype,
        suspect_dtype=si.dtype,
        numel=n,
        identical=oi.dtype == si.dtype and oi.sha256 == si.sha256,
        equal_at=equal_at,
        rel_diff=rel,
        corr=_centred_corr(x, y),
        a_std=float(x.std()) if n else 0.0,
        d_mean=d_mean,
        d_std=math.sqrt(var_corr),
        d_std_raw=math.sqrt(m2),
        rounding_std=math.sqrt(var_round),
        d_kurtosis=kurt,
        corr_d_a=_centred_corr(d, x),
        spectral_ratio=lam,
    )


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    threshold: str
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _f(self.value),
            "threshold": self.threshold,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class NoiseSignature:
    tensors: int
    elements: int
    coverage: float  # share of the original's parameters paired and used in the signature
    rounded_away: int  # tensors left out: the suspect's rounding step swamps D
    median_rel_diff: float
    median_corr: float
    sigma: float  # pooled rounding-corrected std(D), the estimate of the added sigma
    sigma_median: float
    std_cv: float  # CV of per-tensor std(D) across tensors
    relative_cv: float  # CV of std(D)/std(A) across tensors
    relative_sigma: float  # median std(D)/std(A)
    kurtosis: float  # size-weighted mean of per-tensor excess kurtosis of D
    corr_d_a: float  # pooled r(D, A)
    spectral_eligible: int
    spectral_in_band: float  # fraction of eligible tensors with ratio in the band
    checks: tuple[Check, ...]

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "checks"}
        out = {k: _f(v) if isinstance(v, float) else v for k, v in out.items()}
        out["checks"] = [c.to_dict() for c in self.checks]
        return out


def _median(xs: list[float]) -> float:
    return float(np.median(xs)) if xs else float("nan")


def _cv(values: list[float]) -> float:
    arr = np.array(values, dtype=np.float64)
    if arr.size < 2 or arr.mean() <= 0:
        return float("nan")
    return float(arr.std() / arr.mean())


def noise_signature(
    stats: list[PairStats], *, total_params: int, params: Params = Params()
) -> NoiseSignature:
    # Where the suspect's rounding step is not small against D (variance ratio above
    # ``max_rounding_share``), rounding is not an additive independent error any more: the noise
    # is partly rounded away (e.g. bf16 near 1.0 has a step of 2^-8..2^-7 > 1/708).  Such
    # tensors are left out of the signature and counted.
    num = [
        s
        for s in stats
        if s.numel > 0 and s.rounding_std**2 <= params.max_rounding_share * s.d_std_raw**2
    ]
    n_el = sum(s.numel for s in num)
    w = np.array([s.numel for s in num], dtype=np.float64)
    var = np.array([s.d_std**2 for s in num])
    raw_var = np.array([s.d_std_raw**2 for s in num])
    a_var = np.array([s.a_std**2 for s in num])
    kurts = np.array([0.0 if math.isnan(s.d_kurtosis) else s.d_kurtosis for s in num])
    cda = np.array([0.0 if math.isnan(s.corr_d_a) else s.corr_d_a for s in num])
    pooled_raw = float(w @ raw_var) / n_el if n_el else 0.0
    # Each tensor's D standardised by its own std, then averaged by size: pooling raw D across
    # tensors of different scales would make a Gaussian scale mixture look heavy-tailed.
    kurt = float(w @ kurts) / n_el if pooled_raw > 0 else float("nan")
    cov = cda * np.sqrt(raw_var * a_var)
    den = math.sqrt(float(w @ raw_var) * float(w @ a_var))
    c_pool = float(w @ cov) / den if den > 0 else float("nan")
    sigma = math.sqrt(float(w @ var) / n_el) if n_el else float("nan")
    ratios = [s.d_std / s.a_std for s in num if s.a_std > 0]
    lam = [s.spectral_ratio for s in num if not math.isnan(s.spectral_ratio)]
    in_band = (
        sum(params.spectral_low <= v <= params.spectral_high for v in lam) / len(lam)
        if lam
        else float("nan")
    )
    median_rel = _median([s.rel_diff for s in num])
    median_corr = _median([s.corr for s in num if not math.isnan(s.corr)])
    std_cv = _cv([s.d_std for s in num])
    coverage = n_el / total_params if total_params else 0.0
    k_tol = max(params.kurtosis_tol, 4 * math.sqrt(24 / n_el)) if n_el else params.kurtosis_tol
    c_tol = max(params.corr_d_a_tol, 4 / math.sqrt(n_el)) if n_el else params.corr_d_a_tol
    checks = (
        Check("coverage", coverage, f">= {params.min_coverage}", coverage >= params.min_coverage),
        Check(
            "median_rel_diff",
            median_rel,
            f"< {params.max_rel_diff}",
            median_rel < params.max_rel_diff,
        ),
        Check("median_corr", median_corr, f"> {params.min_corr}", median_corr > params.min_corr),
        Check("sigma", sigma, "> 0", sigma > 0),
        Check("kurtosis", kurt, f"|x| < {k_tol:.3g}", abs(kurt) < k_tol),
        Check("corr_d_a", c_pool, f"|x| < {c_tol:.3g}", abs(c_pool) < c_tol),
        Check(
            "spectral_in_band",
            in_band,
            f">= {params.spectral_min_fraction} of tensors with both sides >= "
            f"{params.spectral_min_dim} (passes when none)",
            not lam or in_band >= params.spectral_min_fraction,
        ),
        Check("std_cv", std_cv, f"< {params.max_std_cv}", std_cv < params.max_std_cv),
    )
    return NoiseSignature(
        tensors=len(num),
        elements=n_el,
        coverage=coverage,
        rounded_away=sum(s.numel > 0 for s in stats) - len(num),
        median_rel_diff=median_rel,
        median_corr=median_corr,
        sigma=sigma,
        sigma_median=_median([s.d_std for s in num]),
        std_cv=std_cv,
        relative_cv=_cv(ratios),
        relative_sigma=_median(ratios),
        kurtosis=kurt,
        corr_d_a=c_pool,
        spectral_eligible=len(lam),
        spectral_in_band=in_band,
        checks=checks,
    )


@dataclass(frozen=True)
class Verdict:
    kind: str  # identical | identical_at_lower_precision | iid_gaussian_noise |
    #            relative_gaussian_noise | no_noise_verdict
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text}


def verdict(stats: list[PairStats], sig: NoiseSignature, alignment: Alignment) -> Verdict:
    complete = not alignment.unmatched_original and not alignment.unmatched_suspect and stats
    if complete and all(s.identical for s in stats):
        return Verdict("identical", "every tensor is byte-identical to one of the original's")
    if complete and all(s.identical or s.equal_at for s in stats):
        lows = sorted({s.equal_at for s in stats if s.equal_at})
        return Verdict(
            "identical_at_lower_precision",
            f"the original's values, cast to {', '.join(lows)}",
        )
    passed = {c.name: c.passed for c in sig.checks}
    if all(passed.values()):
        return Verdict(
            "iid_gaussian_noise",
            f"original plus i.i.d. Gaussian noise of sigma ~ {sig.sigma:.4g} "
            f"(one scalar sigma across tensors, CV {sig.std_cv:.3f})",
        )
    if all(v for k, v in passed.items() if k != "std_cv") and sig.relative_cv < 0.1:
        return Verdict(
            "relative_gaussian_noise",
            f"original plus i.i.d. Gaussian noise scaled to each tensor: std(D)/std(A) ~ "
            f"{sig.relative_sigma:.4g}",
        )
    failed = ", ".join(k for k, v in passed.items() if not v)
    return Verdict(
        "no_noise_verdict",
        f"not explained as the original plus i.i.d. noise (failed: {failed}); this is not a "
        "finding of independence",
    )


@dataclass(frozen=True)
class DeltaStats:
    original: str
    r_delta: float
    rho_delta: float
    unchanged_from_base: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "r_delta": _f(self.r_delta),
            "rho_delta": _f(self.rho_delta),
            "unchanged_from_base": self.unchanged_from_base,
        }


@dataclass(frozen=True)
class BaseDelta:
    """Shared-base delta test; no verdict (calibrate against honest fine-tunes of the base)."""

    base: dict[str, Any]
    tensors: tuple[DeltaStats, ...]
    median_r_delta: float
    pooled_r_delta: float
    median_rho_delta: float
    unmatched: tuple[str, ...]  # original tensors without a base counterpart

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "median_r_delta": _f(self.median_r_delta),
            "pooled_r_delta": _f(self.pooled_r_delta),
            "median_rho_delta": _f(self.median_rho_delta),
            "unmatched": list(self.unmatched),
            "tensors": [t.to_dict() for t in self.tensors],
            "note": "calibrate against honest fine-tunes of the same base; no verdict",
        }


@dataclass(frozen=True)
class ComparisonReport:
    original: ModelFolder
    suspect: ModelFolder
    config: ConfigDiff
    tokenizer: TokenizerComparison
    alignment: Alignment
    pairs: tuple[PairStats, ...]
    noise: NoiseSignature
    verdict: Verdict
    base_delta: BaseDelta | None
    params: Params
    version: str = __version__
    permutation_test: PermutationTest | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "params": self.params.to_dict(),
            "original": self.original.to_dict(),
            "suspect": self.suspect.to_dict(),
            "config": self.config.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
            "alignment": self.alignment.to_dict(),
            "verdict": self.verdict.to_dict(),
            "noise": self.noise.to_dict(),
            "pairs": [p.to_dict() for p in self.pairs],
            "tensor_hashes": {
                "original": {t.name: t.sha256 for t in self.original.tensors},
                "suspect": {t.name: t.sha256 for t in self.suspect.tensors},
            },
            "base_delta": None if self.base_delta is None else self.base_delta.to_dict(),
            "permutation_test": (
                None if self.permutation_test is None else self.permutation_test.to_dict()
            ),
        }


def _base_delta(
    original: ModelFolder,
    suspect: ModelFolder,
    base: ModelFolder,
    alignment: Alignment,
    *,
    params: Params,
) -> BaseDelta:
    to_base = {
        p.original: p.suspect
        for p in align_tensors(
            original,
            base,
            min_content_score=params.min_content_score,
            max_group_elements=params.max_group_elements,
        ).pairs
    }
    out: list[DeltaStats] = []
    num = den_o = den_s = 0.0
    unmatched: list[str] = []
    for p in alignment.pairs:
        if p.original not in to_base:
            unmatched.append(p.original)
            continue
        bi = base.tensor(to_base[p.original])
        o = read_tensor(original, original.tensor(p.original)).ravel()
        s = read_tensor(suspect, suspect.tensor(p.suspect)).ravel()
        b = read_tensor(base, bi).ravel()
        if b.size != o.size:
            unmatched.append(p.original)
            continue
        do, ds = o - b, s - b
        ndo = float(np.linalg.norm(do))
        dco, dcs = do - do.mean(), ds - ds.mean()
        num += float(dco @ dcs)
        den_o += float(dco @ dco)
        den_s += float(dcs @ dcs)
        out.append(
            DeltaStats(
                original=p.original,
                r_delta=_centred_corr(ds, do),
                rho_delta=float(np.linalg.norm(s - o)) / ndo if ndo > 0 else float("nan"),
                unchanged_from_base=ndo == 0,
            )
        )
    r = [t.r_delta for t in out if not math.isnan(t.r_delta)]
    rho = [t.rho_delta for t in out if not math.isnan(t.rho_delta)]
    return BaseDelta(
        base=base.to_dict(),
        tensors=tuple(out),
        median_r_delta=float(np.median(r)) if r else float("nan"),
        pooled_r_delta=num / math.sqrt(den_o * den_s) if den_o * den_s > 0 else float("nan"),
        median_rho_delta=float(np.median(rho)) if rho else float("nan"),
        unmatched=tuple(unmatched),
    )


def compare_models(
    original: str | Path,
    suspect: str | Path,
    *,
    base: str | Path | None = None,
    params: Params = Params(),
) -> ComparisonReport:
    """Run T0 (artefacts, alignment), T1 (same-coordinate statistics, noise signature, and the
    shared-base delta test when ``base`` is given) and, unless ``params.permutation_test`` is off,
    the weights-only permutation-robust independence test of T2 on two model folders."""
    mo = open_model(original, max_header_bytes=params.max_header_bytes)
    ms = open_model(suspect, max_header_bytes=params.max_header_bytes)
    mb = open_model(base, max_header_bytes=params.max_header_bytes) if base is not None else None
    alignment = align_tensors(
        mo,
        ms,
        min_content_score=params.min_content_score,
        max_group_elements=params.max_group_elements,
    )
    stats = []
    for p in alignment.pairs:
        oi, si = mo.tensor(p.original), ms.tensor(p.suspect)
        stats.append(pair_stats(read_tensor(mo, oi), read_tensor(ms, si), oi, si, params=params))
    sig = noise_signature(stats, total_params=sum(t.numel for t in mo.tensors), params=params)
    return ComparisonReport(
        original=mo,
        suspect=ms,
        config=config_diff(mo.config, ms.config),
        tokenizer=compare_tokenizers(tokenizer_info(original), tokenizer_info(suspect)),
        alignment=alignment,
        pairs=tuple(stats),
        noise=sig,
        verdict=verdict(stats, sig, alignment),
        base_delta=None if mb is None else _base_delta(mo, ms, mb, alignment, params=params),
        params=params,
        permutation_test=(
            permutation_test(
                mo,
                ms,
                max_layers=params.permutation_max_layers,
                max_width=params.permutation_max_width,
            )
            if params.permutation_test
            else None
        ),
    )
