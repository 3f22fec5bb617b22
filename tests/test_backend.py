"""The PEP 517 hooks called in-process, ``[tool.mwheel]`` file rules, ``mwheel sdist``,
``mwheel build --sdist`` (``generate-ci`` is in test_ci.py).

pip, ``python -m build`` and editable installs driving the same hooks are in
test_backend_more.py. Builds share the cargo target directory of test_build.py and use the
same profile, features and interpreter, so they compile nothing when it has run.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from venvs import fresh_venv, pip_install

import mwheel
from mwheel.build import BuildOptions, backend, build_wheels
from mwheel.build.config import parse_tool
from mwheel.build.sdist import build_sdist
from mwheel.cli import main
from mwheel.errors import ConfigError

ROOT = Path(__file__).parent.parent
CRATES = ROOT / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_hooks_are_exported() -> None:
    for name in (
        "build_wheel",
        "build_sdist",
        "build_editable",
        "prepare_metadata_for_build_wheel",
        "prepare_metadata_for_build_editable",
        "get_requires_for_build_wheel",
        "get_requires_for_build_sdist",
        "get_requires_for_build_editable",
    ):
        assert getattr(mwheel, name) is getattr(backend, name)
    assert not hasattr(mwheel, "build_nothing")


@needs_cargo
@pytest.mark.slow
def test_sdist_contents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))  # cargo package writes target/
    a = build_sdist(
        BuildOptions(manifest_path=CRATES / "pyo3-mixed" / "Cargo.toml", out_dir=tmp_path / "a")
    )
    b = build_sdist(
        BuildOptions(manifest_path=CRATES / "pyo3-mixed" / "Cargo.toml", out_dir=tmp_path / "b")
    )
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        names = tar.getnames()
    for member in (
        "Cargo.toml",
        "src/lib.rs",
        "pyproject.toml",
        "PKG-INFO",
        "python/pyo3_mixed/__init__.py",
    ):
        assert f"pyo3_mixed-0.3.0/{member}" in names


@needs_cargo
@pytest.mark.slow
def test_sdist_vendors_path_dependencies(tmp_path: Path) -> None:
    (tmp_path / "helper" / "src").mkdir(parents=True)
    (tmp_path / "helper" / "Cargo.toml").write_text(
        '[package]\nname = "helper"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (tmp_path / "helper" / "src" / "lib.rs").write_text("pub fn one() -> i32 { 1 }\n")
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nhelper = { path = "../helper" }\n'
    )
    (app / "src" / "main.rs").write_text('fn main() { println!("{}", helper::one()); }\n')
    sdist = build_sdist(BuildOptions(manifest_path=app / "Cargo.toml", out_dir=tmp_path / "o"))
    unpacked = tmp_path / "u"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    top = unpacked / "app-0.1.0"
    assert (top / "local_dependencies" / "helper" / "src" / "lib.rs").is_file()
    assert 'path = "local_dependencies/helper"' in (top / "Cargo.toml").read_text()
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET)}
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--offline"],
        cwd=top,
        check=True,
        capture_output=True,
        env=env,
    )


@needs_cargo
@pytest.mark.slow
@pytest.mark.parametrize("crate", ["pyo3-mixed", "bin-hello"])
def test_prepare_metadata_matches_the_wheel(
    crate: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prepare_metadata_for_build_wheel/_editable give the built wheel's .dist-info."""
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    monkeypatch.delenv("MWHEEL_BUILD_ARGS", raising=False)
    monkeypatch.chdir(CRATES / crate)
    meta = tmp_path / "meta"
    dist_info = backend.prepare_metadata_for_build_wheel(str(meta))
    assert backend.prepare_metadata_for_build_editable(str(tmp_path / "e")) == dist_info
    assert backend.get_requires_for_build_wheel() == []
    name = backend.build_wheel(str(tmp_path / "w"), None, str(meta / dist_info))
    # Local builds default to compatibility linux: the wheel is for this machine.
    assert name.endswith(f"-linux_{platform.machine()}.whl")
    with zipfile.ZipFile(tmp_path / "w" / name) as zf:
        members = zf.namelist()
        assert f"{dist_info}/METADATA" in members
        for prepared in sorted((meta / dist_info).iterdir()):
            if prepared.name != "WHEEL":  # the prepared one has no Tag lines yet
                assert zf.read(f"{dist_info}/{prepared.name}") == prepared.read_bytes()
    if crate == "pyo3-mixed":
        assert (meta / dist_info / "entry_points.txt").is_file()


@needs_cargo
@pytest.mark.slow
def test_build_with_sdist_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    assert (
        main(
            [
                "build",
                "-m",
                str(CRATES / "bin-hello" / "Cargo.toml"),
                "-r",
                "-q",
                "--sdist",
                "-o",
                str(tmp_path),
            ]
        )
        == 0
    )
    built = sorted(p.name for p in tmp_path.iterdir())
    assert len(built) == 2 and built[1] == "bin_hello-1.0.0.tar.gz", built
    assert built[0].startswith("bin_hello-1.0.0-py3-none-manylinux")
    printed = capsys.readouterr().out
    assert all(f"built {tmp_path / b}" in printed for b in built)
    with tarfile.open(tmp_path / built[1]) as tar:
        assert "bin_hello-1.0.0/src/main.rs" in tar.getnames()


_RULES = """
[tool.mwheel]
bindings = "bin"
include = [
    { path = "extra/*.txt", format = "wheel" },
    { path = "notes/*.md", format = "sdist" },
    { path = "both.cfg", format = ["sdist", "wheel"] },
]
exclude = [
    { path = "extra/secret*", format = "wheel" },
    { path = "notes/draft*", format = "sdist" },
]
data = "payload"
python-source = "py"
python-packages = ["hello_helper"]
"""


