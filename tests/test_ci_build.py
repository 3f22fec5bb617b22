"""The generated jobs' own steps, run here where this machine can run them.

For each Linux build target whose Rust standard library is installed through rustup (on
this machine: x86_64-unknown-linux-gnu), the "Install the Rust target" and "Build wheels"
steps are taken from the generated YAML and run with bash, with the matrix values in the
environment as GitHub sets them. Targets rustup cannot add offline but Debian's rustc has
(aarch64 here, ``libstd-rust-dev:arm64``) run the "Build wheels" step with ``RUSTC`` set:
the same ``mwheel build --target ... --zig --compatibility ...`` line. The sdist job's step
likewise. The wheels must carry the job's tag and pass ``mwheel audit``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_ci import ROOT, generate, load, make_repo

from mwheel.audit import audit_wheel

needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
TARGET_DIR = Path.home() / ".cache" / "mwheel-cargo-target-ci"
TAGS = {"manylinux": "manylinux_2_17", "musllinux": "musllinux_1_2"}
DEBIAN_RUSTC = Path("/usr/bin/rustc")
# Cross builds run for the crates that compile once per target (bin, abi3): a version-specific
# crate cross-built with --find-interpreter compiles once per shipped CPython version.
CROSS_CRATES = ("bin-hello", "pyo3-abi3")


def rustup_targets() -> set[str]:
    if shutil.which("rustup") is None:
        return set()
    proc = subprocess.run(
        ["rustup", "target", "list", "--installed"], capture_output=True, text=True, check=False
    )
    return set(proc.stdout.split())


def debian_targets() -> set[str]:
    """Targets of Debian's rustc (``libstd-rust-dev:<arch>``), the cross-compiling issue's
    toolchain: the job's rustup step does not apply, ``RUSTC`` points cargo at it."""
    if not DEBIAN_RUSTC.is_file():
        return set()
    return {p.name for p in Path("/usr/lib/rustlib").iterdir() if (p / "lib").is_dir()}


