"""mwheel audit against abi3audit on the corpus's abi3 wheels, one run.

    python benchmarks/bench_abi3.py [--repeat N] [--ref-venv DIR] [GLOB]

abi3audit runs from ``DIR/bin/abi3audit`` (``--ref-venv``, else $MWHEEL_REF_VENV, else
/opt/reftools), never from mwheel's environment; mwheel runs as ``python -m mwheel audit
--format json``. Note the two do not do the same work: mwheel's time is its whole audit (the
platform policy checks as well as abi3, in one report), abi3audit's is the abi3 check alone.
Prints, per wheel, the best wall time of each over ``--repeat`` runs, abi3audit/mwheel, and
both verdicts: mwheel's abi3 error codes and minimum tag, abi3audit's flagged symbols.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import CORPUS, REF_VENV, table


def timed(argv: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Best wall time over ``repeat`` runs, and the output of the last."""
    best = float("inf")
    proc = None
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - start)
    assert proc is not None
    return best, proc


def mwheel_verdict(proc: subprocess.CompletedProcess[str]) -> str:
    try:
        wheel: dict[str, Any] = json.loads(proc.stdout)["wheels"][0]
    except (ValueError, KeyError, IndexError):
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        return f"crashed (exit {proc.returncode}): {last[:60]}"
    if "error" in wheel:
        return f"error: {wheel['error']['message']}"
    codes = sorted(
        {
            f"{f['code']}:{f.get('symbol', '')}"
            for f in wheel["findings"]
            if f["code"].startswith("abi3") and f["severity"] == "error"
        }
    )
    minimum = [f.get("abi3_minimum") for f in wheel["findings"] if f["code"] == "abi3-minimum"]
    head = "abi3 ok" if not codes else ", ".join(codes)
    return f"{head} (min {minimum[0] if minimum else '-'})"


def abi3audit_verdict(proc: subprocess.CompletedProcess[str]) -> str:
    try:
        specs: dict[str, Any] = json.loads(proc.stdout)["specs"]
    except (ValueError, KeyError):
        return f"crashed (exit {proc.returncode})"
    flagged: set[str] = set()
    for spec in specs.values():
        for ext in spec.get("wheel", []):
            result = ext["result"]
            flagged.update(result["non_abi3_symbols"])
            flagged.update(
                f"{name} (>{result['baseline']})" for name in result["future_abi3_objects"]
            )
    return "abi3 ok" if not flagged else "flags " + ", ".join(sorted(flagged))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("glob", nargs="?", default="*-abi3-*.whl")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ref-venv", type=Path, default=REF_VENV)
    args = ap.parse_args()
    abi3audit = args.ref_venv / "bin" / "abi3audit"
    wheels = sorted(CORPUS.glob(args.glob))
    if not wheels:
        sys.exit(f"no wheel matches {args.glob} in {CORPUS}: run ../shared/corpus/fetch.sh")
    rows, verdicts = [], []
    for wheel in wheels:
        mine_s, mine = timed(
            [sys.executable, "-m", "mwheel", "audit", "--format", "json", str(wheel)], args.repeat
        )
        if abi3audit.exists():
            ref_s, ref = timed([str(abi3audit), "--report", str(wheel)], args.repeat)
            ref_cols = [f"{ref_s:.2f}", f"{ref_s / mine_s:.1f}x"]
            ref_verdict = abi3audit_verdict(ref)
        else:
            ref_cols, ref_verdict = ["-", "-"], f"not installed at {abi3audit}"
        rows.append([wheel.name[:60], f"{mine_s:.2f}", *ref_cols])
        verdicts.append([wheel.name[:60], mwheel_verdict(mine), ref_verdict])
    print(table(["wheel", "mwheel s", "abi3audit s", "abi3audit/mwheel"], rows))
    print()
    print(table(["wheel", "mwheel verdict", "abi3audit verdict"], verdicts))


if __name__ == "__main__":
    main()
