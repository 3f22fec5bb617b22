"""``mwheel build`` beside ``maturin build`` on the same crate, in one run.

Scenarios (each tool has its own cargo target directory, warmed by one untimed run first;
the crate is copied into a scratch directory so the fixture tree is never touched):

* ``no-op``: nothing changed since the last build. The time *beyond cargo* is also given: a
  no-op ``cargo build`` of the same crate and profile is timed separately and subtracted,
  so that number is the driver's own work (metadata, interpreter probing, assembling,
  auditing, repairing).
* ``touched``: the crate's ``src/lib.rs`` (or ``main.rs``) is touched before each run, so
  cargo recompiles the crate itself but none of its dependencies (an edit-build loop).
* ``strip on`` / ``strip off``: the build right after turning ``--strip`` on, and right
  after turning it off again. A tool that strips through a profile setting rebuilds every
  dependency at each toggle; one that passes ``-C strip=symbols`` to the final crate only
  (maturin, mwheel) recompiles the crate alone.

* ``--target TRIPLE`` (a cross build, e.g. ``cross-pyo3 --target aarch64-unknown-linux-gnu``):
  both tools build for that target with ``--zig`` and ``-i python3.X`` (the running
  Python's version; no target interpreter runs) through the same rustc (set ``RUSTC``, e.g.
  Debian's /usr/bin/rustc with the target's std), in their own target directories under
  ~/.cache/mwheel-cross. maturin gets ``PYO3_CROSS_PYTHON_VERSION``. Rows: no-op and
  touched (a no-op ``cargo build`` with another environment would relink, so there is no
  "beyond cargo" column).

    python benchmarks/bench_build.py [crate] [--runs N] [--target TRIPLE]
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
from collections.abc import Callable
from pathlib import Path

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
CACHE = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))


def _time(cmd: list[str], env: dict[str, str], before: Callable[[], None] | None = None) -> float:
    if before is not None:
        before()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _median(
    cmd: list[str], env: dict[str, str], runs: int, before: Callable[[], None] | None = None
) -> float:
    _time(cmd, env)  # warm the cache
    return statistics.median(_time(cmd, env, before) for _ in range(runs))


def _toggled(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median seconds of the build just after --strip is turned on, and just after off."""
    _time(cmd, env)
    on: list[float] = []
    off: list[float] = []
    for _ in range(runs):
        on.append(_time([*cmd, "--strip"], env))
        off.append(_time(cmd, env))
    return statistics.median(on), statistics.median(off)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("crate", nargs="?", default="pyo3-abi3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--target", help="cross-build for this Rust target triple (with --zig)")
    args = ap.parse_args()
    if args.target:
        return cross(args.crate, args.target, args.runs)
    scratch = Path(tempfile.mkdtemp(prefix="bench-build-"))
    src = scratch / "src"
    shutil.copytree(CRATES / args.crate, src, ignore=shutil.ignore_patterns("target"))
    manifest = src / "Cargo.toml"
    touched = next(p for p in (src / "src" / "lib.rs", src / "src" / "main.rs") if p.is_file())
    rows: dict[str, dict[str, float]] = {}
    try:
        tools = {"mwheel": ([sys.executable, "-m", "mwheel", "build"], CACHE)}
        if shutil.which("maturin"):
            tools["maturin"] = (["maturin", "build"], Path(str(CACHE) + "-maturin"))
        for name, (prefix, target) in tools.items():
            env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
            out = scratch / name
            cmd = [*prefix, "--release", "-q", "-i", sys.executable, "-m", str(manifest)]
            cmd += ["-o", str(out)]
            row = rows.setdefault(name, {})
            row["no-op"] = _median(cmd, env, args.runs)
            # The same no-op cargo build the tool runs (pyo3 needs the interpreter named).
            cargo_env = {**env, "PYO3_PYTHON": sys.executable, "PYO3_BUILD_EXTENSION_MODULE": "1"}
            row["cargo no-op"] = _median(
                ["cargo", "build", "--release", "-q", "--manifest-path", str(manifest)],
                cargo_env,
                args.runs,
            )
            row["touched"] = _median(cmd, env, args.runs, before=touched.touch)
            row["strip on"], row["strip off"] = _toggled(cmd, env, args.runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"crate {args.crate}, median of {args.runs} runs, seconds")
    columns = ["no-op", "beyond cargo", "touched", "strip on", "strip off"]
    print(f"{'tool':<10}" + "".join(f"{c:>14}" for c in columns))
    for name, row in rows.items():
        row["beyond cargo"] = row["no-op"] - row["cargo no-op"]
        print(f"{name:<10}" + "".join(f"{row[c]:>14.3f}" for c in columns))
    if len(rows) == 2:
        for column in columns:
            theirs = rows["maturin"][column]
            if theirs > 0:
                print(f"mwheel / maturin {column}: {rows['mwheel'][column] / theirs:.2f}x")
    return 0


def cross(crate: str, target: str, runs: int) -> int:
    """No-op and touched cross builds of ``crate`` for ``target``, mwheel beside maturin."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-build-"))
    src = scratch / "src"
    shutil.copytree(CRATES / crate, src, ignore=shutil.ignore_patterns("target"))
    touched = next(p for p in (src / "src" / "lib.rs", src / "src" / "main.rs") if p.is_file())
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    cache = Path.home() / ".cache" / "mwheel-cross"
    tools: dict[str, tuple[list[str], dict[str, str]]] = {
        "mwheel": ([sys.executable, "-m", "mwheel", "build"], {})
    }
    if shutil.which("maturin"):
        tools["maturin"] = (["maturin", "build"], {"PYO3_CROSS_PYTHON_VERSION": version})
    rows: dict[str, dict[str, float]] = {}
    try:
        for name, (prefix, extra) in tools.items():
            env = {**os.environ, **extra, "CARGO_TARGET_DIR": str(cache / f"bench-{name}")}
            cmd = [*prefix, "--release", "-q", "--target", target, "--zig", "-i"]
            cmd += [f"python{version}", "-m", str(src / "Cargo.toml"), "-o", str(scratch / name)]
            rows[name] = {
                "no-op": _median(cmd, env, runs),
                "touched": _median(cmd, env, runs, before=touched.touch),
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rustc = os.environ.get("RUSTC", "rustc")
    print(f"crate {crate}, --target {target} --zig, rustc {rustc}, median of {runs} runs, s")
    print(f"{'tool':<10}{'no-op':>14}{'touched':>14}")
    for name, row in rows.items():
        print(f"{name:<10}{row['no-op']:>14.3f}{row['touched']:>14.3f}")
    if len(rows) == 2:
        for column in ("no-op", "touched"):
            ratio = rows["mwheel"][column] / rows["maturin"][column]
            print(f"mwheel / maturin {column}: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
