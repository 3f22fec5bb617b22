"""``build-backend = "mwheel"`` end to end: pip and ``python -m build`` drive the real hooks.

mwheel's own wheel is built once (cached by a digest of its sources, so xdist workers and
warm reruns share it) and offered to the frontends with ``--find-links``; its dependencies
come from PyPI, so the tests skip when the index cannot be reached. Every pip run keeps
build isolation on.

Cargo cache: the hooks run under pip's isolated environment, whose interpreter is the test
venv's. ``MWHEEL_BUILD_ARGS="-i <this interpreter>"`` (the documented pass-through of extra
build arguments) makes PYO3_PYTHON the same as in test_build, and ``CARGO_TARGET_DIR`` is the
same shared target directory, so a tree build compiles nothing when test_build has run;
builds from an unpacked sdist compile only the crate itself (its path differs).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from venvs import clean_env, fresh_venv

from mwheel.build import BuildOptions, backend
from mwheel.build.sdist import build_sdist
from mwheel.cli import main

ROOT = Path(__file__).parent.parent
CRATES = ROOT / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))
SELF_WHEELS = Path(
    os.environ.get("MWHEEL_SELF_WHEEL_CACHE", Path.home() / ".cache" / "mwheel-self-wheel")
)
EPOCH = "1700000000"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed"),
]

# crate -> (code run in the venv, or a program on its PATH; expected output)
RUNS = {
    "pyo3-mixed": ("import pyo3_mixed; print(pyo3_mixed.double(21))", "42"),
    "bin-hello": ("bin-hello", "bin-hello says from a wheel"),
}


def _source_digest() -> str:
    digest = hashlib.sha256()
    files = [
        p
        for p in sorted((ROOT / "mwheel").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    for path in [*files, ROOT / "pyproject.toml"]:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build_self_wheel(dest: Path, scratch: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    src = scratch / "mwheel-src"
    shutil.copytree(ROOT / "mwheel", src / "mwheel", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, src / name)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            str(src),
            "-w",
            str(scratch / "out"),
        ],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build mwheel's own wheel (offline?): {built.stderr[-300:]}")
    os.replace(scratch / "out", dest)


@pytest.fixture(scope="session")
def mwheel_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding mwheel's own wheel, built from the current sources."""
    dest = SELF_WHEELS / _source_digest()
    with _locked(SELF_WHEELS / ".lock"):
        if not any(dest.glob("mwheel-*.whl")):
            _build_self_wheel(dest, tmp_path_factory.mktemp("self-wheel"))
            # Older sources' wheels: kept a day, in case another run still uses one.
            for old in SELF_WHEELS.iterdir():
                if old.is_dir() and old != dest and old.stat().st_mtime < time.time() - 86400:
                    shutil.rmtree(old, ignore_errors=True)
    return dest


@pytest.fixture
def env(mwheel_dist: Path) -> dict[str, str]:
    """The environment of every frontend run: mwheel on --find-links, the shared cargo cache."""
    return {
        **clean_env(),
        "CARGO_TARGET_DIR": str(TARGET),
        "PIP_FIND_LINKS": str(mwheel_dist),
        "MWHEEL_BUILD_ARGS": f"-i {shlex.quote(sys.executable)}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "SOURCE_DATE_EPOCH": EPOCH,
    }


def _copy_crate(name: str, dest: Path) -> Path:
    shutil.copytree(
        CRATES / name, dest, ignore=shutil.ignore_patterns("target", "*.so", "__pycache__")
    )
    return dest


