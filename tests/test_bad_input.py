"""Bad input: one clear line, a documented exit code, no traceback, input untouched.

Every case runs through both ``mwheel audit`` and ``mwheel repair``; none may leave output.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fixturelib.linux import build_linux_fixture
from hostile import Members, set_declared_size, variant, write_zip

from mwheel.cli import main
from mwheel.errors import InputError

NAME = "mwfix_clean-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
DIST = "mwfix_clean-1.0.dist-info"


def _add(name: str, data: bytes = b"x") -> Callable[[Members], Members]:
    return lambda m: [*m, (name, data)]


def _drop(suffix: str) -> Callable[[Members], Members]:
    return lambda m: [(n, d) for n, d in m if not n.endswith(suffix)]


def _edit(suffix: str, fn: Callable[[bytes], bytes]) -> Callable[[Members], Members]:
    return lambda m: [(n, fn(d) if n.endswith(suffix) else d) for n, d in m]


SO = ".so"
CASES: dict[str, tuple[Callable[[Members], Members], dict[str, object], int, str]] = {
    "dotdot": (_add("mwfix_clean/../../evil.py"), {}, 3, "'..' component"),
    "absolute": (_add("/etc/evil.py"), {}, 3, "absolute path"),
    "backslash": (_add("mwfix_clean\\evil.py"), {}, 3, "backslash"),
    "drive": (_add("C:/evil.py"), {}, 3, "drive letter"),
    "symlink": (
        _add("mwfix_clean/link.py", b"/etc/passwd"),
        {"symlink": "mwfix_clean/link.py"},
        3,
        "symlink",
    ),
    "duplicate": (lambda m: [*m, m[0]], {}, 3, "appears twice"),
    "record-hash": (_edit("__init__.py", lambda d: d + b"#"), {"rerecord": False}, 3, "RECORD"),
    "record-size": (
        _edit(
            "/RECORD",
            lambda d: d.replace(b"__init__.py,sha256=", b"__init__.py,sha256=", 1).replace(
                b",34\n", b",35\n", 1
            ),
        ),
        {"rerecord": False},
        3,
        "RECORD says",
    ),
    "no-wheel-file": (_drop(".dist-info/WHEEL"), {}, 3, "WHEEL is missing"),
    "no-record": (_drop(".dist-info/RECORD"), {"rerecord": False}, 3, "RECORD is missing"),
    "no-metadata": (_drop(".dist-info/METADATA"), {}, 3, "METADATA is missing"),
    "wheel-version": (
        _edit("/WHEEL", lambda d: d.replace(b"Wheel-Version: 1.0", b"Wheel-Version: 2.0")),
        {},
        3,
        "Wheel-Version 2.0",
    ),
    "elf-truncated": (_edit(SO, lambda d: d[:40]), {}, 4, "ELF"),
    "elf-bad-class": (_edit(SO, lambda d: d[:4] + b"\x07" + d[5:]), {}, 4, "ELF"),
    "elf-section-offsets": (_edit(SO, lambda d: d[:0x28] + b"\xff" * 8 + d[0x30:]), {}, 4, "ELF"),
    "elf-program-offsets": (_edit(SO, lambda d: d[:0x20] + b"\xff" * 8 + d[0x28:]), {}, 4, "ELF"),
}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_fixture("clean", tmp_path_factory.mktemp("good")).wheel


def _check(
    wheel: Path, tmp_path: Path, expected_code: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for argv in (["audit", str(wheel)], ["repair", "-w", str(tmp_path / "out"), str(wheel)]):
        code = main(argv)
        captured = capsys.readouterr()
        text = (captured.out + captured.err).strip()
        assert code == expected_code, (argv, text)
        assert "Traceback" not in text
        error_lines = [line for line in text.splitlines() if "error" in line]
        assert len(error_lines) == 1, text
        assert words in error_lines[0], error_lines[0]
        assert wheel.name in error_lines[0] or wheel.name.split("-")[0] in error_lines[0]
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == before
    out = tmp_path / "out"
    assert not out.exists() or not [p for p in out.iterdir() if p.suffix == ".whl"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_member(
    case: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, kwargs, code, words = CASES[case]
    bad = variant(good, tmp_path / NAME, change, **kwargs)  # type: ignore[arg-type]
    _check(bad, tmp_path, code, words, capsys)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"\x00" * 100])
def test_not_a_zip(content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / NAME
    bad.write_bytes(content)
    _check(bad, tmp_path, 3, "not a readable zip", capsys)


def test_truncated_zip(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / NAME
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _check(bad, tmp_path, 3, "zip", capsys)


def test_zip_bomb_declared_size(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = variant(good, tmp_path / NAME, lambda m: m)
    set_declared_size(bad, "mwfix_clean/__init__.py", 3 << 30)
    _check(bad, tmp_path, 3, "zip bomb", capsys)


def test_bad_file_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_zip(tmp_path / "not-a-wheel.whl", [("x", b"")])
    _check(bad, tmp_path, 3, "not a wheel file name", capsys)


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path / NAME)]) == InputError.exit_code
    captured = capsys.readouterr()
    assert "no such file" in captured.out + captured.err


def test_unknown_tag_on_command_line(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for plat in ("manylinux_2_99_x86_64", "bogus_tag"):
        assert main(["repair", "--plat", plat, "-w", str(tmp_path), str(good)]) == 2
        captured = capsys.readouterr()
        assert "platform tag" in captured.out + captured.err
    assert main(["audit", "--format", "xml", str(good)]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_one_bad_wheel_does_not_stop_the_others(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / NAME
    bad.write_bytes(b"")
    assert main(["audit", str(bad), str(good)]) == 3
    out = capsys.readouterr().out
    assert f"{good.name}: OK" in out


def test_cli_subprocess_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / NAME
    bad.write_bytes(b"garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "mwheel", "audit", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len((proc.stdout + proc.stderr).strip().splitlines()) == 1


def test_real_zip_bomb(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A member that honestly declares 300 MB of zeros (about 300 KB deflated)."""
    import zipfile

    bad = variant(good, tmp_path / NAME, lambda m: m)
    with zipfile.ZipFile(bad, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mwfix_clean/zeros.bin", bytes(300 << 20))
    _check(bad, tmp_path, 3, "zip bomb", capsys)
