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


def _modules_after(code: str, tmp_path: Path, cwd: Path | None = None) -> set[str]:
    """The modules a fresh interpreter imported for mwheel (those that ``site`` and the .pth
    files of the environment imported before are left out)."""
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from mwheel.cli import main\n"
        f"{code}\n"
        "loaded = sorted(set(sys.modules) - before)\n"
        "import json\n"
        "print(json.dumps(loaded), file=sys.stderr)\n"
    )
    env = dict(os.environ, MWHEEL_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=cwd
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


# What a small Windows or macOS wheel's audit does not need: packaging.tags (and the logging,
# platform, subprocess and sysconfig it imports to probe the host), the email package (read
# only for METADATA when providers are asked about), the Linux policy loader and
# importlib.resources, tempfile (only for binaries spilled to disk), the reader of the
# wheel's start-up code (only when a bundled DLL lies outside its importer's directory), and
# the providers module with tomllib (only for a pyproject.toml that may map providers), and
# ISA-L (only for members large enough for its speed to pay for importing it).
NOT_AT_START_UP = {
    "isal",
    "isal.isal_zlib",
    "packaging.tags",
    "packaging.utils",
    "logging",
    "platform",
    "subprocess",
    "sysconfig",
    "email",
    "email.parser",
    "mwheel.audit.providers",
    "tomllib",
    "mwheel.policies",
    "importlib.resources",
    "tempfile",
    "mwheel.audit.windows_dll_dirs",
}


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("wheel_name", "rule"),
    [
        ("psutil-5.9.8-cp37-abi3-win_amd64.whl", "mwheel.audit.windows"),
        ("psutil-5.9.8-cp38-abi3-macosx_11_0_arm64.whl", "mwheel.audit.macos"),
    ],
)
def test_audit_of_a_small_wheel_imports_only_what_it_needs(
    tmp_path: Path, wheel_name: str, rule: str
) -> None:
    wheel = CORPUS / wheel_name
    if not wheel.exists():
        pytest.skip("corpus wheel not downloaded")
    # Run in a project directory, as cibuildwheel does: its pyproject.toml is read for
    # [tool.mwheel.provided-by], which this one does not have.
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "psutil"\nversion = "5.9.8"\n')
    for options, cwd in (([], project), (["--format", "json"], project), ([], tmp_path)):
        code = f"main(['audit', *{options!r}, {str(wheel)!r}])"
        loaded = _modules_after(code, tmp_path, cwd)
        assert rule in loaded and "mwheel.audit.abi3" in loaded  # the audit did run
        assert not loaded & NOT_AT_START_UP, sorted(loaded & NOT_AT_START_UP)


@pytest.mark.corpus
def test_linux_audit_does_not_probe_the_host(tmp_path: Path) -> None:
    wheels = sorted(CORPUS.glob("bcrypt-*-manylinux*.whl"))
    if not wheels:
        pytest.skip("corpus wheel not downloaded")
    loaded = _modules_after(f"main(['audit', {str(wheels[0])!r}])", tmp_path)
    assert "mwheel.audit.linux" in loaded
    host = {"packaging.tags", "packaging.utils", "logging", "platform", "sysconfig", "email"}
    assert not loaded & host, sorted(loaded & host)


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


def test_data_files_read_through_the_import_system_when_not_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mwheel imported from a zip has no policies/ directory to read: the resource reader
    gives the same data."""
    from mwheel import policy_data

    expected = policy_data.load_data("windows.json")
    policy_data.load_data.cache_clear()
    monkeypatch.setattr(policy_data, "_DIRECTORY", tmp_path / "not-a-directory")
    try:
        assert policy_data.load_data("windows.json") == expected
    finally:
        policy_data.load_data.cache_clear()
