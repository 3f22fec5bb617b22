"""``mwheel build`` beside ``maturin build`` on the same crate, warm cargo caches.

What is compared is the time each tool spends *beyond cargo*: a no-op ``cargo build`` of
the same crate and profile (everything already compiled) is timed separately and
subtracted, so the number is the driver's own work (metadata, interpreter probing,
assembling, auditing, repairing). Each tool has its own target directory, kept warm by
one untimed run first.

    python benchmarks/bench_build.py [crate] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
CACHE = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _median(cmd: list[str], env: dict[str, str], runs: int) -> float:
    _time(cmd, env)  # warm the cache
    return statistics.median(_time(cmd, env) for _ in range(runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("crate", nargs="?", default="pyo3-abi3")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    manifest = CRATES / args.crate / "Cargo.toml"
    out = Path(tempfile.mkdtemp(prefix="bench-build-"))
    results: dict[str, tuple[float, float]] = {}
    try:
        tools = {"mwheel": ([sys.executable, "-m", "mwheel", "build"], CACHE)}
        if shutil.which("maturin"):
            tools["maturin"] = (
                ["maturin", "build", "-i", sys.executable],
                Path(str(CACHE) + "-maturin"),
            )
        for name, (prefix, target) in tools.items():
            env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
            cmd = [*prefix, "--release", "-q", "-m", str(manifest), "-o", str(out / name)]
            total = _median(cmd, env, args.runs)
            # The same no-op cargo build the tool runs (pyo3 needs the interpreter named).
            cargo_env = {**env, "PYO3_PYTHON": sys.executable, "PYO3_BUILD_EXTENSION_MODULE": "1"}
            cargo = _median(
                ["cargo", "build", "--release", "-q", "--manifest-path", str(manifest)],
                cargo_env,
                args.runs,
            )
            results[name] = (total, cargo)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"crate {args.crate}, median of {args.runs} warm runs")
    print(f"{'tool':<10}{'total s':>10}{'cargo s':>10}{'beyond cargo s':>16}")
    for name, (total, cargo) in results.items():
        print(f"{name:<10}{total:>10.3f}{cargo:>10.3f}{total - cargo:>16.3f}")
    if len(results) == 2:
        ours = results["mwheel"][0] - results["mwheel"][1]
        theirs = results["maturin"][0] - results["maturin"][1]
        print(f"mwheel / maturin beyond cargo: {ours / theirs:.2f}x" if theirs > 0 else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
