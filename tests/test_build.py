"""``mwheel build`` on real crates: built with cargo, installed into a fresh venv, run.

The crates are in fixtures/crates (pyo3 0.30.1 from crates.io). One cargo target directory
is shared by every run ($MWHEEL_CARGO_TARGET or ~/.cache/mwheel-cargo-target), so a second
run compiles nothing. The maturin comparison uses its own target directory, because
maturin's environment differs and would make cargo rebuild pyo3 on every switch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from venvs import clean_env, fresh_venv, pip_install

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.build import BuildOptions, build_wheels
from mwheel.errors import BuildError
from mwheel.tags import PlatformTag

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed"),
]

# crate -> (python code run in the venv or a program, expected output)
CASES = {
    "pyo3-plain": ("import pyo3_plain; print(pyo3_plain.add(2, 40))", "42"),
    "pyo3-abi3": ("import pyo3_abi3; print(pyo3_abi3.greet('abi3'))", "hello abi3"),
    "pyo3-mixed": ("import pyo3_mixed; print(pyo3_mixed.double(21))", "42"),
    "pyo3-clib": ("import pyo3_clib; print(pyo3_clib.triple(14))", "42"),
    "bin-hello": ("bin-hello", "bin-hello says"),
}


def build(crate: str, out: Path, **kw: Any) -> list[Path]:
    opts = BuildOptions(
        manifest_path=CRATES / crate / "Cargo.toml",
        out_dir=out,
        release=True,
        quiet=True,
        target_dir=TARGET,
        **kw,
    )
    return build_wheels(opts)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("venv") / "v")


def _run(python: Path, code: str) -> str:
    if " " not in code and not code.startswith("import"):
        cmd = [str(python.parent / code), "from", "a", "wheel"]
    else:
        cmd = [str(python), "-c", code]
    # Run from an empty directory so nothing from the source tree shadows the install.
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=clean_env(), cwd=python.parent
    ).stdout


@pytest.mark.parametrize("crate", sorted(CASES))
def test_build_install_run(crate: str, tmp_path: Path, venv: Path) -> None:
    wheels = build(crate, tmp_path)
    assert len(wheels) == 1
    wheel = wheels[0]
    report = audit_wheel(wheel)
    assert report.compliant, report.findings
    assert all(t.startswith("manylinux") for t in report.claimed_tags)
    pip_install(venv, wheel)
    code, expected = CASES[crate]
    assert expected in _run(venv, code)


def test_layouts_and_metadata(tmp_path: Path) -> None:
    abi3 = build("pyo3-abi3", tmp_path)[0]
    assert "-cp39-abi3-" in abi3.name
    with zipfile.ZipFile(abi3) as zf:
        names = zf.namelist()
        meta = zf.read("pyo3_abi3-0.2.0.dist-info/METADATA").decode()
    # maturin's pure-Rust layout: a package holding the extension and a re-exporting init
    assert {"pyo3_abi3/pyo3_abi3.abi3.so", "pyo3_abi3/__init__.py"} <= set(names)
    assert "Requires-Python: >=3.9" in meta
    assert "Description-Content-Type: text/markdown" in meta
    assert "Project-URL: Homepage, https://example.invalid/pyo3-abi3" in meta
    assert meta.rstrip().endswith("built against the stable ABI.")
    mixed = build("pyo3-mixed", tmp_path)[0]
    with zipfile.ZipFile(mixed) as zf:
        names = zf.namelist()
        eps = zf.read("pyo3_mixed-0.3.0.dist-info/entry_points.txt").decode()
    assert "pyo3_mixed/__init__.py" in names
    assert any(n.startswith("pyo3_mixed/_native.cpython-") for n in names)
    assert "pyo3-mixed-double=pyo3_mixed:main" in eps  # maturin's spelling
    binw = build("bin-hello", tmp_path)[0]
    assert "-py3-none-" in binw.name
    with zipfile.ZipFile(binw) as zf:
        info = zf.getinfo("bin_hello-1.0.0.data/scripts/bin-hello")
        assert info.external_attr >> 16 & 0o111
        meta = zf.read("bin_hello-1.0.0.dist-info/METADATA").decode()
    assert "Summary: A command-line program shipped in a wheel" in meta  # from Cargo.toml


def test_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = build("pyo3-mixed", tmp_path / "a")[0]
    b = build("pyo3-mixed", tmp_path / "b")[0]
    assert a.read_bytes() == b.read_bytes()


def test_clib_graft_from_build_script_link_path(tmp_path: Path) -> None:
    wheel = build("pyo3-clib", tmp_path)[0]
    with zipfile.ZipFile(wheel) as zf:
        grafted = [n for n in zf.namelist() if "libcfix" in n]
    assert grafted and grafted[0].startswith("pyo3_clib.libs/")


def test_zig_manylinux2014(tmp_path: Path, venv: Path) -> None:
    pytest.importorskip("ziglang")
    wheel = build("pyo3-abi3", tmp_path, zig=True, compatibility=("manylinux_2_17",))[0]
    assert "manylinux_2_17_x86_64" in wheel.name
    report = audit_wheel(wheel, AuditOptions(host_libs=False))
    assert report.compliant, report.findings
    assert "manylinux_2_17_x86_64" in report.claimed_tags
    pip_install(venv, wheel)
    assert "hello abi3" in _run(venv, CASES["pyo3-abi3"][0])


def test_too_old_without_zig_names_symbols(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        build("pyo3-plain", tmp_path, compatibility=("manylinux2014",))
    msg = info.value.message
    assert "GLIBC_2." in msg and "--zig" in msg and "\n" not in msg


@pytest.mark.skipif(shutil.which("maturin") is None, reason="maturin is not installed")
@pytest.mark.parametrize("crate", ["pyo3-plain", "pyo3-abi3", "bin-hello"])
def test_same_or_better_tags_than_maturin(crate: str, tmp_path: Path) -> None:
    ours = build(crate, tmp_path / "ours")[0]
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET) + "-maturin"}
    subprocess.run(
        [
            "maturin",
            "build",
            "--release",
            "-q",
            "-i",
            sys.executable,
            "-m",
            str(CRATES / crate / "Cargo.toml"),
            "-o",
            str(tmp_path / "theirs"),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    theirs = next((tmp_path / "theirs").glob("*.whl"))
    mine = audit_wheel(ours)
    assert mine.compliant, mine.findings

    def best(name: str) -> tuple[int, int]:
        tags = [PlatformTag.parse(t) for t in name[:-4].split("-")[-1].split(".")]
        return min(t.version or (99, 99) for t in tags)

    assert best(ours.name) <= best(theirs.name), (ours.name, theirs.name)
    assert ours.name.split("-")[2:4] == theirs.name.split("-")[2:4]  # same python/abi tags
