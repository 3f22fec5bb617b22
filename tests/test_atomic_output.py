"""Atomic output: a killed repair leaves nothing under the final name; clashes are errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixturelib.linux import build_linux_fixture
from fixturelib.wheels import make_wheel, wheel_members

from mwheel.cli import main
from mwheel.wheel.writer import SCRATCH_PREFIX


def big_wheel(tmp_path: Path) -> Path:
    """The clean fixture plus 192 MB of incompressible data, so writing takes a while."""
    fx = build_linux_fixture("clean", tmp_path / "fx")
    members = {n: d for n, d in wheel_members(fx.wheel).items() if ".dist-info/" not in n}
    members["mwfix_clean/blob.bin"] = os.urandom(192 << 20)
    return make_wheel(tmp_path, "mwfix_clean", "1.0", "cp311-cp311-linux_x86_64", members)


@pytest.mark.slow
def test_sigkill_during_write_leaves_no_output(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mwheel", "repair", "-z", "9", "-w", str(out), str(wheel)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    scratch: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        scratch = [p for p in out.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
        if scratch and any(p.stat().st_size for d in scratch for p in d.iterdir()):
            break
        time.sleep(0.002)
    assert proc.poll() is None, "repair finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert scratch, "no scratch directory seen"
    assert not list(out.glob("*.whl")), "a wheel appeared under its final name"
    # Leftovers are hidden, and the next run cleans them up (their process is dead).
    assert all(p.name.startswith(".") for p in out.iterdir())
    small = build_linux_fixture("runpath", tmp_path / "small").wheel
    assert main(["repair", "-w", str(out), str(small)]) == 0
    assert not [p for p in out.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    assert len(list(out.glob("*.whl"))) == 1


def test_two_inputs_with_one_output_name_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fx = build_linux_fixture("clean", tmp_path / "a")
    other = tmp_path / "b"
    other.mkdir()
    twin = other / fx.wheel.name
    twin.write_bytes(fx.wheel.read_bytes())
    out = tmp_path / "out"
    assert main(["repair", "-w", str(out), str(fx.wheel), str(twin)]) == 9
    captured = capsys.readouterr()
    assert "both repair to" in captured.out + captured.err
    # The clash is refused before the second wheel is written, so exactly one exists.
    assert len(list(out.glob("*.whl"))) == 1
