"""Evidence ingest throughput against sha256sum on the same file, in the same run.

    .venv/bin/python bench/ingest.py [--size-mb 1024] [--repeat 3]

Makes a file of random bytes, then times, alternately, `sha256sum FILE` and Slipcase's ingest:
`Spool.feed` + `commit` (stream from an open file through SHA-256 into the evidence store, then
the Blob row) and `Spool.adopt` (the path of a large upload that Django already wrote to disk),
into a throw-away instance (its own var/ folder and SQLite database). Prints MB/s
for both and the ratio (target: ingest >= 80% of sha256sum). Each ingest stores new bytes (a
different first byte), so deduplication never short-cuts the work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="slipcase-bench-ingest-"))
    os.environ["SLIPCASE_VAR_DIR"] = str(work / "var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "integrity.settings.local"
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cases.evidence.storage import Spool

    size = args.size_mb * 1024 * 1024
    source = work / "input.bin"
    with open(source, "wb") as fh:
        block = os.urandom(8 * 1024 * 1024)
        written = 0
        while written < size:
            fh.write(block[: min(len(block), size - written)])
            written += len(block)
    print(f"file: {size / 1e6:.0f} MB at {source} (page cache warm after the first read)")
    subprocess.run(["sha256sum", str(source)], check=True, capture_output=True)  # warm the cache

    best_sum = best_ingest = best_adopt = float("inf")
    for i in range(args.repeat):
        with open(source, "r+b") as fh:  # new bytes each round: no deduplication short cut
            fh.write(bytes([i]))
        start = time.perf_counter()
        subprocess.run(["sha256sum", str(source)], check=True, capture_output=True)
        best_sum = min(best_sum, time.perf_counter() - start)
        start = time.perf_counter()
        with open(source, "rb") as fh:
            blob, created = Spool().feed(fh).commit()
        best_ingest = min(best_ingest, time.perf_counter() - start)
        assert created and blob.size == size
        # An upload that Django already spooled to a temporary file is adopted (hashed, moved).
        with open(source, "r+b") as fh:
            fh.write(bytes([100 + i]))
        spooled = work / "var" / "evidence" / "incoming" / f"upload-{i}.bin"
        shutil.copyfile(source, spooled)
        start = time.perf_counter()
        blob, created = Spool().adopt(spooled).commit()
        best_adopt = min(best_adopt, time.perf_counter() - start)
        assert created and blob.size == size
    mb = size / 1e6
    print(f"sha256sum: {mb / best_sum:8.1f} MB/s (best of {args.repeat})")
    print(f"ingest:    {mb / best_ingest:8.1f} MB/s (best of {args.repeat})")
    print(f"ratio:     {best_sum / best_ingest:8.2%} of sha256sum (target >= 80%)")
    print(
        f"adopt:     {mb / best_adopt:8.1f} MB/s, {best_sum / best_adopt:.2%} of sha256sum "
        "(an upload already on disk: hashed in place and moved)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
