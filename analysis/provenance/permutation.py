"""Weights-only independence tests robust to hidden-unit permutation (research note, section 5 T2,
after Zhu, Ahmed, Kuditipudi and Liang, ICML 2025, arXiv 2502.12292).

For each transformer layer with Llama-style MLP weights (``layers.N.mlp.{gate,up}_proj.weight``,
rows = hidden units) the original's hidden units are matched to the suspect's by Hungarian matching
(``scipy.optimize.linear_sum_assignment``, maximised) on the absolute cosine similarity of rows,
once on the gate rows (pi_gate) and once on the up rows (pi_up).  Two statistics follow:

* **constrained** (Zhu's constrained test): rho = Spearman(pi_up, identity), one-sided.  If the
  original's initialisation is exchangeable across hidden units and its training is equivariant
  (true of standard Llama training) and the suspect was trained independently, pi_up is a uniformly
  random permutation, so the null distribution of rho is exactly that of Spearman's rho on a random
  permutation; the p-value uses scipy's t approximation (accurate for the widths of real MLPs).
  It does NOT survive a permutation of the suspect's hidden units (note, section 8: p = 0.95 for a
  permuted copy): such a suspect looks independent here.
* **matched** (permutation-robust): rho = Spearman(pi_gate, pi_up), one-sided.  A derived suspect,
  permuted or not, has its gate and up rows moved by the same permutation, so both matchings recover
  it and rho ~ 1.  Under independence the two matchings are unrelated; this is the weights-only
  analogue of Zhu's unconstrained statistic, whose null is not exact (Zhu et al.: "empirically it
  behaves as one") and must be checked on independent reference pairs (note, section 9).  Gate and
  up rows of one trained neuron are coupled, so calibrate on trained independent pairs before
  relying on small p-values.

Per-layer p-values are combined with Fisher's method (``scipy.stats.combine_pvalues``), valid
across disjoint layers; p-values are clipped at 1e-300 before combining and the combined log10 p is
reported from the chi-squared log survival function so that it does not underflow.  Neither
statistic sees residual-stream permutations or rotations (rows are compared coordinate by
coordinate) nor layers whose widths differ (pruning): those layers are reported "not comparable".
Each matching's wall time is recorded (``hungarian_seconds``) for the benchmark of section 9.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.provenance.reader import ModelFolder, TensorInfo, read_tensor

F64 = npt.NDArray[np.float64]
P_FLOOR = 1e-300
_MLP = re.compile(r"(?:^|\.)layers\.(\d+)\.mlp\.(gate_proj|up_proj)\.weight$")


def _f(x: float) -> float | None:
    return None if not math.isfinite(x) else x


@dataclass(frozen=True)
class LayerTest:
    layer: int
    width: int  # hidden units matched
    rho_constrained: float  # Spearman(pi_up, identity)
    p_constrained: float
    rho_matched: float  # Spearman(pi_gate, pi_up)
    p_matched: float
    agreement: float  # share of hidden units where pi_gate == pi_up
    mean_abs_cos_gate: float  # mean |cos| over matched gate rows
    mean_abs_cos_up: float
    permutation: tuple[int, ...]  # pi_up: suspect unit matched to each original unit
    hungarian_seconds: tuple[float, float]  # gate, up

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "width": self.width,
            "rho_constrained": _f(self.rho_constrained),
            "p_constrained": _f(self.p_constrained),
            "rho_matched": _f(self.rho_matched),
            "p_matched": _f(self.p_matched),
            "agreement": _f(self.agreement),
            "mean_abs_cos_gate": _f(self.mean_abs_cos_gate),
            "mean_abs_cos_up": _f(self.mean_abs_cos_up),
            "hungarian_seconds": list(self.hungarian_seconds),
            "permutation": list(self.permutation),
        }


@dataclass(frozen=True)
class Combined:
    statistic: float  # Fisher's X^2 = -2 sum ln p
    df: int
    p: float
    log10_p: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": _f(self.statistic),
            "df": self.df,
            "p": _f(self.p),
            "log10_p": _f(self.log10_p),
        }


@dataclass(frozen=True)
class PermutationTest:
    comparable: bool
    reason: str  # why not comparable (empty when comparable)
    layers: tuple[LayerTest, ...]
    not_comparable: tuple[str, ...]  # per-layer reasons for layers left out
    layers_available: int  # layers with MLP weights in both models
    constrained: Combined | None
    matched: Combined | None
    hungarian_seconds_mean: float
    hungarian_seconds_max: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "comparable": self.comparable,
            "reason": self.reason,
            "layers_available": self.layers_available,
            "layers_tested": len(self.layers),
            "not_comparable": list(self.not_comparable),
            "constrained": None if self.constrained is None else self.constrained.to_dict(),
            "matched": None if self.matched is None else self.matched.to_dict(),
            "hungarian_seconds_mean": _f(self.hungarian_seconds_mean),
            "hungarian_seconds_max": _f(self.hungarian_seconds_max),
            "hungarian_matchings": 2 * len(self.layers),
            "layers": [t.to_dict() for t in self.layers],
            "note": (
                "constrained: Zhu et al. exact null, not robust to permuting the suspect's hidden "
                "units; matched: permutation-robust, null calibrated empirically"
            ),
        }


def _unit_rows(w: F64) -> F64:
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    out: F64 = np.divide(w, norms, out=np.zeros_like(w), where=norms > 0)
    return out


def hungarian_match(original: F64, suspect: F64) -> tuple[npt.NDArray[np.intp], float, float]:
    """Match the original's rows to the suspect's on |cos|: (pi, mean matched |cos|, seconds of
    the assignment solve).  ``pi[i]`` is the suspect row matched to original row ``i``."""
    from scipy.optimize import linear_sum_assignment

    cos = np.abs(_unit_rows(original) @ _unit_rows(suspect).T)
    t0 = time.perf_counter()
    rows, cols = linear_sum_assignment(cos, maximize=True)
    seconds = time.perf_counter() - t0
    pi = np.empty(original.shape[0], dtype=np.intp)
    pi[rows] = cols
    return pi, float(cos[rows, cols].mean()), seconds


def _spearman_greater(x: npt.NDArray[np.intp], y: npt.NDArray[np.intp]) -> tuple[float, float]:
    from scipy.stats import spearmanr

    res = spearmanr(x, y, alternative="greater")
    rho, p = float(res.statistic), float(res.pvalue)
    if math.isnan(p):  # constant input: no evidence either way
        return rho, 1.0
    return rho, p


def layer_test(layer: int, gate_o: F64, up_o: F64, gate_s: F64, up_s: F64) -> LayerTest:
    """Both statistics for one layer; all four matrices are (hidden units, model width)."""
    pi_g, cos_g, sec_g = hungarian_match(gate_o, gate_s)
    pi_u, cos_u, sec_u = hungarian_match(up_o, up_s)
    rho_c, p_c = _spearman_greater(pi_u, np.arange(pi_u.size))
    rho_m, p_m = _spearman_greater(pi_g, pi_u)
    return LayerTest(
        layer=layer,
        width=int(pi_u.size),
        rho_constrained=rho_c,
        p_constrained=p_c,
        rho_matched=rho_m,
        p_matched=p_m,
        agreement=float(np.mean(pi_g == pi_u)),
        mean_abs_cos_gate=cos_g,
        mean_abs_cos_up=cos_u,
        permutation=tuple(int(j) for j in pi_u),
        hungarian_seconds=(sec_g, sec_u),
    )


def chi2_even_log10_sf(x: float, df: int) -> float:
    """log10 of the chi-squared survival function for an even ``df`` = 2k, in closed form:
    sf(x) = exp(-x/2) * sum_{j<k} (x/2)^j / j!, summed in logs so that it never underflows
    (scipy's ``chi2.logsf`` returns -inf far in the tail)."""
    if df % 2 or df <= 0:
        raise ValueError("df must be a positive even number")
    half = x / 2.0
    if half <= 0:
        return 0.0
    terms = [j * math.log(half) - math.lgamma(j + 1) for j in range(df // 2)]
    top = max(terms)
    log_sum = top + math.log(sum(math.exp(t - top) for t in terms))
    return min(0.0, (-half + log_sum) / math.log(10))


def fisher(pvalues: list[float]) -> Combined:
    from scipy.stats import combine_pvalues

    ps = np.clip(np.array(pvalues, dtype=np.float64), P_FLOOR, 1.0)
    stat, p = combine_pvalues(ps, method="fisher")
    df = 2 * len(pvalues)
    return Combined(
        statistic=float(stat),
        df=df,
        p=float(p),
        log10_p=chi2_even_log10_sf(float(stat), df),
    )


def _mlp_tensors(model: ModelFolder) -> dict[int, dict[str, TensorInfo]]:
    out: dict[int, dict[str, TensorInfo]] = {}
    for t in model.tensors:
        m = _MLP.search(t.name)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = t
    return {k: v for k, v in out.items() if len(v) == 2}


def _spread(layers: list[int], k: int) -> list[int]:
    if k <= 0 or len(layers) <= k:
        return layers
    idx = np.unique(np.round(np.linspace(0, len(layers) - 1, k)).astype(int))
    return [layers[i] for i in idx]


def _not_comparable(
    reason: str, *, available: int = 0, skipped: tuple[str, ...] = ()
) -> PermutationTest:
    return PermutationTest(
        comparable=False,
        reason=reason,
        layers=(),
        not_comparable=skipped,
        layers_available=available,
        constrained=None,
        matched=None,
        hungarian_seconds_mean=float("nan"),
        hungarian_seconds_max=float("nan"),
    )


def permutation_test(
    original: ModelFolder,
    suspect: ModelFolder,
    *,
    max_layers: int = 8,
    max_width: int = 16384,
) -> PermutationTest:
    """Run both statistics on up to ``max_layers`` layers spread over the depth (0: all) whose MLP
    shapes agree; layers wider than ``max_width`` hidden units are left out (an n x n float64
    cosine matrix is 8 n^2 bytes: 1.6 GB at n = 14336)."""
    mo, ms = _mlp_tensors(original), _mlp_tensors(suspect)
    if not mo or not ms:
        which = " and ".join(n for n, m in (("original", mo), ("suspect", ms)) if not m)
        return _not_comparable(
            "not comparable: no Llama-style MLP weights (layers.N.mlp.gate_proj/up_proj) in "
            + which
        )
    common = sorted(set(mo) & set(ms))
    if not common:
        return _not_comparable("not comparable: no layer index has MLP weights in both models")
    skipped: list[str] = []
    usable: list[int] = []
    for layer in common:
        shapes = {k: (mo[layer][k].shape, ms[layer][k].shape) for k in ("gate_proj", "up_proj")}
        bad = [f"{k} {a} vs {b}" for k, (a, b) in shapes.items() if a != b or len(a) != 2]
        width = mo[layer]["up_proj"].shape[0]
        if bad:
            skipped.append(f"layer {layer}: shapes differ ({'; '.join(bad)})")
        elif width < 3:
            skipped.append(f"layer {layer}: {width} hidden units, too few to rank")
        elif width > max_width:
            skipped.append(f"layer {layer}: {width} hidden units > max_width {max_width}")
        else:
            usable.append(layer)
    if not usable:
        return _not_comparable(
            "not comparable: no layer with matching MLP shapes",
            available=len(common),
            skipped=tuple(skipped),
        )
    tests = []
    for layer in _spread(usable, max_layers):
        a, b = mo[layer], ms[layer]
        tests.append(
            layer_test(
                layer,
                read_tensor(original, a["gate_proj"]),
                read_tensor(original, a["up_proj"]),
                read_tensor(suspect, b["gate_proj"]),
                read_tensor(suspect, b["up_proj"]),
            )
        )
    seconds = [s for t in tests for s in t.hungarian_seconds]
    return PermutationTest(
        comparable=True,
        reason="",
        layers=tuple(tests),
        not_comparable=tuple(skipped),
        layers_available=len(common),
        constrained=fisher([t.p_constrained for t in tests]),
        matched=fisher([t.p_matched for t in tests]),
        hungarian_seconds_mean=float(np.mean(seconds)),
        hungarian_seconds_max=float(np.max(seconds)),
    )
