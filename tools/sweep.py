"""Verdict sweep: mwheel beside the peer tools on real PyPI wheels and the peers' test data.

Why: issue 14 judges mwheel on held-out real wheels of every platform and on the test data
of auditwheel, delocate, delvewheel and abi3audit, side by side with those tools. This script
runs, per wheel, ``mwheel audit --format json``, the matching peer (``auditwheel show`` for
Linux, ``delocate-listdeps`` for macOS through an ``otool`` shim over llvm-otool, ``delvewheel
show`` for Windows, ``abi3audit`` for abi3 wheels), ``mwheel repair`` into a scratch directory
and ``mwheel audit`` of what the repair wrote, and prints one table row per wheel. A row is
flagged when mwheel crashed (traceback), when a repair wrote a wheel its own audit refuses or
a tag pip never installs, when a not-compliant verdict has no error finding, or when the
Linux best tag differs from auditwheel's (then a human decides who is right: see
``/work/notes/sweep-note.md``).

Usage::

    python tools/sweep.py                    # the pins of tests/data/wheels/sweep.lst
    python tools/sweep.py --list linux-real  # another pin list
    python tools/sweep.py WHEEL...           # given wheels (e.g. the peers' test data)

The reference tools come from ``$MWHEEL_REF_VENV`` (default ``~/.cache/mwheel-ref``); a peer
that is missing or fails is shown as such, never guessed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # fixturelib, as the tests and benchmarks import it

from fixturelib.pypi import download, read_pins  # noqa: E402

from mwheel.policies import policy_for  # noqa: E402
from mwheel.tags import PlatformTag  # noqa: E402

REF = Path(os.environ.get("MWHEEL_REF_VENV", Path.home() / ".cache" / "mwheel-ref")) / "bin"
OTOOL_SHIM = '#!/bin/sh\nfor a; do shift; [ "$a" = -m ] || set -- "$@" "$a"; done\nexec {} "$@"\n'
TAG_RE = re.compile(r'"((?:many|musl)?linux_[0-9a-z_]+)"')


# Disagreements judged once (see /work/notes/sweep-note.md): auditwheel's tag family and
# version, mwheel's, and why auditwheel is wrong there. Shown in the row, not flagged.
KNOWN_PEER_ERRORS = {
    ("musllinux_1_2", "musllinux_1_1"): "auditwheel takes the musl version from the host; "
    "the wheel imports nothing musl 1.2 added",
    ("manylinux_2_31", "manylinux_2_27"): "glibc 2.27 is the first with riscv64; auditwheel's "
    "riscv64 policies start at 2_31",
    ("musllinux_1_2", "linux_armv6l"): "auditwheel tags ARMv6 code armv7l; issue 14: code older "
    "than ARMv7 never gets an armv7l tag",
}


@dataclass(frozen=True)
class Row:
    """One wheel's results, as printed."""

    wheel: str
    verdict: str
    best: str
    peer: str
    repaired: str
    flags: tuple[str, ...]


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, never raising; output captured as text."""
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env, timeout=600)


def mwheel(*args: str) -> subprocess.CompletedProcess[str]:
    """The mwheel CLI of this checkout, in a child process (a crash shows as a traceback)."""
    return run([sys.executable, "-m", "mwheel", *args])


def platform_of(name: str) -> str:
    """linux, macos, windows or pure, from the file name's platform tags."""
    plat = name[:-4].split("-")[-1]
    if "linux" in plat:
        return "linux"
    if plat.startswith("macosx"):
        return "macos"
    if plat.startswith("win"):
        return "windows"
    return "pure" if plat == "any" else plat


def peer_verdict(wheel: Path, shim: Path) -> str:
    """The peer tool's short verdict for the wheel's platform ('?' when it cannot say)."""
    kind = platform_of(wheel.name)
    parts = []
    if kind in ("linux", "pure"):
        done = run([str(REF / "auditwheel"), "show", str(wheel)])
        text = " ".join((done.stdout + done.stderr).split())
        found = TAG_RE.search(text.split("following platform tag:")[-1])
        if "Traceback" in done.stderr:
            parts.append("auditwheel: traceback " + done.stderr.strip().splitlines()[-1][:60])
        elif found and "following platform tag" in text:
            parts.append(found.group(1))
        else:
            parts.append(f"auditwheel rc={done.returncode}: {text[-70:]}")
    elif kind == "macos":
        env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}")
        done = run([str(REF / "delocate-listdeps"), str(wheel)], env)
        libs = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        parts.append(f"delocate rc={done.returncode} deps={len(libs)}")
    elif kind == "windows":
        done = run([str(REF / "delvewheel"), "show", str(wheel)])
        copied = done.stdout.split("will be copied into the wheel.")[-1].split("The following")[0]
        names = [n.strip() for n in copied.splitlines() if n.strip() and n.strip() != "None"]
        parts.append(f"delvewheel rc={done.returncode} copies={len(names)}")
    if "abi3" in wheel.name:
        done = run([str(REF / "abi3audit"), "-S", str(wheel)])
        parts.append(f"abi3audit rc={done.returncode}")
    return "; ".join(parts)


