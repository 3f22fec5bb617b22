"""Short, fixed-budget runs of the atheris harnesses, and replay of saved crashes."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, corpus_wheel

from mwheel.audit import audit_wheel
from mwheel.binary import read_binary
from mwheel.errors import MwheelError

HARNESS = Path(__file__).parent.parent / "fuzz" / "harness.py"
REGRESSIONS = Path(__file__).parent / "data" / "fuzz"


sys.path.insert(0, str(HARNESS.parent))
from seeds import seed_wheels, write_seeds  # noqa: E402  (fuzz/ is not a package)

# The budget run seeds with two fixtures and the small corpus wheels (under max_len).
MAX_LEN = 400_000


def seed_dir(tmp_path: Path, target: str) -> Path:
    seeds = tmp_path / "seeds"
    wheels = seed_wheels(tmp_path / "fx", MAX_LEN, fixtures=("chain", "musl"))
    write_seeds(seeds, wheels, (target,), MAX_LEN)
    return seeds / target


def test_inputs_are_named_after_their_own_tags(tmp_path: Path, corpus: Path) -> None:
    """A seed tagged anything but the fallback keeps its tags, so it passes the tag check."""
    spec = importlib.util.spec_from_file_location("fuzz_harness_names", HARNESS)
    assert spec is not None and spec.loader is not None
    pytest.importorskip("atheris")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for pattern in ("regex-*musllinux_1_2_x86_64.whl", "psutil-*win_amd64.whl", "psutil-*macosx*"):
        wheel = corpus_wheel(corpus, pattern)
        name = module.wheel_name(wheel.read_bytes())
        assert name.split("-")[2:] == wheel.name.split("-")[2:], (name, wheel.name)
        copy = tmp_path / name
        copy.write_bytes(wheel.read_bytes())
        assert audit_wheel(copy).error is None
    assert module.wheel_name(b"garbage") == module.FALLBACK_NAME


@pytest.mark.slow
@pytest.mark.parametrize("target", ["wheel", "repair", "elf", "macho", "pe"])
def test_fuzz_budget(target: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    seeds = seed_dir(tmp_path, target)
    proc = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            target,
            f"-runs={300 if target == 'repair' else 1500}",
            f"-max_len={MAX_LEN}",
            f"-artifact_prefix={tmp_path}/",
            str(seeds),
        ],
        env={**os.environ, "MWHEEL_CORPUS": os.environ.get("MWHEEL_CORPUS", str(CORPUS))},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    crashes = list(tmp_path.glob("crash-*")) + list(tmp_path.glob("timeout-*"))
    assert proc.returncode == 0 and not crashes, proc.stderr[-3000:]


def regression_inputs() -> list[Path]:
    return sorted(p for p in REGRESSIONS.rglob("*") if p.is_file()) if REGRESSIONS.exists() else []


@pytest.mark.parametrize("case", regression_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_saved_crash_stays_fixed(case: Path, tmp_path: Path) -> None:
    data = case.read_bytes()
    if case.parent.name in ("wheel", "repair"):
        wheel = tmp_path / "fuzz-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        wheel.write_bytes(data)
        audit_wheel(wheel)
    else:
        # The harness steers input into a reader by prefixing its magic: replay the same.
        magic = {"elf": b"\x7fELF", "macho": b"\xcf\xfa\xed\xfe", "pe": b"MZ"}[case.parent.name]
        if not data.startswith(magic):
            data = magic + data
        with contextlib.suppress(MwheelError):
            read_binary(case.name, data)