def _rules_project(root: Path) -> Path:
    """A project with include/exclude globs and a data directory (scheme subdirectories)."""
    files = {
        "extra/a.txt": "a",
        "extra/secret.txt": "s",
        "notes/n.md": "n",
        "notes/draft.md": "d",
        "both.cfg": "b",
        "payload/data/share/bin-hello/greeting.txt": "hello from data",
        "payload/headers/hello.h": "#define HELLO 1\n",
        "py/hello_helper/__init__.py": "GREETING = 'hi'\n",
        "py/stray.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["mwheel"]\nbuild-backend = "mwheel"\n\n'
        '[project]\nname = "bin-hello"\ndynamic = ["version"]\n' + _RULES
    )
    return root


@needs_cargo
@pytest.mark.slow
def test_include_exclude_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """include/exclude/data/python-packages shape the wheel and the sdist; the sdist rebuilds
    the same wheel."""
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    proj = tmp_path / "bin-hello"
    shutil.copytree(CRATES / "bin-hello", proj, ignore=shutil.ignore_patterns("target"))
    _rules_project(proj)

    def wheel_of(root: Path, out: str) -> Path:
        return build_wheels(
            BuildOptions(
                project_dir=root,
                out_dir=tmp_path / out,
                release=True,
                quiet=True,
                compatibility=("linux",),
            )
        )[0]

    wheel = wheel_of(proj, "tree")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    data = "bin_hello-1.0.0.data"
    assert {
        "extra/a.txt",
        "both.cfg",
        f"{data}/data/share/bin-hello/greeting.txt",
        f"{data}/headers/hello.h",
        f"{data}/scripts/bin-hello",
        "hello_helper/__init__.py",
    } <= names
    assert not {"extra/secret.txt", "notes/n.md", "notes/draft.md", "stray.py"} & names

    sdist = build_sdist(BuildOptions(manifest_path=proj / "Cargo.toml", out_dir=tmp_path / "s"))
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / "u", filter="data")
        names = {n.split("/", 1)[1] for n in tar.getnames()}
    # What the wheel needs (wheel-only globs, the data directory) travels in the sdist too.
    assert {
        "notes/n.md",
        "both.cfg",
        "extra/a.txt",
        "payload/headers/hello.h",
        "py/hello_helper/__init__.py",
        "Cargo.toml",
        "src/main.rs",
        "pyproject.toml",
    } <= names
    assert "notes/draft.md" not in names
    again = wheel_of(tmp_path / "u" / "bin_hello-1.0.0", "from-sdist")
    assert again.name == wheel.name and again.read_bytes() == wheel.read_bytes()

    python = fresh_venv(tmp_path / "venv")
    pip_install(python, wheel)
    venv = python.parent.parent
    assert (venv / "share" / "bin-hello" / "greeting.txt").read_text() == "hello from data"
    assert (venv / "bin" / "bin-hello").is_file()
    out = subprocess.run(
        [str(python), "-c", "import hello_helper; print(hello_helper.GREETING)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=venv,
    )
    assert out.stdout.strip() == "hi"


@pytest.mark.parametrize("rule", ["/etc/*", "../x/*", "a/../../b"])
def test_file_rules_stay_inside_the_project(rule: str) -> None:
    with pytest.raises(ConfigError, match="include"):
        parse_tool({"include": [rule]})


def test_extra_build_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """MWHEEL_BUILD_ARGS and config_settings["build-args"] reach the build options."""
    monkeypatch.chdir(CRATES / "pyo3-mixed")
    monkeypatch.delenv("MWHEEL_BUILD_ARGS", raising=False)
    local = backend.backend_options(str(tmp_path), None)
    assert local.compatibility == ("linux",) and local.release  # as maturin's backend does
    monkeypatch.setenv("MWHEEL_BUILD_ARGS", "--strip -F extra")
    opts = backend.backend_options(
        str(tmp_path), {"build-args": "--compatibility manylinux_2_28 --profile dev"}
    )
    assert opts.strip and opts.features == ("extra",)
    assert opts.compatibility == ("manylinux_2_28",) and opts.profile == "dev"
    assert not opts.release and opts.out_dir == tmp_path
    # A bad argument ends the hook with one line and the usage exit code, no traceback.
    with pytest.raises(SystemExit) as info:
        backend.prepare_metadata_for_build_wheel(str(tmp_path), {"build-args": "--nope"})
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mwheel: error: MWHEEL_BUILD_ARGS / build-args:") and "--nope" in err
    assert "\n" not in err


@needs_cargo
@pytest.mark.slow
def test_cli_flags_override_tool_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    manifest = os.path.relpath(CRATES / "bin-hello" / "Cargo.toml", proj)
    (proj / "pyproject.toml").write_text(
        f'[project]\nname = "bin-hello"\n\n[tool.mwheel]\nmanifest-path = "{manifest}"\n'
        'bindings = "bin"\ncompatibility = "linux"\n'
    )
    monkeypatch.chdir(proj)
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    assert main(["build", "-r", "-q", "-o", "a"]) == 0
    assert main(["build", "-r", "-q", "-o", "b", "--compatibility", "pypi"]) == 0
    (configured,) = (proj / "a").glob("*.whl")
    (flagged,) = (proj / "b").glob("*.whl")
    assert configured.name.endswith(f"-py3-none-linux_{platform.machine()}.whl")
    assert "manylinux" in flagged.name
