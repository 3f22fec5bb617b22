"""The PEP 517 backend, ``mwheel sdist`` and ``generate-ci``.

The end-to-end test builds mwheel's own wheel and lets pip (build isolation on) install a
crate whose pyproject.toml says ``build-backend = "mwheel"``; it needs PyPI for mwheel's
dependencies and skips when the index cannot be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import mwheel
from mwheel.build import BuildOptions
from mwheel.build.ci import github_workflow
from mwheel.build.sdist import build_sdist

ROOT = Path(__file__).parent.parent
CRATES = ROOT / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET",
                             Path.home() / ".cache" / "mwheel-cargo-target"))
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_hooks_are_exported() -> None:
    for name in ("build_wheel", "build_sdist", "build_editable",
                 "prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable",
                 "get_requires_for_build_wheel", "get_requires_for_build_sdist",
                 "get_requires_for_build_editable"):
        assert callable(getattr(mwheel, name))
    assert not hasattr(mwheel, "build_nothing")


def test_generate_ci() -> None:
    text = github_workflow(["linux", "macos"], pytest=True, zig=True)
    assert "--zig --compatibility manylinux2014" in text and "macos-14" in text
    assert "windows-latest" not in text and "python -m pytest" in text


@needs_cargo
@pytest.mark.slow
def test_sdist_contents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))  # cargo package writes target/
    a = build_sdist(BuildOptions(manifest_path=CRATES / "pyo3-mixed" / "Cargo.toml",
                                 out_dir=tmp_path / "a"))
    b = build_sdist(BuildOptions(manifest_path=CRATES / "pyo3-mixed" / "Cargo.toml",
                                 out_dir=tmp_path / "b"))
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        names = tar.getnames()
    for member in ("Cargo.toml", "src/lib.rs", "pyproject.toml", "PKG-INFO",
                   "python/pyo3_mixed/__init__.py"):
        assert f"pyo3_mixed-0.3.0/{member}" in names


@needs_cargo
@pytest.mark.slow
def test_sdist_vendors_path_dependencies(tmp_path: Path) -> None:
    (tmp_path / "helper" / "src").mkdir(parents=True)
    (tmp_path / "helper" / "Cargo.toml").write_text(
        '[package]\nname = "helper"\nversion = "0.1.0"\nedition = "2021"\n')
    (tmp_path / "helper" / "src" / "lib.rs").write_text("pub fn one() -> i32 { 1 }\n")
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nhelper = { path = "../helper" }\n')
    (app / "src" / "main.rs").write_text("fn main() { println!(\"{}\", helper::one()); }\n")
    sdist = build_sdist(BuildOptions(manifest_path=app / "Cargo.toml", out_dir=tmp_path / "o"))
    unpacked = tmp_path / "u"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    top = unpacked / "app-0.1.0"
    assert (top / "local_dependencies" / "helper" / "src" / "lib.rs").is_file()
    assert 'path = "local_dependencies/helper"' in (top / "Cargo.toml").read_text()
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET)}
    subprocess.run(["cargo", "metadata", "--format-version", "1", "--offline"], cwd=top,
                   check=True, capture_output=True, env=env)


@needs_cargo
@pytest.mark.slow
def test_pip_install_with_mwheel_backend(tmp_path: Path) -> None:
    """pip wheel mwheel itself, then ``pip install ./crate`` in a fresh venv, isolated."""
    dist = tmp_path / "dist"
    # Its own target dir: pyo3 is built for the venv's interpreter here (PYO3_PYTHON
    # differs), which would otherwise make the next test_build run rebuild pyo3.
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET) + "-backend",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    src = tmp_path / "mwheel-src"
    shutil.copytree(ROOT / "mwheel", src / "mwheel",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            str(src), "-w", str(dist)], capture_output=True, text=True,
                           env=env)
    if built.returncode != 0:
        pytest.skip(f"cannot build mwheel's own wheel (offline?): {built.stderr[-300:]}")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "v")], check=True)
    python = tmp_path / "v" / "bin" / "python"
    crate = tmp_path / "crate"
    shutil.copytree(CRATES / "pyo3-mixed", crate,
                    ignore=shutil.ignore_patterns("target", "*.so", "__pycache__"))
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--find-links",
                           str(dist), str(crate)], capture_output=True, text=True, env=env)
    if proc.returncode != 0 and "No matching distribution" in proc.stderr:
        pytest.skip("PyPI unreachable for mwheel's dependencies")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = subprocess.run([str(python), "-c", "import pyo3_mixed; print(pyo3_mixed.double(5))"],
                         capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "10"
    # The sdist gives the same wheel as the tree (same members and metadata).
    sdist = build_sdist(BuildOptions(manifest_path=crate / "Cargo.toml", out_dir=tmp_path / "s"))
    for source, dest in ((str(sdist), "from-sdist"), (str(crate), "from-tree")):
        subprocess.run([str(python), "-m", "pip", "wheel", "-q", "--no-deps", "--find-links",
                        str(dist), source, "-w", str(tmp_path / dest)], check=True, env=env,
                       capture_output=True)
    a = next((tmp_path / "from-sdist").glob("*.whl"))
    b = next((tmp_path / "from-tree").glob("*.whl"))
    assert a.name == b.name
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        assert za.namelist() == zb.namelist()
        meta = "pyo3_mixed-0.3.0.dist-info/METADATA"
        assert za.read(meta) == zb.read(meta)
