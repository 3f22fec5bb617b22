"""Start-up stays small: each command imports only what it needs, and the Linux policies are
read back from their precomputed form instead of being parsed again (no timings asserted:
benchmarks/bench_startup.py measures them beside the peers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mwheel.policies import Introduction, LinuxPolicy, linux_policies
from mwheel.precomputed import _encode, precomputed

CORPUS = Path(os.environ.get("MWHEEL_CORPUS", Path.home() / ".cache" / "mwheel-corpus"))


def _modules_after(code: str, tmp_path: Path) -> set[str]:
    """The mwheel modules (and a few heavy others) a fresh interpreter imported."""
    script = (
        "import sys, json\n"
        "from mwheel.cli import main\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = dict(os.environ, MWHEEL_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_version_imports_no_machinery(tmp_path: Path) -> None:
    loaded = _modules_after("main(['--version'])", tmp_path)
    assert not {m for m in loaded if m.startswith(("mwheel.audit", "mwheel.repair"))}
    assert "mwheel.build" not in loaded and "packaging" not in loaded


@pytest.mark.corpus
def test_windows_audit_loads_no_elf_or_macho_machinery(tmp_path: Path) -> None:
    wheel = CORPUS / "psutil-5.9.8-cp37-abi3-win_amd64.whl"
    if not wheel.exists():
        pytest.skip("corpus wheel not downloaded")
    loaded = _modules_after(f"main(['audit', {str(wheel)!r}])", tmp_path)
    assert "mwheel.audit.windows" in loaded and "mwheel.binary.pe" in loaded
    unwanted = {
        "mwheel.audit.linux",
        "mwheel.audit.macos",
        "mwheel.binary.elf",
        "mwheel.binary.macho",
        "macholib",
        "mwheel.repair.model",
        "mwheel.build",
        "concurrent.futures.process",
    }
    assert not loaded & unwanted


def test_policies_read_back_equal_the_parsed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MWHEEL_CACHE_DIR", str(tmp_path))
    linux_policies.cache_clear()
    try:
        first = linux_policies()  # parsed, validated, written
        (entry,) = tmp_path.glob("linux-policies-*.marshal")
        linux_policies.cache_clear()
        again = linux_policies()  # read back
        assert again is not first and _encode(again) == _encode(first)
        assert isinstance(again["manylinux"][0], LinuxPolicy)
        # A damaged entry is rebuilt, never trusted.
        entry.write_bytes(entry.read_bytes()[:100])
        linux_policies.cache_clear()
        assert _encode(linux_policies()) == _encode(first)
    finally:
        linux_policies.cache_clear()


def test_precomputed_key_follows_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MWHEEL_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def build() -> tuple[Introduction, ...]:
        calls.append(1)
        return (Introduction("1.2.2", "musllinux_1_2"),)

    a = precomputed("t", [b"one"], build, [Introduction])
    b = precomputed("t", [b"one"], build, [Introduction])
    c = precomputed("t", [b"two"], build, [Introduction])
    assert a == b == c and len(calls) == 2
    monkeypatch.setenv("MWHEEL_CACHE_DIR", "")  # off: always built
    precomputed("t", [b"one"], build, [Introduction])
    assert len(calls) == 3


WHEEL_TEXTS = [
    "Wheel-Version: 1.0\r\nGenerator: bdist_wheel (0.43.0)\r\nRoot-Is-Purelib: false\r\n"
    "Tag: cp311-cp311-linux_x86_64\r\ntag: cp311-cp311-manylinux_2_17_x86_64\r\n\r\nBody: x\n",
    "Wheel-Version:1.0\nGenerator: folded\n  on two lines\nTag:  a-b-c  \n",
    "not a header line\nTag: a-b-c\n",
    "Key : value\nTag: a-b-c\n",
    "",
]


@pytest.mark.parametrize("text", WHEEL_TEXTS)
def test_wheel_headers_read_as_email_reads_them(text: str) -> None:
    from email.parser import HeaderParser

    from mwheel.wheel.headers import parse_headers

    ours, theirs = parse_headers(text), HeaderParser().parsestr(text)
    for key in ("Wheel-Version", "Generator", "Root-Is-Purelib", "Tag", "Build"):
        assert ours.get(key) == theirs.get(key)
        assert ours.get_all(key) == (theirs.get_all(key) or [])


@pytest.mark.corpus
def test_wheel_headers_of_the_corpus() -> None:
    import zipfile
    from email.parser import HeaderParser

    from mwheel.wheel.headers import parse_headers

    wheels = sorted(CORPUS.glob("*.whl"))
    if not wheels:
        pytest.skip("corpus not downloaded")
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            name = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
            text = zf.read(name).decode()
        ours, theirs = parse_headers(text), HeaderParser().parsestr(text)
        assert ours.get_all("Tag") == theirs.get_all("Tag"), wheel.name
        assert ours.get("Root-Is-Purelib") == theirs.get("Root-Is-Purelib"), wheel.name


def test_reading_a_wheel_imports_no_email_package() -> None:
    code = (
        "import sys, mwheel.wheel.archive\n"
        "print(sorted(m for m in sys.modules if m == 'email' or m.startswith('email.')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr
