"""``mwheel build`` failures: one line on stderr, no traceback, the documented exit code."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mwheel.build.config import parse_tool
from mwheel.cli import main
from mwheel.errors import ConfigError

CRATES = Path(__file__).parent.parent / "fixtures" / "crates"
TARGET = Path(os.environ.get("MWHEEL_CARGO_TARGET", Path.home() / ".cache" / "mwheel-cargo-target"))
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def _crate(root: Path, cargo_toml: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(cargo_toml)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "Cargo.toml"


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert main(["build", *argv]) == code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("mwheel: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_missing_cargo_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(["-m", str(tmp_path / "Cargo.toml")], capsys, 7)
    assert "Cargo.toml" in line


@needs_cargo
@pytest.mark.slow
def test_no_cdylib_or_bin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    manifest = _crate(
        tmp_path / "rlib",
        '[package]\nname = "rlib-only"\nversion = "0.1.0"\nedition = "2021"\n',
        {"src/lib.rs": "pub fn f() {}\n"},
    )
    line = _fails(["-m", str(manifest)], capsys, 7)
    assert "neither a cdylib nor a bin target" in line


@needs_cargo
@pytest.mark.slow
def test_compile_error_shows_cargo_diagnostics(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARGO_TARGET_DIR", str(TARGET))
    manifest = _crate(
        tmp_path / "broken",
        '[package]\nname = "broken-bin"\nversion = "0.1.0"\nedition = "2021"\n',
        {"src/main.rs": "fn main() { let x: u8 = ; }\n"},
    )
    assert main(["build", "-m", str(manifest), "-o", str(tmp_path / "out")]) == 7
    err = capfd.readouterr().err
    assert "error: expected expression" in err  # cargo's own rendering, passed through
    assert "Traceback" not in err
    ours = [ln for ln in err.splitlines() if ln.startswith("mwheel: error:")]
    assert len(ours) == 1 and "cargo build failed" in ours[0]


def test_unknown_tag(capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(
        ["-m", str(CRATES / "bin-hello" / "Cargo.toml"), "--compatibility", "manylinux_9_99"],
        capsys,
        2,
    )
    assert "manylinux_9_99" in line


@needs_cargo
def test_no_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(
        ["-m", str(CRATES / "pyo3-abi3" / "Cargo.toml"), "-i", str(tmp_path / "no-such-python")],
        capsys,
        7,
    )
    assert "no-such-python" in line


def test_find_interpreter_finds_none(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mwheel.build.interpreters import find_interpreters
    from mwheel.errors import BuildError

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError, match="no Python interpreter found"):
        find_interpreters((), search=True)


@pytest.mark.parametrize(
    "table, key",
    [
        ({"bindngs": "pyo3"}, "bindngs"),
        ({"strip": "yes"}, "strip"),
        ({"features": 3}, "features"),
        ({"bindings": "swig"}, "bindings"),
        ({"include": [{"path": "x", "format": "exe"}]}, "include.format"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_tool(table)
    assert key in info.value.message and info.value.exit_code == 8


def test_config_error_from_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mwheel]\nmodule_name = 'x'\n")
    (tmp_path / "Cargo.toml").write_text("[package]\nname='x'\nversion='0.1.0'\n")
    monkeypatch.chdir(tmp_path)
    line = _fails([], capsys, 8)
    assert "module_name" in line


@pytest.mark.parametrize(
    "tool, words",
    [
        ("strip = 'yes'", ["strip", "true or false"]),
        ("features = 3", ["features", "list of strings"]),
        ("python-source = 'no-such-dir'", ["python-source", "no such directory"]),
        ("data = 'missing-data'", ["data", "no such directory"]),
        ("python-source = '../elsewhere'", ["python-source", "inside the project"]),
        ("manifest-path = 'rust/Cargo.toml'", ["rust/Cargo.toml", "no Cargo.toml found"]),
    ],
)
def test_bad_config_one_line(
    tool: str,
    words: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each mistake is caught before cargo runs, with one line naming the key or file."""
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.mwheel]\n{tool}\n")
    (tmp_path / "Cargo.toml").write_text("[package]\nname='x'\nversion='0.1.0'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARGO", str(tmp_path / "no-cargo-needed"))
    line = _fails([], capsys, 7 if "Cargo.toml" in words[0] else 8)
    assert all(w in line for w in words), line
