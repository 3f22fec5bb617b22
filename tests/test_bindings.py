"""cffi and uniffi bindings: built, installed into a fresh venv and called on the host.

The venv sees the system site-packages for ``cffi`` (the cffi wheel's runtime) and nothing
of the source tree; each wheel is installed with pip and its functions are called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from venvs import clean_env, pip_install

from mwheel.audit import audit_wheel
from mwheel.build import BuildOptions, build_wheels
from mwheel.build.bindings.cffi import cdef_text
from mwheel.build.cargo import CargoFlags, read_crate
from mwheel.cli import main

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))
HEADER = CRATES / "cffi-adder" / "include" / "cffi_adder.h"
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("cffi")
    where = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(where)],
        check=True,
    )
    return where / "bin" / "python"


def call(python: Path, code: str) -> str:
    proc = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=python.parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def build(crate: str, out: Path, target_dir: Path, **kw: object) -> Path:
    opts = BuildOptions(
        manifest_path=CRATES / crate / "Cargo.toml",
        out_dir=out,
        release=True,
        quiet=True,
        target_dir=target_dir,
        **kw,  # type: ignore[arg-type]
    )
    [wheel] = build_wheels(opts)
    return wheel


def test_cdef_keeps_declarations_only() -> None:
    text = cdef_text(HEADER.read_text())
    assert "#include" not in text and "#ifndef" not in text and "#endif" not in text
    assert "uint32_t cffi_adder_add(uint32_t a, uint32_t b);" in text
    assert "#define ANSWER 42" in cdef_text("#define GUARD\n#define ANSWER 42\n")


@needs_cargo
@pytest.mark.parametrize(
    "crate, bindings",
    [
        ("cffi-adder", "cffi"),
        ("uniffi-adder", "uniffi"),
        ("cross-pyo3", "pyo3"),
        ("bin-hello", "bin"),
    ],
)
def test_detection_as_maturin(crate: str, bindings: str) -> None:
    assert read_crate(CRATES / crate / "Cargo.toml", CargoFlags()).detect_bindings() == bindings


@needs_cargo
@pytest.mark.slow
def test_cffi_from_the_users_header(tmp_path: Path, venv: Path) -> None:
    """maturin's place for a hand-written header: <target dir>/header.h."""
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    shutil.copyfile(HEADER, target_dir / "header.h")
    wheel = build("cffi-adder", tmp_path / "out", target_dir)
    assert wheel.name.startswith("cffi_adder-0.1.0-py3-none-manylinux_")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {"cffi_adder/__init__.py", "cffi_adder/ffi.py", "cffi_adder/libcffi_adder.so"} <= names
    assert audit_wheel(wheel).compliant
    pip_install(venv, wheel)
    out = call(
        venv,
        "from cffi_adder import ffi, lib\n"
        "p = ffi.new('Point *', {'x': -3, 'y': 4})\n"
        "print(lib.cffi_adder_add(40, 2), lib.cffi_adder_manhattan(p[0]))",
    )
    assert out.split() == ["42", "7"]


@needs_cargo
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cbindgen") is None, reason="cbindgen is not installed")
def test_cffi_header_from_cbindgen(tmp_path: Path, venv: Path) -> None:
    wheel = build("cffi-adder", tmp_path / "out", tmp_path / "target")
    pip_install(venv, wheel)
    out = call(venv, "from cffi_adder import lib; print(lib.cffi_adder_add(20, 22))")
    assert out.strip() == "42"


@needs_cargo
@pytest.mark.slow
def test_uniffi_module_beside_the_library(tmp_path: Path, venv: Path) -> None:
    """uniffi-bindgen comes from the crate's own [[bin]] (uniffi's cli feature)."""
    wheel = build("uniffi-adder", tmp_path / "out", TARGET)
    assert wheel.name.startswith("uniffi_adder-0.1.0-py3-none-manylinux_")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        init = zf.read("uniffi_adder/__init__.py").decode()
    assert {"uniffi_adder/uniffi_adder.py", "uniffi_adder/libuniffi_adder.so"} <= names
    assert "from .uniffi_adder import *" in init
    assert not any("uniffi-bindgen" in n for n in names)  # the bindgen is a build tool
    pip_install(venv, wheel)
    out = call(venv, "import uniffi_adder as u; print(u.add(40, 2)); print(u.greet('py'))")
    assert out.splitlines() == ["42", "hello py from uniffi"]


@needs_cargo
def test_cffi_without_header_or_cbindgen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found before cargo runs: one line naming the header's place and cbindgen."""
    for tool in ("cargo", "rustc"):
        monkeypatch.setenv(tool.upper(), str(shutil.which(tool)))
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "cbindgen").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.setenv("CARGO_TARGET_DIR", str(tmp_path / "target"))
    argv = ["build", "-m", str(CRATES / "cffi-adder" / "Cargo.toml"), "-o", str(tmp_path)]
    assert main(argv) == 7
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("mwheel: error:")]
    assert len(lines) == 1 and "header.h" in lines[0] and "cbindgen" in lines[0], err
    assert not list(tmp_path.glob("*.whl"))
