"""Model-provenance zoo: detection, false positives, ROC AUC and speed of ``analysis.provenance``.

    .venv/bin/python bench/provenance_zoo.py [--roots 4] [--quick] [--keep DIR]

Builds, on the CPU with fixed seeds in a temporary folder, a small zoo of tiny LlamaForCausalLM
models (hidden 64, MLP 128, 2 layers, vocabulary 128): ``--roots`` independent roots (different
seeds, each trained a few dozen steps on synthetic language A, a sparse Markov chain), and for each
root the derived copies of ``KINDS`` (exact copy, renamed/reordered tensors, bf16 cast, absolute
noise, relative noise, MLP neuron permutation with and without noise, short fine-tunes on language
A and on language B).  Negatives: independent roots against each other, every derived copy of one
root against every other root (research note, section 9, negatives (ii); these share the roots'
independence, so they are not independent draws), and siblings: fine-tunes of one shared base with
different seeds against each other (shared ancestry, reported apart: weight tests are expected to
see the base).  ``compare_models`` runs on every pair and the tables give, per test (noise-signature
verdict; permutation test, matched and constrained statistics combined by Fisher), the detection
rate per derivation kind, ROC AUC against the independent negatives (score: -log10 p; the verdict
is a 0/1 score), the share of negatives with p < 0.05 / 0.01 / 0.001, and speed (GiB/s of
checkpoint bytes beside ``sha256sum`` of the same files, and mean seconds per Hungarian matching).
This is a small zoo, not the full benchmark of section 9 (one architecture, two languages, no
LoRA, pruning, quantisation, rotation, merges or distillation, no held-out thresholds).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.provenance import Params, compare_models  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

CFG: dict[str, Any] = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=64,
    tie_word_embeddings=False,
)
StateDict = dict[str, torch.Tensor]
SEQ, BATCH = 32, 16
ALPHA = 0.001  # detection threshold on a combined p-value


# --- synthetic languages and training ---------------------------------------------------------


def language(seed: int, branching: int = 4) -> torch.Tensor:
    """Transition matrix of a sparse Markov chain over the vocabulary."""
    g = torch.Generator().manual_seed(seed)
    v = CFG["vocab_size"]
    probs = torch.zeros(v, v)
    for t in range(v):
        nxt = torch.randperm(v, generator=g)[:branching]
        probs[t, nxt] = torch.rand(branching, generator=g) + 0.1
    return probs / probs.sum(1, keepdim=True)


def batch(trans: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    tok = torch.randint(0, trans.shape[0], (BATCH,), generator=g)
    out = [tok]
    for _ in range(SEQ - 1):
        tok = torch.multinomial(trans[tok], 1, generator=g).squeeze(1)
        out.append(tok)
    return torch.stack(out, 1)


def train(model: LlamaForCausalLM, trans: torch.Tensor, steps: int, lr: float, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        ids = batch(trans, g)
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())


# --- model folders ----------------------------------------------------------------------------


def write_tokenizer(folder: Path) -> None:
    vocab = {f"t{i}": i for i in range(126)}
    added = [{"id": 126 + i, "content": t, "special": True} for i, t in enumerate(("<s>", "</s>"))]
    (folder / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "BPE", "vocab": vocab}, "added_tokens": added})
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>"})
    )


def save(model: LlamaForCausalLM, folder: Path) -> Path:
    model.save_pretrained(folder, safe_serialization=True)
    write_tokenizer(folder)
    return folder


def build_root(folder: Path, seed: int, trans: torch.Tensor, steps: int) -> Path:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**CFG))
    if steps:
        train(model, trans, steps, lr=3e-3, seed=seed + 10_000)
    return save(model, folder)


def fine_tune(src: Path, dst: Path, trans: torch.Tensor, steps: int, seed: int) -> Path:
    model = LlamaForCausalLM.from_pretrained(src, dtype=torch.float32)
    train(model, trans, steps, lr=1e-3, seed=seed)
    return save(model, dst)


def derive(src: Path, dst: Path, change: Callable[[StateDict], StateDict]) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, dst / f.name)
    sd = change(load_file(src / "model.safetensors"))
    save_file(
        {k: v.contiguous() for k, v in sd.items()}, dst / "model.safetensors", {"format": "pt"}
    )
    return dst


def add_noise(sigma: float, seed: int, relative: bool = False) -> Callable[[StateDict], StateDict]:
    def change(sd: StateDict) -> StateDict:
        g = torch.Generator().manual_seed(seed)
        out = {}
        for k, v in sd.items():
            s = sigma * float(v.float().std()) if relative else sigma
            out[k] = (v.float() + s * torch.randn(v.shape, generator=g)).to(v.dtype)
        return out

    return change


def rename_reorder(sd: StateDict) -> StateDict:
    return {k.replace("model.", "net.", 1): v for k, v in reversed(list(sd.items()))}


def to_bf16(sd: StateDict) -> StateDict:
    return {k: v.to(torch.bfloat16) for k, v in sd.items()}


def permute_mlp(seed: int, sigma: float = 0.0) -> Callable[[StateDict], StateDict]:
    """Function-preserving permutation of every layer's MLP hidden units (gate/up rows, down
    columns), optionally followed by absolute noise."""

    def change(sd: StateDict) -> StateDict:
        g = torch.Generator().manual_seed(seed)
        out = dict(sd)
        for i in range(CFG["num_hidden_layers"]):
            p = f"model.layers.{i}.mlp."
            perm = torch.randperm(CFG["intermediate_size"], generator=g)
            out[p + "gate_proj.weight"] = sd[p + "gate_proj.weight"][perm]
            out[p + "up_proj.weight"] = sd[p + "up_proj.weight"][perm]
            out[p + "down_proj.weight"] = sd[p + "down_proj.weight"][:, perm]
        return add_noise(sigma, seed + 1)(out) if sigma else out

    return change


KINDS = [
    "copy",
    "rename+reorder",
    "bf16",
    "noise 1e-3",
    "noise 1/708",
    "noise 3e-3",
    "noise 1e-2",
    "relative noise 0.03",
    "MLP permutation",
    "MLP permutation + 1/708",
    "fine-tune, same data",
    "fine-tune, other data",
]


def build_derived(
    root: Path, out: Path, r: int, langs: dict[str, torch.Tensor], ft_steps: int
) -> dict[str, Path]:
    s = 100 * (r + 1)
    makers: dict[str, Callable[[Path], Path]] = {
        "copy": lambda d: Path(shutil.copytree(root, d)),
        "rename+reorder": lambda d: derive(root, d, rename_reorder),
        "bf16": lambda d: derive(root, d, to_bf16),
        "noise 1e-3": lambda d: derive(root, d, add_noise(1e-3, s + 1)),
        "noise 1/708": lambda d: derive(root, d, add_noise(1 / 708, s + 2)),
        "noise 3e-3": lambda d: derive(root, d, add_noise(3e-3, s + 3)),
        "noise 1e-2": lambda d: derive(root, d, add_noise(1e-2, s + 4)),
        "relative noise 0.03": lambda d: derive(root, d, add_noise(0.03, s + 5, relative=True)),
        "MLP permutation": lambda d: derive(root, d, permute_mlp(s + 6)),
        "MLP permutation + 1/708": lambda d: derive(root, d, permute_mlp(s + 7, 1 / 708)),
        "fine-tune, same data": lambda d: fine_tune(root, d, langs["A"], ft_steps, s + 8),
        "fine-tune, other data": lambda d: fine_tune(root, d, langs["B"], ft_steps, s + 9),
    }
    return {k: makers[k](out / f"r{r}-{i:02d}") for i, k in enumerate(KINDS)}


# --- comparison and metrics -------------------------------------------------------------------


def weight_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def run_pair(original: Path, suspect: Path, params: Params) -> dict[str, Any]:
    t0 = time.perf_counter()
    rep = compare_models(original, suspect, params=params).to_dict()
    seconds = time.perf_counter() - t0
    pt = rep["permutation_test"] or {}

    def logp(stat: str) -> float:
        c = pt.get(stat)
        if not c:
            return 0.0
        if c["log10_p"] is None:  # the report's log10 p is None when scipy's logsf underflows
            return chi2_log10_sf(c["statistic"], c["df"])
        return min(0.0, c["log10_p"])

    return {
        "verdict": rep["verdict"]["kind"],
        "log10_matched": logp("matched"),
        "log10_constrained": logp("constrained"),
        "hungarian_mean": pt.get("hungarian_seconds_mean"),
        "matchings": pt.get("hungarian_matchings", 0),
        "seconds": seconds,
        "bytes": weight_bytes(original) + weight_bytes(suspect),
        "files": [str(p) for f in (original, suspect) for p in sorted(f.glob("*.safetensors"))],
    }


def chi2_log10_sf(x: float, df: int) -> float:
    """log10 of the chi-squared survival function for even df (Fisher's statistic), closed form:
    sf = exp(-x/2) sum_{i<df/2} (x/2)^i / i!."""
    h = x / 2
    terms = [i * math.log(h) - math.lgamma(i + 1) for i in range(df // 2)]
    top = max(terms)
    return min(0.0, (-h + top + math.log(sum(math.exp(t - top) for t in terms))) / math.log(10))


def auc(pos: list[float], neg: list[float]) -> float:
    """ROC AUC by ranks (Mann-Whitney U), ties counted one half."""
    if not pos or not neg:
        return float("nan")
    scores = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(scores):
        j = i
        while j < len(scores) and scores[j][0] == scores[i][0]:
            j += 1
        mid = (i + 1 + j) / 2  # mean 1-based rank of the tie block
        rank_sum += mid * sum(lab for _, lab in scores[i:j])
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


TESTS: dict[str, Callable[[dict[str, Any]], float]] = {
    "noise-signature verdict": lambda r: 1.0 if r["verdict"] != "no_noise_verdict" else 0.0,
    "permutation test, matched (Fisher p)": lambda r: -r["log10_matched"],
    "permutation test, constrained (Fisher p)": lambda r: -r["log10_constrained"],
}


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def print_tables(pos: dict[str, list[dict]], neg: dict[str, list[dict]]) -> None:
    indep = neg["independent roots"] + neg["derived of another root"]
    for test, score in TESTS.items():
        binary = test.startswith("noise")
        thr = 0.5 if binary else -math.log10(ALPHA)
        print(f"\n### {test}" + ("" if binary else f" (detected: p < {ALPHA})"))
        print("\n| pairs | n | detected | AUC vs independent negatives | median -log10 p |")
        print("|---|---|---|---|---|")
        neg_scores = [score(r) for r in indep]
        all_pos: list[float] = []
        for kind in KINDS:
            s = [score(r) for r in pos[kind]]
            all_pos += s
            med = "" if binary else fmt(sorted(s)[len(s) // 2], 1)
            rate = sum(x > thr for x in s) / len(s)
            print(f"| {kind} | {len(s)} | {rate:.2f} | {fmt(auc(s, neg_scores))} | {med} |")
        rate = sum(x > thr for x in all_pos) / len(all_pos)
        a = fmt(auc(all_pos, neg_scores))
        print(f"| **all positives** | {len(all_pos)} | {rate:.2f} | {a} | |")
        print("\n| negatives | n | false positives | p < 0.05 | p < 0.01 | p < 0.001 |")
        print("|---|---|---|---|---|---|")
        for name, rows in [*neg.items(), ("all independent negatives", indep)]:
            s = [score(r) for r in rows]
            fp = sum(x > thr for x in s)
            if binary:
                shares = ["", "", ""]
            else:
                shares = [
                    f"{sum(x > -math.log10(a) for x in s) / len(s):.3f}"
                    for a in (0.05, 0.01, 0.001)
                ]
            print(f"| {name} | {len(s)} | {fp} ({fp / len(s):.3f}) | " + " | ".join(shares) + " |")


def sha256_rate(files: list[str]) -> tuple[float, float]:
    total = sum(Path(f).stat().st_size for f in files)
    t0 = time.perf_counter()
    for i in range(0, len(files), 500):
        subprocess.run(["sha256sum", *files[i : i + 500]], check=True, capture_output=True)
    return total, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--roots", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="fewer training steps, 2 siblings")
    ap.add_argument("--keep", type=Path, help="build the zoo here and keep it")
    args = ap.parse_args()
    assert args.roots >= 2
    torch.set_num_threads(2)
    root_steps, ft_steps, siblings = (20, 10, 2) if args.quick else (60, 30, 4)
    langs = {"A": language(1), "B": language(2)}
    work = args.keep or Path(tempfile.mkdtemp(prefix="provenance-zoo-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        roots = [
            build_root(work / f"root{r}", 1000 + r, langs["A"], root_steps)
            for r in range(args.roots)
        ]
        derived = [build_derived(roots[r], work, r, langs, ft_steps) for r in range(args.roots)]
        base = build_root(work / "base", 5000, langs["A"], root_steps)
        sibs = [
            fine_tune(base, work / f"sibling{i}", langs["A"], ft_steps, 6000 + i)
            for i in range(siblings)
        ]
        build_s = time.perf_counter() - t0
        print(
            f"zoo: {args.roots} roots x {len(KINDS)} derivations, {siblings} siblings; root "
            f"training {root_steps} steps, fine-tunes {ft_steps} steps; built in {build_s:.1f} s",
            flush=True,
        )

        params = Params()
        pos: dict[str, list[dict]] = {k: [] for k in KINDS}
        neg: dict[str, list[dict]] = {
            "independent roots": [],
            "derived of another root": [],
            "siblings (same base, other seeds)": [],
        }
        t0 = time.perf_counter()
        for r, root in enumerate(roots):
            for kind, d in derived[r].items():
                pos[kind].append(run_pair(root, d, params))
            for s in range(args.roots):
                if s > r:
                    neg["independent roots"].append(run_pair(root, roots[s], params))
                if s != r:
                    for d in derived[s].values():
                        neg["derived of another root"].append(run_pair(root, d, params))
        for i in range(siblings):
            for j in range(i + 1, siblings):
                neg["siblings (same base, other seeds)"].append(run_pair(sibs[i], sibs[j], params))
        compare_s = time.perf_counter() - t0
        rows = [r for v in (*pos.values(), *neg.values()) for r in v]
        print(f"{len(rows)} comparisons in {compare_s:.1f} s")
        print_tables(pos, neg)

        # Speed: the same files; compare_models with and without the permutation test; sha256sum.
        files = [f for r in rows for f in r["files"]]
        total = sum(r["bytes"] for r in rows)
        cmp_s = sum(r["seconds"] for r in rows)
        t1_params = Params(permutation_test=False)
        t0 = time.perf_counter()
        for r, root in enumerate(roots):
            for d in derived[r].values():
                compare_models(root, d, params=t1_params)
        t1_s = time.perf_counter() - t0
        t1_bytes = sum(r["bytes"] for v in pos.values() for r in v)
        sha_bytes, sha_s = sha256_rate(files)
        hung = [r["hungarian_mean"] for r in rows if r["hungarian_mean"] is not None]
        gib = 1024**3
        print("\n### speed\n\n| what | figure |\n|---|---|")
        print(f"| checkpoint size | {weight_bytes(roots[0]) / 1024:.0f} KiB (fp32) |")
        print(
            f"| compare_models, T0+T1+T2, {len(rows)} pairs | {total / gib / cmp_s:.4f} GiB/s "
            f"({cmp_s / len(rows) * 1000:.0f} ms per pair) |"
        )
        print(
            f"| compare_models, T0+T1 only, {len(KINDS) * args.roots} positive pairs | "
            f"{t1_bytes / gib / t1_s:.4f} GiB/s |"
        )
        print(f"| sha256sum, same files | {sha_bytes / gib / sha_s:.3f} GiB/s |")
        print(
            f"| Hungarian matching, n = {CFG['intermediate_size']} | "
            f"{sum(hung) / len(hung) * 1000:.2f} ms mean over {sum(r['matchings'] for r in rows)} |"
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
