"""Start-up: ``mwheel --version`` and ``mwheel audit`` of the smallest corpus wheel of each
platform, beside the peer a user would otherwise run on it, in one run.

    python benchmarks/bench_startup.py [REPEAT] [--baseline PYTHON]

Peers (from ``$MWHEEL_REF_VENV``): ``auditwheel show`` (Linux), ``delvewheel show``
(Windows), ``delocate-listdeps`` (macOS) and ``abi3audit`` (abi3 wheels). Each command runs
REPEAT times (default 9), alternating tools so that load on the machine hits both alike;
the table gives the median and the best. "python -c pass" of each interpreter is the floor
no command of it can beat: mwheel's interpreter is the one it is installed in (here with the
site-packages .pth files of this machine), the peers' is their venv's.

``--baseline PYTHON``: the interpreter of a venv holding another mwheel (an older commit,
installed the same way), whose ``mwheel`` commands join the same rotation, so a before/after
comparison sees the same machine load (a shared machine's load moves between two runs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import CORPUS, REF_VENV, table

PLATFORMS = {
    "linux": ("manylinux", "musllinux"),
    "windows": ("win_amd64", "win32"),
    "macos": ("macosx",),
}
PEERS = {
    "linux": ("auditwheel", "show"),
    "windows": ("delvewheel", "show"),
    "macos": ("delocate-listdeps",),
}


def smallest(platform: str) -> Path | None:
    wheels = [w for w in CORPUS.glob("*.whl") if any(p in w.name for p in PLATFORMS[platform])]
    return min(wheels, key=lambda w: w.stat().st_size, default=None)


def mwheel_script(python: Path) -> str:
    """The console script pip generated next to ``python`` (not a pyenv shim)."""
    script = python.with_name("mwheel")
    return str(script) if script.exists() else "mwheel"


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(commands: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            times[name].append(timed(argv))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repeat", nargs="?", type=int, default=9)
    parser.add_argument("--baseline", type=Path, help="python of a venv with another mwheel")
    args = parser.parse_args()
    repeat = args.repeat
    mwheel = mwheel_script(Path(sys.executable))
    baseline = mwheel_script(args.baseline) if args.baseline else None
    ref_python = REF_VENV / "bin" / "python"
    commands: dict[str, list[str]] = {
        "python -c pass (mwheel's interpreter)": [sys.executable, "-c", "pass"],
        "mwheel --version": [mwheel, "--version"],
    }
    before: list[tuple[str, str]] = []  # (baseline command, this mwheel's)
    if baseline:
        commands["baseline: mwheel --version"] = [baseline, "--version"]
        before.append(("baseline: mwheel --version", "mwheel --version"))
    if ref_python.exists():
        commands["python -c pass (peers' venv)"] = [str(ref_python), "-c", "pass"]
    pairs: list[tuple[str, str]] = []
    for platform, peer in PEERS.items():
        wheel = smallest(platform)
        if wheel is None:
            continue
        mine = f"mwheel audit {wheel.name}"
        commands[mine] = [mwheel, "audit", str(wheel)]
        if baseline:
            commands[f"baseline: {mine}"] = [baseline, "audit", str(wheel)]
            before.append((f"baseline: {mine}", mine))
        tools = [peer]
        if "abi3" in wheel.name:
            tools.append(("abi3audit",))
        for tool in tools:
            exe = REF_VENV / "bin" / tool[0]
            if exe.exists():
                name = f"{' '.join(tool)} {wheel.name}"
                commands[name] = [str(exe), *tool[1:], str(wheel)]
                pairs.append((mine, name))
    times = measure(commands, repeat)
    rows = [[name, f"{statistics.median(t):.3f}", f"{min(t):.3f}"] for name, t in times.items()]
    print(table(["command", "median s", "best s"], rows))
    print()
    ratio_rows = [
        [
            peer.split(" ", 1)[0] if " show" not in peer else peer.rsplit(" ", 1)[0],
            mine.rsplit(" ", 1)[1],
            f"{statistics.median(times[peer]) / statistics.median(times[mine]):.2f}x",
        ]
        for mine, peer in pairs
    ]
    print(table(["peer", "wheel", "peer/mwheel (median)"], ratio_rows))
    if before:
        rows = [
            [
                mine,
                f"{statistics.median(times[old]) / statistics.median(times[mine]):.2f}x",
                f"{min(times[old]) / min(times[mine]):.2f}x",
            ]
            for old, mine in before
        ]
        print()
        print(table(["command", "baseline/mwheel (median)", "(best)"], rows))


if __name__ == "__main__":
    main()
