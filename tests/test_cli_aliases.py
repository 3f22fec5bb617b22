"""Each peer spelling mwheel accepts does what the peer's option does, on real fixture wheels.

auditwheel: --ldpaths, -L/--lib-sdir, --no-update-tags, --allow-pure-python-wheel,
--disable-isa-ext-check, show --json, underscore spellings. delocate: -v, -L, -e/--exclude,
--ignore-missing-dependencies, --sanitize-rpaths/--no-sanitize-rpaths, -k/--check-archs,
--require-target-macos-version, --executable-path; delocate-listdeps -a/-d through audit.
delvewheel: --add-path, --include/--add-dll, --exclude/--no-dll, --ignore-existing,
--analyze-existing, --namespace-pkg, -v. abi3audit: --assume-minimum-abi3, -S/--strict.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fixturelib.abi3 import build_abi3_fixture
from fixturelib.linux import LinuxFixture, build_linux_fixture
from fixturelib.macos import MacFixture, build_macos_fixture
from fixturelib.wheels import make_wheel, wheel_members
from fixturelib.windows import WindowsFixture, build_windows_fixture

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary.macho import read_macho
from mwheel.cli import main


@pytest.fixture(scope="module")
def runpath(tmp_path_factory: pytest.TempPathFactory) -> LinuxFixture:
    return build_linux_fixture("runpath", tmp_path_factory.mktemp("runpath"))


@pytest.fixture(scope="module")
def libpath(tmp_path_factory: pytest.TempPathFactory) -> LinuxFixture:
    """Its library is found only through a library path option."""
    return build_linux_fixture("libpath", tmp_path_factory.mktemp("libpath"))


@pytest.fixture(scope="module")
def mac_chain(tmp_path_factory: pytest.TempPathFactory) -> MacFixture:
    return build_macos_fixture("chain", tmp_path_factory.mktemp("chain"))


@pytest.fixture(scope="module")
def win(tmp_path_factory: pytest.TempPathFactory) -> WindowsFixture:
    return build_windows_fixture(tmp_path_factory.mktemp("win"))


def _out(dest: Path) -> Path:
    (wheel,) = dest.glob("*.whl")
    return wheel


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- auditwheel ---------------------------------------------------------------------------


def test_ldpaths(libpath: LinuxFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = str(libpath.wheel)
    assert _run(["repair", "-w", str(tmp_path / "a"), wheel], capsys)[0] == 5
    dirs = ":".join(str(d) for d in libpath.lib_dirs)
    code, out, _ = _run(["repair", "--ldpaths", dirs, "-w", str(tmp_path / "b"), wheel], capsys)
    assert code == 0, out
    assert any(m.startswith("mwfix_libpath.libs/") for m in wheel_members(_out(tmp_path / "b")))


@pytest.mark.parametrize("spelling", ["-L", "--lib-sdir", "--lib_sdir"])
def test_lib_sdir_linux(
    spelling: str, runpath: LinuxFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        ["repair", spelling, ".vendored", "-w", str(tmp_path), str(runpath.wheel)], capsys
    )
    assert code == 0, err
    members = wheel_members(_out(tmp_path))
    assert any(m.startswith("mwfix_runpath.vendored/libmwprivate-") for m in members)
    assert audit_wheel(_out(tmp_path)).compliant


def test_lib_sdir_macos(
    mac_chain: MacFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    libs = [f"--lib-path={d}" for d in mac_chain.lib_dirs]
    code, _, err = _run(
        ["repair", "-L", ".libs", *libs, "-w", str(tmp_path), str(mac_chain.wheel)], capsys
    )
    assert code == 0, err
    members = wheel_members(_out(tmp_path))
    assert {f"{mac_chain.package}/.libs/{g}" for g in mac_chain.grafts} <= set(members)
    assert not any("/.dylibs/" in m for m in members)
    assert audit_wheel(_out(tmp_path)).compliant


def test_no_update_tags(
    runpath: LinuxFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        ["repair", "--no-update-tags", "-w", str(tmp_path), str(runpath.wheel)], capsys
    )
    assert code == 0
    assert _out(tmp_path).name == runpath.wheel.name  # linux_x86_64 kept
    assert any(m.startswith("mwfix_runpath.libs/") for m in wheel_members(_out(tmp_path)))
    assert "--no-update-tags" in out


def test_allow_pure_python_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pure = make_wheel(tmp_path / "in", "purepkg", "1.0", "py3-none-any", {"purepkg/x.py": b""})
    code, out, _ = _run(["repair", "-w", str(tmp_path / "a"), str(pure)], capsys)
    assert code == 0 and not (tmp_path / "a").exists()
    assert "nothing written" in out
    code, _, _ = _run(
        ["repair", "--allow-pure-python-wheel", "-w", str(tmp_path / "b"), str(pure)], capsys
    )
    assert code == 0
    digest = hashlib.sha256(pure.read_bytes()).hexdigest()
    assert hashlib.sha256(_out(tmp_path / "b").read_bytes()).hexdigest() == digest


def test_disable_isa_ext_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed")
    src = tmp_path / "isa.c"
    src.write_text("int PyInit__ext(void) { return 0; }\n")
    ext = tmp_path / "isa.so"
    # GNU_PROPERTY_X86_ISA_1_NEEDED = x86-64-v3, written by the linker.
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-z,x86-64-v3", str(src), "-o", str(ext)], check=True
    )
    wheel = make_wheel(
        tmp_path / "in",
        "isapkg",
        "1.0",
        "cp311-cp311-manylinux_2_17_x86_64",
        {"isapkg/_ext.cpython-311-x86_64-linux-gnu.so": ext},
    )
    code, out, _ = _run(["audit", str(wheel)], capsys)
    assert code == 1 and "isa-level-too-high" in out
    for spelling in ("--disable-isa-ext-check", "--disable_isa_ext_check"):
        code, out, _ = _run(["audit", spelling, str(wheel)], capsys)
        assert code == 0 and "isa-level" not in out


def test_show_json(runpath: LinuxFixture, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["show", "--json", str(runpath.wheel)], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["wheels"][0]["wheel"] == runpath.wheel.name
    assert doc["summary"] == {"wheels": 1, "compliant": 1, "not_compliant": 0, "errors": 0}


# --- delocate -----------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["-e", "--exclude"])
def test_exclude_substring(
    spelling: str, libpath: LinuxFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        ["repair", spelling, "mwpath", "-w", str(tmp_path), str(libpath.wheel)], capsys
    )
    assert code == 0, err
    assert "kept external on purpose: libmwpath.so" in out
    assert not any(".libs/" in m for m in wheel_members(_out(tmp_path)))


def test_ignore_missing_dependencies(
    libpath: LinuxFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["repair", "--ignore-missing-dependencies", "-w", str(tmp_path), str(libpath.wheel)]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "kept external on purpose: libmwpath.so" in out


def _rpaths(wheel: Path) -> set[str]:
    """Every LC_RPATH of every Mach-O member (the graft libmwouter carries an absolute one)."""
    out: set[str] = set()
    for member, data in wheel_members(wheel).items():
        if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
            binary = read_macho(member, data)
            assert binary.macho is not None
            out |= {r for s in binary.macho.slices for r in s.rpaths}
    return out


def test_sanitize_rpaths(
    mac_chain: MacFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    libs = [f"--lib-path={d}" for d in mac_chain.lib_dirs]
    wheel = str(mac_chain.wheel)
    for flag, dest in (("--sanitize-rpaths", "a"), ("--no-sanitize-rpaths", "b")):
        code, _, err = _run(["repair", flag, *libs, "-w", str(tmp_path / dest), wheel], capsys)
        assert code == 0, err
    kept = _rpaths(_out(tmp_path / "b"))
    cleaned = _rpaths(_out(tmp_path / "a"))
    assert any(r.startswith("/") for r in kept)
    assert not any(r.startswith("/") for r in cleaned)


@pytest.mark.parametrize("extra", [["-k"], ["--check-archs"], ["-v"], ["--verbose"]])
def test_accepted_delocate_switches(
    extra: list[str], mac_chain: MacFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    libs = [f"--lib-path={d}" for d in mac_chain.lib_dirs]
    code, _, err = _run(
        ["repair", *extra, *libs, "-w", str(tmp_path), str(mac_chain.wheel)], capsys
    )
    assert code == 0, err


def test_require_target_macos_version(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = build_macos_fixture("newer", tmp_path_factory.mktemp("newer"))  # needs macOS 13
    libs = [f"--lib-path={d}" for d in newer.lib_dirs]
    wheel = str(newer.wheel)
    argv = ["repair", "--require-target-macos-version", "11.0", *libs, "-w", str(tmp_path)]
    code, _, err = _run([*argv, wheel], capsys)
    assert code == 6 and "needs macOS 13.0" in err and not list(tmp_path.glob("*.whl"))
    argv[2] = "13.0"
    assert _run([*argv, wheel], capsys)[0] == 0


def test_executable_path_is_passed_to_the_resolver(
    mac_chain: MacFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    libs = [f"--lib-path={d}" for d in mac_chain.lib_dirs]
    wheel = str(mac_chain.wheel)
    without = _run(["audit", *libs, wheel], capsys)
    code, out, err = _run(["audit", "--executable-path", "/opt/py/bin", *libs, wheel], capsys)
    assert (code, out) == without[:2], err  # nothing of this wheel uses @executable_path
    report = audit_wheel(mac_chain.wheel, AuditOptions(executable_path="/opt/py/bin"))
    assert report.context is not None
    assert report.context.options.executable_path == "/opt/py/bin"


def test_listdeps_all_and_depending(
    mac_chain: MacFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    libs = [f"--lib-path={d}" for d in mac_chain.lib_dirs]
    _, plain, _ = _run(["audit", *libs, str(mac_chain.wheel)], capsys)
    assert "dependencies" not in plain
    _, deps, _ = _run(["audit", "-d", *libs, str(mac_chain.wheel)], capsys)
    assert "libmwouter" in deps and f"<- {mac_chain.extension}" in deps
    assert "libSystem" not in deps
    _, every, _ = _run(["audit", "-a", *libs, str(mac_chain.wheel)], capsys)
    assert "libSystem.B.dylib (system)" in every


# --- delvewheel ---------------------------------------------------------------------------


def test_add_path(win: WindowsFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["repair", "-w", str(tmp_path / "a"), str(win.wheel)], capsys)[0] == 5
    listed = f"{tmp_path / 'nowhere'};{win.lib_dir}"
    argv = ["repair", "--add-path", listed, "-v", "-w", str(tmp_path / "b"), str(win.wheel)]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    assert any(m.startswith("winext.libs/priv_inner-") for m in wheel_members(_out(tmp_path / "b")))


@pytest.mark.parametrize("spelling", ["--exclude", "--no-dll"])
def test_no_dll(
    spelling: str, win: WindowsFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["repair", spelling, "priv_outer.dll;other.dll", "-w", str(tmp_path), str(win.wheel)]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "kept external on purpose: priv_outer.dll" in out
    assert not any(m.startswith("winext.libs/") for m in wheel_members(_out(tmp_path)))


@pytest.mark.parametrize("spelling", ["--include", "--add-dll"])
def test_add_dll_vendors_a_system_dll(
    spelling: str, win: WindowsFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A stand-in for KERNEL32.dll (a real DLL under that name) where --add-path points.
    system_dir = tmp_path / "sys"
    system_dir.mkdir()
    shutil.copyfile(win.lib_dir / "priv_inner.dll", system_dir / "KERNEL32.dll")
    paths = f"{win.lib_dir};{system_dir}"
    argv = ["repair", spelling, "kernel32.dll", "--add-path", paths, "-w", str(tmp_path / "o")]
    code, _, err = _run([*argv, str(win.wheel)], capsys)
    assert code == 0, err
    members = wheel_members(_out(tmp_path / "o"))
    assert any(m.lower().startswith("winext.libs/kernel32-") for m in members), sorted(members)


@pytest.mark.parametrize(
    "extra",
    [
        ["--ignore-existing"],
        ["--ignore-in-wheel"],
        ["--analyze-existing"],
        ["--namespace-pkg", "ns"],
    ],
)
def test_accepted_delvewheel_switches(
    extra: list[str], win: WindowsFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["repair", *extra, "--add-path", str(win.lib_dir), "-w", str(tmp_path), str(win.wheel)]
    code, _, err = _run(argv, capsys)
    assert code == 0, err


# --- abi3audit ----------------------------------------------------------------------------


def test_assume_minimum_abi3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wheel whose interpreter tag names no CPython version (``py3``) is judged against
    the version given, as abi3audit does."""
    fx = build_abi3_fixture("clean", "elf", tmp_path / "fx")
    members = {k: v for k, v in wheel_members(fx.wheel).items() if ".dist-info/" not in k}
    wheel = make_wheel(tmp_path / "in", "abi3pkg", "1.0", "py3-abi3-linux_x86_64", members)
    low = audit_wheel(wheel, AuditOptions(assume_minimum_abi3=(3, 2)))
    high = audit_wheel(wheel, AuditOptions(assume_minimum_abi3=(3, 12)))
    assert low.findings != high.findings
    code, _, err = _run(["audit", "--assume-minimum-abi3", "3.12", str(wheel)], capsys)
    assert code in (0, 1), err
    assert _run(["audit", "--assume-minimum-abi3", "4.1", str(wheel)], capsys)[0] == 2


@pytest.mark.parametrize("spelling", ["-S", "--strict"])
def test_strict(spelling: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    code, _, err = _run(["audit", spelling, str(bad)], capsys)
    assert code == 3 and "not a readable zip" in err
