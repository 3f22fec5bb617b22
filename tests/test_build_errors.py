"""``mwheel build`` failures: one line on stderr, no traceback, the documented exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


# Missing tools: found before cargo starts, one line naming the piece and the fix.


def test_zig_without_ziglang(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ziglang", None)  # what an uninstalled package looks like
    line = _fails(["-m", str(CRATES / "bin-hello" / "Cargo.toml"), "--zig"], capsys, 7)
    assert "ziglang" in line and "pip install 'mwheel[zig]'" in line


def test_no_cargo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARGO", str(tmp_path / "cargo"))
    line = _fails(["-m", str(CRATES / "bin-hello" / "Cargo.toml")], capsys, 7)
    assert "cargo" in line and "not found" in line and "rustup.rs" in line


def _rustup_lacks(triple: str) -> None:
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("rustc is not installed")
    sysroot = subprocess.run(
        [rustc, "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if (Path(sysroot) / "lib" / "rustlib" / triple).is_dir():
        pytest.skip(f"this rustc has the {triple} std")


@needs_cargo
def test_target_std_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUSTC", raising=False)
    monkeypatch.delenv("CARGO_UNSTABLE_BUILD_STD", raising=False)
    _rustup_lacks("s390x-unknown-linux-gnu")
    argv = [
        "-m",
        str(CRATES / "bin-hello" / "Cargo.toml"),
        "--target",
        "s390x-unknown-linux-gnu",
        "--zig",
    ]
    line = _fails(argv, capsys, 7)
    assert "standard library for s390x-unknown-linux-gnu" in line
    assert "rustup target add s390x-unknown-linux-gnu" in line


@needs_cargo
def test_no_linker_for_a_foreign_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --zig and without a configured linker, cargo would call the host's cc."""
    for var in ("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", "CC", "TARGET_CC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CARGO_HOME", str(tmp_path))  # no user config with a linker
    argv = ["-m", str(CRATES / "bin-hello" / "Cargo.toml"), "--target", "aarch64-unknown-linux-gnu"]
    line = _fails(argv, capsys, 7)
    assert "no linker for aarch64-unknown-linux-gnu" in line and "--zig" in line
    assert "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER" in line


@needs_cargo
def test_named_linker_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "aarch64-linux-gnu-gcc"
    monkeypatch.setenv("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", str(missing))
    argv = ["-m", str(CRATES / "bin-hello" / "Cargo.toml"), "--target", "aarch64-unknown-linux-gnu"]
    line = _fails(argv, capsys, 7)
    assert str(missing) in line and "not found" in line


@needs_cargo
@pytest.mark.parametrize(
    "argv, words",
    [
        (["--target", "mips-unknown-linux-gnu"], ["mips-unknown-linux-gnu", "known:"]),
        (
            ["--target", "aarch64-unknown-linux-gnu", "--zig", "-i", sys.executable],
            ["name its version", "-i python3.11"],
        ),
        (
            ["--target", "aarch64-unknown-linux-gnu", "--compatibility", "musllinux_1_2"],
            ["musl target", "aarch64-unknown-linux-musl"],
        ),
        (
            ["--target", "x86_64-pc-windows-msvc", "--compatibility", "manylinux2014"],
            ["Linux targets"],
        ),
        (
            ["--target", "aarch64-unknown-linux-gnu", "--zig", "-i", "python3.7"],
            ["no facts for CPython 3.7"],
        ),
    ],
)
def test_cross_usage_errors(
    argv: list[str],
    words: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARGO_UNSTABLE_BUILD_STD", "std")  # the std check is not what is tested
    line = _fails(["-m", str(CRATES / "cross-pyo3" / "Cargo.toml"), *argv], capsys, 7)
    assert all(w in line for w in words), line
