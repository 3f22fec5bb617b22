"""A maturin project switches to mwheel by changing ``build-backend`` and gets the same wheel.

Each fixture crate under fixtures/crates/mc-* reproduces a layout of real maturin projects
(a ``.pyi`` stub beside Cargo.toml, an orjson-like pyo3-ffi crate with a build script,
``python-source`` and sdist-only includes, a workspace driven by ``manifest-path`` from its
root, the same workspace's binding crate with its own pyproject.toml, a ``bindings = "bin"``
CLI). Each is built by maturin 1.16 (tests/maturin_ref.py, cached) and by mwheel, and the two
wheels must have the same name, the same members outside ``.dist-info`` (the same bytes but
for binaries), the same METADATA, licence files, entry points and SBOM components. Then
mwheel's sdist must list what maturin's lists, and ``pip wheel`` of it through the PEP 517
backend (pyproject.toml switched to ``build-backend = "mwheel"``) must give the same wheel
again, tagged ``linux_<arch>`` as maturin's backend tags local builds; that wheel installs
into a fresh venv and runs.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from maturin_ref import maturin_reference, maturin_version, wheel_view
from venvs import clean_env, fresh_venv, pip_install

from mwheel.build import BuildOptions, build_wheels
from mwheel.build.sdist import build_sdist

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed"),
    pytest.mark.skipif(maturin_version() is None, reason="maturin is not installed"),
]

# case -> (crate directory, project directory inside it, smoke code or program, output)
CASES = {
    "stub": ("mc-stub", ".", "import mc_stub; print(mc_stub.add(40, 2))", "42"),
    "orjson-like": (
        "mc-mixed",
        ".",
        "import mc_mixed, mc_extra; print(mc_mixed.twice() + mc_extra.X - 1)",
        "84",
    ),
    "workspace-root": ("mc-workspace", ".", "import mc_ws; print(mc_ws.scale(14))", "42"),
    "workspace-member": (
        "mc-workspace",
        "crates/mc-ws-python",
        "import mc_ws; print(mc_ws.scale(14))",
        "42",
    ),
    "bin": ("mc-bin", ".", "mc-bin", "mc-bin says"),
    # no pyproject.toml: metadata from Cargo.toml alone (no round trip: nothing to switch)
    "cargo-only": ("pyo3-plain", ".", "import pyo3_plain; print(pyo3_plain.add(40, 2))", "42"),
}

# What mwheel's sdist ships beyond maturin's: the data directory and the wheel-only include
# globs, without which a wheel built from maturin's sdist lacks files the tree's wheel has.
SDIST_EXTRAS = {
    "orjson-like": ("mc_mixed.data/data/share/mc-mixed/hello.txt", "notes/wheel-note.txt"),
}


def _run(python: Path, code: str) -> str:
    if not code.startswith("import"):
        cmd = [str(python.parent / code)]
    else:
        cmd = [str(python), "-c", code]
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=clean_env(), cwd=python.parent
    ).stdout


def _assert_same(ours: Path, theirs: Path, *, tag: str | None = None) -> None:
    if tag is None:
        assert ours.name == theirs.name
    else:
        assert ours.name == theirs.name.rsplit("-", 1)[0] + f"-{tag}.whl"
    a, b = wheel_view(ours), wheel_view(theirs)
    assert a.members == b.members
    assert a.dist_info == b.dist_info
    assert a.metadata == b.metadata
    assert a.body == b.body
    assert a.entry_points == b.entry_points
    assert a.sbom_components == b.sbom_components


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_wheel_as_maturin(case: str, tmp_path: Path) -> None:
    crate, sub, _, _ = CASES[case]
    project = CRATES / crate / sub
    ref = maturin_reference(case, CRATES / crate, project)
    wheels = build_wheels(
        BuildOptions(
            project_dir=project,
            out_dir=tmp_path,
            release=True,
            quiet=True,
            target_dir=TARGET,
            interpreters=(sys.executable,),
        )
    )
    assert len(wheels) == 1
    _assert_same(wheels[0], ref.wheel)


def _switched_copy(crate: str, sub: str, dest: Path) -> Path:
    """The crate copied with ``build-backend = "maturin"`` changed to mwheel, nothing else."""
    shutil.copytree(CRATES / crate, dest, ignore=shutil.ignore_patterns("target"))
    pyproject = dest / sub / "pyproject.toml"
    text = pyproject.read_text()
    assert 'build-backend = "maturin"' in text
    pyproject.write_text(text.replace('build-backend = "maturin"', 'build-backend = "mwheel"'))
    return dest / sub


@pytest.mark.parametrize("case", sorted(c for c in CASES if c != "cargo-only"))
def test_sdist_round_trip_through_backend(case: str, tmp_path: Path) -> None:
    crate, sub, code, expected = CASES[case]
    ref = maturin_reference(case, CRATES / crate, CRATES / crate / sub)
    project = _switched_copy(crate, sub, tmp_path / "src")
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET)}
    sdist = build_sdist(BuildOptions(project_dir=project, out_dir=tmp_path / "sdist"))
    assert ref.sdist is not None
    assert sdist.name == ref.sdist.name
    with tarfile.open(sdist) as ours, tarfile.open(ref.sdist) as theirs:
        extra = set(ours.getnames()) - set(theirs.getnames())
        assert set(theirs.getnames()) <= set(ours.getnames())
        assert extra == {f"{sdist.name[:-7]}/{m}" for m in SDIST_EXTRAS.get(case, ())}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path / "wheels"),
            str(sdist),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    _assert_same(wheel, ref.wheel, tag=f"linux_{platform.machine()}")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, wheel)
    assert _run(python, code).startswith(expected)


def _symtab(wheel: Path) -> bool:
    import io
    import zipfile

    from elftools.elf.elffile import ELFFile

    with zipfile.ZipFile(wheel) as zf:
        (so,) = [n for n in zf.namelist() if n.endswith(".so")]
        elf = ELFFile(io.BytesIO(zf.read(so)))
        return elf.get_section_by_name(".symtab") is not None


def test_strip_rebuilds_only_the_final_crate(tmp_path: Path) -> None:
    """--strip is ``-C strip=symbols`` for the crate itself (``cargo rustc``), as maturin
    passes it: pyo3's compiled libraries are left as they are, so toggling it is cheap."""
    project = CRATES / "mc-stub"

    def build(strip: bool) -> Path:
        (wheel,) = build_wheels(
            BuildOptions(
                project_dir=project,
                out_dir=tmp_path / str(strip),
                release=True,
                quiet=True,
                strip=strip,
                target_dir=TARGET,
                interpreters=(sys.executable,),
            )
        )
        return wheel

    plain = build(False)
    deps = sorted((TARGET / "release" / "deps").glob("libpyo3*.rlib"))
    assert deps
    before = {p: p.stat().st_mtime_ns for p in deps}
    stripped = build(True)
    assert {p: p.stat().st_mtime_ns for p in deps} == before
    assert _symtab(plain) and not _symtab(stripped)
    assert build(False).read_bytes() == plain.read_bytes()


def test_backend_configured_compatibility(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A compatibility from [tool.maturin] tags pip's wheel when the build honours it; one it
    cannot honour gives maturin's linux_<arch> wheel with a warning, not a failed install."""
    from mwheel.build import backend

    project = _switched_copy("mc-bin", ".", tmp_path / "src")
    monkeypatch.chdir(project)
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("[tool.maturin]\n", '[tool.maturin]\ncompatibility = "pypi"\n')
    )
    name = backend.build_wheel(str(tmp_path / "pypi"))
    assert "-manylinux_" in name
    pyproject.write_text(
        text.replace("[tool.maturin]\n", '[tool.maturin]\ncompatibility = "manylinux_2_5"\n')
    )
    name = backend.build_wheel(str(tmp_path / "old"))
    assert name.endswith(f"-linux_{platform.machine()}.whl")
    assert any("manylinux_2_5" in r.getMessage() for r in caplog.records)
