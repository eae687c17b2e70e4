"""Code-similarity benchmark: Slipcase's detector beside copydetect and Dolos on IR-Plag.

    .venv/bin/python bench/codesim.py [--repeat 2] [--sizes 100 200 400 800] [--no-peers]

Runs the shared harness (``../shared/bench/codesim/codesim_bench.py``) in one run over IR-Plag
(``../shared/datasets/irplag``, referenced by path, never copied) and prints its tables (ROC AUC,
average precision, AUC per disguise level, wall time, peak memory), then a scaling run over
N = 100, 200, 400, 800 files.  The peers are installed outside the project's requirements when
missing: copydetect 0.5.0 into a virtual environment under ``$CODESIM_HOME`` (default ``/tmp``),
and ``@dodona/dolos-lib@3.5.1`` with npm into ``$CODESIM_HOME/dolos``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
HARNESS = SHARED / "bench" / "codesim" / "codesim_bench.py"
IRPLAG = SHARED / "datasets" / "irplag"
HOME = Path(os.environ.get("CODESIM_HOME", tempfile.gettempdir()))
PEER_VENV = HOME / "codesim-copydetect-venv"
DOLOS_DIR = HOME / "dolos"
SLIPCASE = "slipcase={python} -m analysis.codesim pairs {dir} --lang {lang}"


def ensure_copydetect() -> str | None:
    py = PEER_VENV / "bin" / "python"
    if py.exists() and subprocess.run([py, "-c", "import copydetect"]).returncode == 0:
        return str(py)
    print(f"installing copydetect 0.5.0 into {PEER_VENV}", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "copydetect==0.5.0"], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"copydetect unavailable: {exc}", flush=True)
        return None
    return str(py)


def ensure_dolos() -> bool:
    lib = DOLOS_DIR / "node_modules" / "@dodona" / "dolos-lib" / "dist" / "index.js"
    if lib.exists():
        return True
    print(f"installing @dodona/dolos-lib@3.5.1 into {DOLOS_DIR}", flush=True)
    DOLOS_DIR.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["npm", "install", "--silent", "@dodona/dolos-lib@3.5.1"], cwd=DOLOS_DIR, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"Dolos unavailable: {exc}", flush=True)
        return False
    return lib.exists()


def harness(*args: str) -> None:
    cmd = [sys.executable, str(HARNESS), *args]
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "CODESIM_HOME": str(HOME)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400, 800])
    ap.add_argument("--no-peers", action="store_true", help="run Slipcase alone")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--scale-copydetect", action="store_true", help="also scale copydetect")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if not HARNESS.exists() or not IRPLAG.exists():
        raise SystemExit(f"need {HARNESS} and {IRPLAG}")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="slipcase-codesim-"))
    view = work / "irplag-view"
    if not (view / "meta.json").exists():
        harness("prepare", "irplag", "--src", str(IRPLAG), "--out", str(view))
    detectors = ["--detector", SLIPCASE]
    scale_detectors = ["--detector", SLIPCASE]
    if not args.no_peers:
        cd_python = ensure_copydetect()
        if cd_python:
            cd = f"copydetect={cd_python} {{adapters}}/copydetect_pairs.py {{dir}} --ext {{ext}}"
            detectors += ["--detector", cd]
            if args.scale_copydetect:
                scale_detectors += ["--detector", cd]
        if ensure_dolos():
            detectors += ["--detector", "dolos"]
            scale_detectors += ["--detector", "dolos"]
    harness(
        "run",
        "--data",
        str(view),
        *detectors,
        "--repeat",
        str(args.repeat),
        "--out",
        str(work / "run.json"),
        "--workdir",
        str(work / "raw"),
    )
    if not args.no_scale:
        harness(
            "scale",
            "--data",
            str(view),
            *scale_detectors,
            "--sizes",
            *map(str, args.sizes),
            "--out",
            str(work / "scale.json"),
            "--workdir",
            str(work / "scale"),
        )
        harness("report", str(work / "scale.json"))
    print(f"results in {work}")


if __name__ == "__main__":
    main()