def audit_json(wheel: Path) -> tuple[dict[str, object] | None, str]:
    """mwheel's JSON report of one wheel and a problem text ('' when none)."""
    done = mwheel("audit", "--format", "json", str(wheel))
    if "Traceback" in done.stderr:
        return None, "TRACEBACK " + done.stderr.strip().splitlines()[-1][:80]
    try:
        report = json.loads(done.stdout)["wheels"][0]
    except (ValueError, KeyError, IndexError):
        return None, f"rc={done.returncode} {done.stderr.strip()[:90]}"
    return report, ""


def _policy(tag: str) -> str:
    """manylinux_2_17 of manylinux_2_17_x86_64 (architectures contain underscores)."""
    found = re.match(r"(?:many|musl)linux_\d+_\d+", tag)
    return found[0] if found else tag


def uninstallable(name: str) -> list[str]:
    """Flags for manylinux/musllinux tags of a file name that no policy defines: the
    policies only offer tags an installer picks (``mwheel/policies`` checks it on load)."""
    flags = []
    for text in name[:-4].split("-")[-1].split("."):
        tag = PlatformTag.parse(text)
        if tag.family in ("manylinux", "musllinux") and policy_for(tag) is None:
            flags.append(f"repair wrote {text}, a tag no installer picks")
    return flags


def sweep_one(wheel: Path, shim: Path) -> Row:
    """Audit, peer, repair and re-audit one wheel."""
    flags: list[str] = []
    report, problem = audit_json(wheel)
    if report is None:
        return Row(wheel.name, "ERROR", "-", peer_verdict(wheel, shim), "-", (problem,))
    if report.get("error"):
        flags.append(f"error: {str(report['error'])[:80]}")
    findings = report.get("findings") or []
    assert isinstance(findings, list)
    errors = [f for f in findings if isinstance(f, dict) and f.get("severity") == "error"]
    verdict = "OK" if report.get("compliant") else "NOT"
    if verdict == "NOT" and not errors and not report.get("error"):
        flags.append("not compliant without an error finding")
    best = str(report.get("best_tag"))
    peer = peer_verdict(wheel, shim)
    shown = peer.split(";")[0]
    if platform_of(wheel.name) == "linux" and TAG_RE.fullmatch(f'"{shown}"') and shown != best:
        known = KNOWN_PEER_ERRORS.get((_policy(shown), _policy(best)))
        if known:
            peer += f" (peer wrong: {known})"
        else:
            flags.append("best tag differs from auditwheel")
    with tempfile.TemporaryDirectory() as tmp:
        done = mwheel("repair", "-w", tmp, str(wheel))
        written = sorted(Path(tmp).glob("*.whl"))
        if "Traceback" in done.stderr:
            flags.append("repair TRACEBACK " + done.stderr.strip().splitlines()[-1][:80])
        if not written:
            why = (done.stderr.strip().splitlines() or [""])[-1][:90]
            repaired = f"rc={done.returncode} nothing written {why}"
        else:
            out = written[0]
            repaired = f"rc={done.returncode} {out.name.split('-', 2)[-1]}"
            again, problem = audit_json(out)
            if again is None:
                flags.append(f"re-audit failed: {problem}")
            elif not again.get("compliant"):
                flags.append("repair wrote a wheel its audit refuses")
            if re.search(r"-linux_[a-z0-9_]+\.whl$", out.name):
                flags.append("repair wrote a linux_* wheel")
            flags.extend(uninstallable(out.name))
    return Row(wheel.name, verdict, best, peer, repaired, tuple(flags))


def main(argv: list[str] | None = None) -> int:
    """Sweep the wheels and print the table; exit 1 when any row is flagged."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheels", nargs="*", type=Path)
    parser.add_argument("--list", default="sweep", help="pin list under tests/data/wheels")
    args = parser.parse_args(argv)
    wheels: list[Path] = list(args.wheels)
    if not wheels:
        for pin in read_pins(args.list):
            got = download(pin)
            if got is None:
                print(f"cannot download {pin.requirement} ({pin.platform})", file=sys.stderr)
            else:
                wheels.append(got)
    otool = shutil.which("llvm-otool-14") or shutil.which("llvm-otool") or "otool"
    flagged = 0
    with tempfile.TemporaryDirectory() as shim_dir:
        shim = Path(shim_dir)
        (shim / "otool").write_text(OTOOL_SHIM.format(otool))
        (shim / "otool").chmod(0o755)
        for wheel in wheels:
            row = sweep_one(wheel, shim)
            flagged += bool(row.flags)
            mark = "!!" if row.flags else "  "
            print(f"{mark} {row.wheel}\n     mwheel {row.verdict} best={row.best} | {row.peer}")
            print(f"     repair {row.repaired}")
            for flag in row.flags:
                print(f"     FLAG {flag}")
            sys.stdout.flush()
    print(f"{len(wheels)} wheels, {flagged} flagged")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