def run_step(
    step: dict[str, Any], entry: dict[str, str], cwd: Path, extra: dict[str, str] | None = None
) -> None:
    """Run a ``run:`` step as the runner would: bash, ``${{ matrix.x }}`` env values filled."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET_DIR), CARGO_BUILD_JOBS="2", **(extra or {}))
    for key, value in step.get("env", {}).items():
        matrix_key = value.removeprefix("${{ matrix.").removesuffix(" }}")
        env[key] = entry[matrix_key] if value.startswith("${{ matrix.") else value
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, f"{step['name']}: {proc.stderr[-3000:]}"


def steps_named(job: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("name") in names]


@needs_cargo
@pytest.mark.slow
@pytest.mark.parametrize("crate", ["bin-hello", "pyo3-abi3", "pyo3-plain", "sub"])
def test_linux_build_steps_run(crate: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, manifest_args = make_repo(tmp_path, crate)
    args = [*manifest_args, "--platform", "linux", "musllinux"]
    doc = load(generate(repo, args, monkeypatch).read_text())
    rustup, debian = rustup_targets(), debian_targets()
    ran = []
    for platform, tag in TAGS.items():
        job = doc["jobs"][platform]
        for entry in job["strategy"]["matrix"]["include"]:
            triple = entry["triple"]
            if triple in rustup:
                steps = steps_named(job, "Install the Rust target", "Build wheels")
                extra = {}
            elif triple in debian and crate in CROSS_CRATES:
                steps = steps_named(job, "Build wheels")
                extra = {"RUSTC": str(DEBIAN_RUSTC)}
            else:
                continue
            dist = repo / "dist"
            shutil.rmtree(dist, ignore_errors=True)
            for step in steps:
                run_step(step, entry, repo, extra)
            wheels = sorted(dist.glob("*.whl"))
            assert wheels, f"{platform}/{entry['target']}: no wheel in dist"
            for wheel in wheels:
                arch = {"powerpc64le": "ppc64le", "armv7": "armv7l"}.get(
                    triple.split("-")[0], triple.split("-")[0]
                )
                assert f"{tag}_{arch}" in wheel.name, wheel.name
                report = audit_wheel(wheel)
                assert not [f for f in report.findings if f.severity == "error"], wheel.name
            ran.append(f"{platform}/{entry['target']}")
    if not ran:
        pytest.skip(f"no Linux target of the workflow is installed here ({sorted(rustup)})")
    if "x86_64-unknown-linux-gnu" in rustup:
        assert "manylinux/x86_64" in ran
    if "aarch64-unknown-linux-gnu" in debian and crate in CROSS_CRATES:
        assert "manylinux/aarch64" in ran


@pytest.mark.parametrize("crate", ["bin-hello", "sub"])
def test_sdist_step_runs(crate: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, manifest_args = make_repo(tmp_path, crate)
    doc = load(generate(repo, manifest_args, monkeypatch).read_text())
    (step,) = steps_named(doc["jobs"]["sdist"], "Build sdist")
    run_step(step, {}, repo)
    (sdist,) = (repo / "dist").glob("*.tar.gz")
    assert sdist.name.startswith(("bin_hello-1.0.0", "pyo3_mixed-0.3.0"))


SMOKE_TESTS = {
    "pyo3-plain": "import pyo3_plain\n\n\ndef test_add():\n    assert pyo3_plain.add(2, 3) == 5\n",
    "bin-hello": (
        "import subprocess\n\n\ndef test_runs():\n"
        "    out = subprocess.run(['bin-hello', 'x'], capture_output=True, text=True).stdout\n"
        "    assert out == 'bin-hello says x\\n'\n"
    ),
}


@needs_cargo
@pytest.mark.slow
@pytest.mark.parametrize("crate", sorted(SMOKE_TESTS))
def test_linux_test_step_runs(crate: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The x86_64 manylinux job's wheel, installed and tested by the test job's own script
    (what its container runs), with this machine's Python in place of the image's."""
    if "x86_64-unknown-linux-gnu" not in rustup_targets():
        pytest.skip("no x86_64-unknown-linux-gnu rustup target here")
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(tmp_path / "p"),
            "pytest",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip("pytest cannot be downloaded from PyPI here")
    repo, _ = make_repo(tmp_path, crate)
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "test_smoke.py").write_text(SMOKE_TESTS[crate])
    doc = load(generate(repo, ["--platform", "linux", "--pytest"], monkeypatch).read_text())
    # `python` is this interpreter (the image's in the real job), whose python3.X the
    # build's --find-interpreter finds on PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    path = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    build = doc["jobs"]["manylinux"]
    (entry,) = [e for e in build["strategy"]["matrix"]["include"] if e["target"] == "x86_64"]
    for step in steps_named(build, "Install the Rust target", "Build wheels"):
        run_step(step, entry, repo, path)
    (step,) = steps_named(doc["jobs"]["test-manylinux"], "pytest")
    script = {"run": 'sh -euc "$SCRIPT"', "name": "pytest", "env": step["env"]}
    run_step(script, {"platform": "linux/amd64", "image": "host"}, repo, path)


@needs_cargo
@pytest.mark.slow
def test_day_one_from_a_fresh_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The jobs' own install step installs this mwheel (from its wheel in ``tools/``, as the
    README says to before mwheel is on PyPI) into a fresh venv, and the build and sdist
    steps then work with that mwheel alone: nothing from this checkout is on the path."""
    if "x86_64-unknown-linux-gnu" not in rustup_targets():
        pytest.skip("no x86_64-unknown-linux-gnu rustup target here")
    repo, _ = make_repo(tmp_path, "bin-hello")
    tools = repo / "tools"
    wheel_cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tools)]
    if subprocess.run([*wheel_cmd, str(ROOT)], capture_output=True, check=False).returncode:
        pytest.skip("mwheel's own wheel cannot be built here (setuptools from PyPI)")
    doc = load(generate(repo, ["--platform", "linux"], monkeypatch).read_text())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": ""}
    build = doc["jobs"]["manylinux"]
    (entry,) = [e for e in build["strategy"]["matrix"]["include"] if e["target"] == "x86_64"]
    (install,) = steps_named(build, "Install mwheel")
    assert "--find-links tools" in install["run"]
    try:
        run_step(install, entry, repo, env)
    except AssertionError as exc:
        if "ConnectionError" in str(exc) or "No matching distribution" in str(exc):
            pytest.skip(f"mwheel's dependencies cannot be downloaded here: {exc}")
        raise
    mwheel_exe = venv / "bin" / "mwheel"
    assert mwheel_exe.is_file()
    for step in steps_named(build, "Install the Rust target", "Build wheels"):
        run_step(step, entry, repo, env)
    (wheel,) = (repo / "dist").glob("*.whl")
    assert "manylinux_2_17_x86_64" in wheel.name
    (sdist_step,) = steps_named(doc["jobs"]["sdist"], "Build sdist")
    run_step(sdist_step, {}, repo, env)
    assert list((repo / "dist").glob("*.tar.gz"))
