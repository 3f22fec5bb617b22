"""What a person (and a CI script) sees: errors on stderr naming the wheel once, the report on
stdout, a summary line after several wheels, C++ names demangled for people and raw in JSON,
-q/-v, and, on a terminal, a progress line that piped output never carries."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from fixturelib.linux import LinuxFixture, build_linux_fixture

from mwheel.cli import main
from mwheel.demangle import demangle, demangle_text


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LinuxFixture]:
    root = tmp_path_factory.mktemp("fx")
    return {n: build_linux_fixture(n, root / n) for n in ("clean", "newglibc", "cxx", "runpath")}


def _bad(tmp_path: Path) -> Path:
    bad = tmp_path / "nope-1.0-py3-none-any.whl"
    bad.write_bytes(b"this is not a zip")
    return bad


def test_error_is_one_stderr_line_naming_the_wheel_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad(tmp_path)
    for argv in (["audit", str(bad)], ["repair", "-w", str(tmp_path / "o"), str(bad)]):
        assert main(argv) == 3
        captured = capsys.readouterr()
        assert captured.out == ""
        (line,) = captured.err.splitlines()
        assert line.startswith(f"mwheel: error: {bad.name}: not a readable zip archive"), line
        assert line.count(bad.name) == 1


def test_json_report_keeps_the_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path)
    assert main(["audit", "--format", "json", str(bad)]) == 3
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["wheels"][0]["error"]["exit_code"] == 3
    assert "not a readable zip" in doc["wheels"][0]["error"]["message"]
    assert len(captured.err.splitlines()) == 1


@pytest.mark.parametrize("name", ["missing-1.0-py3-none-any.whl", "nope.whl"])
def test_missing_input_has_its_own_code(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    assert main(["audit", str(path)]) == 10
    assert main(["repair", "-w", str(tmp_path / "o"), str(path)]) == 10
    assert main(["audit", str(tmp_path)]) == 10  # a directory
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"mwheel: error: {path}: no such file"


def test_summary_line_after_several_wheels(
    wheels: dict[str, LinuxFixture], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(fx.wheel) for fx in wheels.values()] + [str(_bad(tmp_path))]
    assert main(["audit", *paths]) == 3
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "5 wheels: 3 compliant, 1 not, 1 unreadable"
    assert main(["audit", "-q", *paths[:2]]) == 1
    assert capsys.readouterr().out == "2 wheels: 1 compliant, 1 not\n"
    assert main(["audit", str(wheels["clean"].wheel)]) == 0
    assert "wheels:" not in capsys.readouterr().out  # one wheel: no summary


def test_repair_summary_line(
    wheels: dict[str, LinuxFixture], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(wheels["clean"].wheel), str(wheels["runpath"].wheel), str(_bad(tmp_path))]
    assert main(["repair", "-q", "-w", str(tmp_path / "o"), *paths]) == 3
    captured = capsys.readouterr()
    assert captured.out == "3 wheels: 2 repaired, 1 failed\n"
    assert len(captured.err.splitlines()) == 1


def test_cxx_symbols_demangled_for_people_raw_in_json(
    wheels: dict[str, LinuxFixture], capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = str(wheels["cxx"].wheel)
    main(["audit", "-v", wheel])
    text = capsys.readouterr().out
    main(["audit", "--json", wheel])
    doc = json.loads(capsys.readouterr().out)
    messages = " ".join(f["message"] for f in doc["wheels"][0]["findings"])
    assert "_ZN" in messages  # raw in JSON
    assert "_ZN" not in text and "std::" in text


def test_demangle() -> None:
    assert demangle("_ZdlPvm") == "operator delete(void*, unsigned long)"
    assert demangle("not_mangled") == "not_mangled"
    assert demangle_text("_ZdlPvm@CXXABI_1.3.9 from x") == (
        "operator delete(void*, unsigned long)@CXXABI_1.3.9 from x"
    )


def test_version_and_every_subcommand_has_verbosity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mwheel ")
    for command in ("audit", "repair", "build", "sdist", "generate-ci"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        usage = capsys.readouterr().out
        assert "-v" in usage and "-q" in usage, command


def test_build_format_json_is_honoured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mwheel.build.cli import print_built

    class Args:
        format = "json"

    print_built(Args(), [tmp_path / "a.whl"])  # type: ignore[arg-type]
    assert json.loads(capsys.readouterr().out) == {
        "schema_version": 1,
        "built": [str(tmp_path / "a.whl")],
    }


# --- terminals and pipes ------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ, MWHEEL_PROGRESS_DELAY="0", COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), *sys.path])
    return env


def _run_in_pty(argv: list[str]) -> tuple[int, str]:
    """Run mwheel with stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mwheel", *argv],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=_env(),
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_terminal_shows_progress_and_summary(
    wheels: dict[str, LinuxFixture], tmp_path: Path
) -> None:
    paths = [str(wheels["runpath"].wheel), str(wheels["clean"].wheel)]
    code, screen = _run_in_pty(["repair", "-w", str(tmp_path / "o"), *paths])
    assert code == 0, screen
    assert "\r\x1b[K" in screen  # the progress line, drawn and erased
    assert f"[1/2] {wheels['runpath'].wheel.name}: " in screen
    for phase in ("reading", "writing", "checking"):
        assert phase in screen, phase
    assert "2 wheels: 2 repaired, 0 failed" in screen
    code, screen = _run_in_pty(["audit", *paths])
    assert code == 0 and "2 wheels: 2 compliant, 0 not" in screen


def test_piped_output_has_no_escape_codes_nor_progress(
    wheels: dict[str, LinuxFixture], tmp_path: Path
) -> None:
    paths = [str(wheels["runpath"].wheel), str(wheels["clean"].wheel)]
    for argv in (["repair", "-w", str(tmp_path / "o"), *paths], ["audit", *paths]):
        proc = subprocess.run(
            [sys.executable, "-m", "mwheel", *argv], capture_output=True, text=True, env=_env()
        )
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stdout + proc.stderr and "\r" not in proc.stdout + proc.stderr
        assert proc.stderr == ""
        assert "reading" not in proc.stdout
        assert proc.stdout.rstrip().splitlines()[-1].startswith("2 wheels: 2 ")