def _pip(python: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """pip (this interpreter's, aimed at ``python`` with --python), skipping when offline."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if (
        proc.returncode != 0
        and "No matching distribution found for" in proc.stderr
        and "mwheel" not in proc.stderr.split("No matching distribution found for")[1]
    ):
        pytest.skip("PyPI unreachable for mwheel's dependencies")
    return proc


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def _run(python: Path, code: str) -> str:
    """Run ``code`` in the venv from its bin directory, where no source tree shadows it."""
    cmd = (
        [str(python.parent / code), "from", "a", "wheel"]
        if code.startswith("bin-")
        else [str(python), "-c", code]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), cwd=python.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


@pytest.mark.parametrize("crate", sorted(RUNS))
def test_pip_install_from_tree(crate: str, tmp_path: Path, env: dict[str, str]) -> None:
    # Straight from the fixture: the backend writes nothing into the tree it builds.
    python = fresh_venv(tmp_path / "venv")
    _ok(_pip(python, env, "install", "-q", str(CRATES / crate)))
    code, expected = RUNS[crate]
    assert _run(python, code) == expected
    if crate == "pyo3-mixed":
        # `triple` is behind a cargo feature that only [tool.mwheel] features turns on.
        assert _run(python, "from pyo3_mixed._native import triple; print(triple(14))") == "42"
        assert (python.parent / "pyo3-mixed-double").is_file()  # [project.scripts]


@pytest.mark.parametrize("crate", sorted(RUNS))
def test_pip_install_editable(
    crate: str, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _copy_crate(crate, tmp_path / crate)
    python = fresh_venv(tmp_path / "venv")
    _ok(_pip(python, env, "install", "-q", "-e", str(src)))
    code, expected = RUNS[crate]
    assert _run(python, code) == expected
    if crate != "pyo3-mixed":
        return
    init = src / "python" / "pyo3_mixed" / "__init__.py"
    assert _run(python, "import pyo3_mixed; print(pyo3_mixed.__file__)") == str(init)
    # An edit of the Python source shows without reinstalling.
    init.write_text(init.read_text() + "\n\ndef edited() -> str:\n    return 'edited'\n")
    assert _run(python, "import pyo3_mixed; print(pyo3_mixed.edited())") == "edited"
    assert _run(python, "import pyo3_mixed; print(pyo3_mixed.double(4))") == "8"
    # The extension the editable install put into the tree, and bytecode, stay out of an
    # sdist made afterwards (outside git, cargo package --list names every file).
    subprocess.run([str(python), "-m", "compileall", "-q", str(src / "python")], check=True)
    assert list(init.parent.glob("_native.*.so")) and list(init.parent.glob("__pycache__/*"))
    monkeypatch.setenv("CARGO_TARGET_DIR", env["CARGO_TARGET_DIR"])  # cargo package writes it
    sdist = build_sdist(BuildOptions(manifest_path=src / "Cargo.toml", out_dir=tmp_path / "s"))
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert "pyo3_mixed-0.3.0/python/pyo3_mixed/__init__.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyc"))], names


@pytest.mark.parametrize("crate", sorted(RUNS))
def test_sdist_pip_wheel_install(
    crate: str, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """mwheel sdist -> pip wheel -> install -> run; the same wheel as the tree gives."""
    src = CRATES / crate
    for key in ("CARGO_TARGET_DIR", "SOURCE_DATE_EPOCH", "MWHEEL_BUILD_ARGS"):
        monkeypatch.setenv(key, env[key])
    assert main(["sdist", "-m", str(src / "Cargo.toml"), "-o", str(tmp_path / "sdist")]) == 0
    sdist = next((tmp_path / "sdist").glob("*.tar.gz"))
    python = fresh_venv(tmp_path / "venv")
    _ok(
        _pip(
            python, env, "wheel", "-q", "--no-deps", str(sdist), "-w", str(tmp_path / "from-sdist")
        )
    )
    from_sdist = next((tmp_path / "from-sdist").glob("*.whl"))
    # The tree's wheel, made by the same hook pip calls, in this process.
    monkeypatch.chdir(src)
    name = backend.build_wheel(str(tmp_path / "from-tree"))
    from_tree = tmp_path / "from-tree" / name
    assert from_sdist.name == from_tree.name
    with zipfile.ZipFile(from_sdist) as za, zipfile.ZipFile(from_tree) as zb:
        assert za.namelist() == zb.namelist()
        for member in za.namelist():
            assert za.read(member) == zb.read(member), member
    _ok(_pip(python, env, "install", "-q", "--no-index", str(from_sdist)))
    code, expected = RUNS[crate]
    assert _run(python, code) == expected


def test_python_m_build(tmp_path: Path, env: dict[str, str]) -> None:
    """``python -m build``: an sdist, then a wheel built from that sdist, both isolated."""
    pytest.importorskip("build")
    src = _copy_crate("bin-hello", tmp_path / "bin-hello")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0 and "No matching distribution found" in proc.stdout + proc.stderr:
        pytest.skip("PyPI unreachable for mwheel's dependencies")
    _ok(proc)
    built = sorted(p.name for p in (tmp_path / "dist").iterdir())
    assert built == [
        f"bin_hello-1.0.0-py3-none-linux_{platform.machine()}.whl",
        "bin_hello-1.0.0.tar.gz",
    ]
    with tarfile.open(tmp_path / "dist" / built[1]) as tar:
        assert "bin_hello-1.0.0/pyproject.toml" in tar.getnames()
    python = fresh_venv(tmp_path / "venv")
    _ok(_pip(python, env, "install", "-q", "--no-index", str(tmp_path / "dist" / built[0])))
    assert _run(python, "bin-hello") == RUNS["bin-hello"][1]


def test_pip_reports_bad_config_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    src = _copy_crate("bin-hello", tmp_path / "bin-hello")
    pyproject = src / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "stripp = true\n")
    proc = _pip(fresh_venv(tmp_path / "venv"), env, "install", str(src))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in out, out[-3000:]
    ours = [ln.strip() for ln in out.splitlines() if "mwheel: error:" in ln]
    assert len(ours) == 1 and "unknown key 'stripp'" in ours[0], out[-3000:]
