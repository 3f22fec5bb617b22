"""Libraries another wheel installs: reported as provided, never grafted, and the pair of
wheels proven by installing both in a fresh venv and importing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fixturelib.providers import dependency_pair, torch_layout
from venvs import clean_env, fresh_venv, loaded_libraries, pip_install

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions
from mwheel.binary import read_binary
from mwheel.cli import main
from mwheel.errors import MissingLibraryError
from mwheel.repair import repair_wheel
from mwheel.wheel.archive import WheelArchive

NVIDIA = 'platform_system == "Linux" and platform_machine == "x86_64"'
TORCH_REQUIRES = (
    f"Requires-Dist: nvidia-cudnn-cu12==9.1.0.70; {NVIDIA}\n"
    f"Requires-Dist: nvidia-cublas-cu12==12.4.5.8; {NVIDIA}\n"
    f"Requires-Dist: nvidia-cufft-cu12==11.2.1.3; {NVIDIA}\n"
)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MWHEEL_CACHE_DIR", str(cache))
    return cache


def _provided(report_findings: tuple[object, ...]) -> dict[str, dict[str, str]]:
    out = {}
    for f in report_findings:
        if getattr(f, "code", None) == "provided-by-dependency":
            details = dict(f.details)  # type: ignore[attr-defined]
            out[details["library"]] = details
    return out


def test_library_of_a_declared_dependency_is_provided(tmp_path: Path) -> None:
    pair = dependency_pair(tmp_path)
    opts = AuditOptions(lib_paths=(pair.other_dir,), find_links=(pair.links,))
    report = audit_wheel(pair.main, opts)
    provided = _provided(report.findings)
    assert provided == {
        "libmwdep.so.1": {
            "library": "libmwdep.so.1",
            "provider": "mwdep-provider",
            "requirement": "mwdep-provider>=1.0",
            "provider_path": "mwdep/lib/libmwdep.so.1",
        }
    }
    finding = next(f for f in report.findings if f.code == "provided-by-dependency")
    assert finding.severity == "info"
    assert "reached through RUNPATH $ORIGIN/../mwdep/lib" in finding.message
    # The other library, which no dependency ships, stays external.
    assert list(report.external_libraries) == ["libmwother.so.1"]
    assert report.repair_tag == "manylinux_2_5_x86_64"


def test_without_requires_dist_the_library_stays_external(tmp_path: Path) -> None:
    pair = dependency_pair(tmp_path, requires="")
    opts = AuditOptions(lib_paths=(pair.other_dir,), find_links=(pair.links,))
    report = audit_wheel(pair.main, opts)
    assert not _provided(report.findings)
    assert set(report.external_libraries) == {"libmwdep.so.1", "libmwother.so.1"}
    assert report.external_libraries["libmwdep.so.1"] is None
    with pytest.raises(MissingLibraryError, match=r"libmwdep\.so\.1"):
        repair_wheel(pair.main, tmp_path / "out", audit_options=opts)


def test_without_a_provider_source_nothing_changes(tmp_path: Path) -> None:
    """No --find-links, mapping or index: no METADATA read, the library is missing."""
    pair = dependency_pair(tmp_path)
    report = audit_wheel(pair.main, AuditOptions(lib_paths=(pair.other_dir,)))
    assert report.context is not None and report.context.providers is None
    assert report.external_libraries["libmwdep.so.1"] is None


@pytest.mark.slow
@pytest.mark.parametrize("runpath", [True, False], ids=["runpath", "record-only"])
def test_repaired_wheel_and_its_dependency_install_and_import(
    tmp_path: Path, runpath: bool
) -> None:
    """With no RUNPATH entry reaching the dependency's library, the repair adds one."""
    pair = dependency_pair(tmp_path, runpath=runpath)
    opts = AuditOptions(lib_paths=(pair.other_dir,), find_links=(pair.links,))
    before = audit_wheel(pair.main, opts)
    message = next(f.message for f in before.findings if f.code == "provided-by-dependency")
    assert ("reached through RUNPATH" in message) is runpath
    assert ("no RUNPATH entry reaches it" in message) is not runpath
    result = repair_wheel(pair.main, tmp_path / "out", audit_options=opts)
    assert result.output is not None
    assert [g.name for g in result.plan.grafts] == ["libmwother.so.1"]
    assert result.report.compliant, result.report.findings
    with WheelArchive(result.output) as archive:
        ext = next(m for m in archive.members if m.endswith(".so") and "_ext" in m)
        binary = read_binary(ext, archive.read(ext))
    assert binary.elf is not None
    assert "$ORIGIN/../mwdep/lib" in binary.elf.runpath
    assert "libmwdep.so.1" in binary.dependencies

    python = fresh_venv(tmp_path / "venv")
    pip_install(python, pair.dependency)
    pip_install(python, result.output)
    moved = pair.other_dir.rename(pair.other_dir.with_name("moved"))
    try:
        proc = subprocess.run(
            [
                str(python),
                "-c",
                "import mwmain; assert mwmain.value() == 42; print(open('/proc/self/maps').read())",
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
            check=False,
        )
    finally:
        moved.rename(pair.other_dir)
    assert proc.returncode == 0, proc.stderr
    venv = (tmp_path / "venv").resolve()
    loaded = {Path(p).resolve() for p in loaded_libraries(proc.stdout)}
    dep = [p for p in loaded if p.name == "libmwdep.so.1"]
    assert dep and dep[0].is_relative_to(venv) and dep[0].parent.name == "lib"
    assert dep[0].parent.parent.name == "mwdep"
    assert not any(p.is_relative_to(tmp_path / "host-lib") for p in loaded)


def test_torch_layout_rpaths_into_nvidia_wheels(tmp_path: Path) -> None:
    layout = torch_layout(tmp_path, TORCH_REQUIRES)
    opts = AuditOptions(find_links=(layout.links,), host_libs=False)
    report = audit_wheel(layout.torch, opts)
    assert report.compliant, report.findings
    assert report.external_libraries == {}
    provided = _provided(report.findings)
    assert {k: v["provider"] for k, v in provided.items()} == {
        "libcudnn.so.9": "nvidia-cudnn-cu12",
        "libcublas.so.12": "nvidia-cublas-cu12",
        "libcufft.so.11": "nvidia-cufft-cu12",
    }
    assert provided["libcudnn.so.9"]["provider_path"] == "nvidia/cudnn/lib/libcudnn.so.9"
    assert report.best_tag == "manylinux_2_5_x86_64"

    result = repair_wheel(layout.torch, tmp_path / "out", audit_options=opts)
    assert result.output is not None and result.plan.grafts == ()
    assert [n.split(",")[0] for n in result.plan.notes if n.startswith("not grafted")] == [
        "not grafted: libcublas.so.12",
        "not grafted: libcudnn.so.9",
        "not grafted: libcufft.so.11",
    ]
    with WheelArchive(result.output) as archive:
        binary = read_binary(
            "torch/lib/libtorch_cuda.so", archive.read("torch/lib/libtorch_cuda.so")
        )
    assert binary.elf is not None
    assert "$ORIGIN/../../nvidia/cudnn/lib" in binary.elf.runpath


def test_undeclared_or_marker_excluded_dependency_stays_external(tmp_path: Path) -> None:
    requires = (
        f"Requires-Dist: nvidia-cudnn-cu12==9.1.0.70; {NVIDIA}\n"
        'Requires-Dist: nvidia-cublas-cu12==12.4.5.8; platform_machine == "aarch64"\n'
    )
    layout = torch_layout(tmp_path, requires)
    report = audit_wheel(layout.torch, AuditOptions(find_links=(layout.links,), host_libs=False))
    assert set(_provided(report.findings)) == {"libcudnn.so.9"}
    assert set(report.external_libraries) == {"libcublas.so.12", "libcufft.so.11"}
    assert not report.compliant


def test_requirement_behind_an_extra_counts(tmp_path: Path) -> None:
    requires = (
        "Provides-Extra: cuda\n"
        'Requires-Dist: nvidia-cudnn-cu12; extra == "cuda"\n'
        'Requires-Dist: nvidia-cublas-cu12; extra == "cuda"\n'
        'Requires-Dist: nvidia-cufft-cu12; extra == "cuda"\n'
    )
    layout = torch_layout(tmp_path, requires)
    report = audit_wheel(layout.torch, AuditOptions(find_links=(layout.links,), host_libs=False))
    assert report.compliant, report.findings
    assert _provided(report.findings)["libcufft.so.11"]["requirement"] == (
        'nvidia-cufft-cu12; extra == "cuda"'
    )


def test_user_mapping_without_wheels(tmp_path: Path) -> None:
    layout = torch_layout(tmp_path, TORCH_REQUIRES)
    opts = AuditOptions(
        provided_by=(
            ("libcu*.so.*", "nvidia-cublas-cu12"),
            ("libcufft.so.11", "NVIDIA_cufft_cu12"),
        ),
        host_libs=False,
    )
    report = audit_wheel(layout.torch, opts)
    provided = _provided(report.findings)
    assert provided["libcufft.so.11"]["provider"] == "nvidia-cufft-cu12"
    assert provided["libcudnn.so.9"]["provider"] == "nvidia-cublas-cu12"  # the glob
    assert "provider_path" not in provided["libcudnn.so.9"]
    assert report.compliant


def test_a_mapping_to_an_undeclared_distribution_is_not_enough(tmp_path: Path) -> None:
    layout = torch_layout(tmp_path, f"Requires-Dist: nvidia-cudnn-cu12; {NVIDIA}\n")
    opts = AuditOptions(provided_by=(("libcufft.so.11", "nvidia-cufft-cu12"),), host_libs=False)
    report = audit_wheel(layout.torch, opts)
    assert "libcufft.so.11" in report.external_libraries


def test_cli_find_links_mapping_file_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], _own_cache: Path
) -> None:
    layout = torch_layout(tmp_path, TORCH_REQUIRES)
    mapping = tmp_path / "providers.toml"
    mapping.write_text('[provided-by]\n"libcufft.so.11" = "nvidia-cufft-cu12"\n')
    links = [str(p) for p in sorted(layout.links.glob("nvidia_cu[db]*.whl"))]
    assert len(links) == 2
    argv = ["audit", str(layout.torch), "--no-host-libs", "--format", "json"]
    argv += ["--providers", str(mapping)] + [a for w in links for a in ("--find-links", w)]
    assert main(argv) == 0
    findings = json.loads(capsys.readouterr().out)["wheels"][0]["findings"]
    codes = {f["library"]: f["provider"] for f in findings if f["code"] == "provided-by-dependency"}
    assert codes == {
        "libcudnn.so.9": "nvidia-cudnn-cu12",
        "libcublas.so.12": "nvidia-cublas-cu12",
        "libcufft.so.11": "nvidia-cufft-cu12",
    }
    # Each RECORD read is cached under the wheel file's identity.
    cached = [json.loads(p.read_text()) for p in (_own_cache / "providers").glob("*.json")]
    assert sorted(c["libraries"][0] for c in cached) == [
        "nvidia/cublas/lib/libcublas.so.12",
        "nvidia/cudnn/lib/libcudnn.so.9",
    ]


@pytest.mark.parametrize(
    "table",
    [
        '[tool.mwheel.provided-by]\n"libcu*" = "nvidia-cublas-cu12"\n',
        # The key spelled through an escape: the text "provided-by" is nowhere in the file.
        '[tool.mwheel]\n"provided\\u002Dby" = {"libcu*" = "nvidia-cublas-cu12"}\n',
    ],
    ids=["plain", "escaped-key"],
)
def test_pyproject_table_in_the_working_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    table: str,
) -> None:
    layout = torch_layout(tmp_path, TORCH_REQUIRES)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[project]\nname = "x"\n{table}')
    monkeypatch.chdir(project)
    assert main(["audit", str(layout.torch), "--no-host-libs", "-q"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["--provided-by", "libfoo.so"], "--provided-by"),
        (["--find-links", "/nonexistent/links"], "/nonexistent/links"),
        (["--providers", "/nonexistent/providers.toml"], "/nonexistent/providers.toml"),
    ],
)
def test_bad_provider_options_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], what: str
) -> None:
    pair = dependency_pair(tmp_path)
    code = main(["audit", str(pair.main), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 10, err
    assert len(err) == 1 and what in err[0] and "Traceback" not in err[0]


def test_provider_names_from_a_real_record() -> None:
    from mwheel.audit.providers import library_names, shipped_from_record

    record = (
        "nvidia/cudnn/lib/libcudnn.so.9,sha256=x,1\n"
        "nvidia/cudnn/include/cudnn.h,sha256=y,2\n"
        "pkg.data/platlib/pkg/libfoo.so.1.2.3,sha256=z,3\n"
        "pkg.data/data/lib/libbar.so,sha256=z,3\n"
        "nvidia_cudnn_cu12-9.1.0.70.dist-info/RECORD,,\n"
    )
    assert shipped_from_record(record) == (
        "nvidia/cudnn/lib/libcudnn.so.9",
        "pkg/libfoo.so.1.2.3",
    )
    assert library_names("libfoo.so.1.2.3") == ["libfoo.so.1.2.3", "libfoo.so.1.2", "libfoo.so.1"]


def test_build_config_accepts_the_provided_by_table(tmp_path: Path) -> None:
    """The table the audit reads must not make `mwheel build` refuse the pyproject."""
    from mwheel.build.config import load_pyproject
    from mwheel.errors import ConfigError

    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n[tool.mwheel.provided-by]\n"libcu*" = "nvidia-x"\n')
    assert load_pyproject(path).tool.provided_by == (("libcu*", "nvidia-x"),)
    path.write_text('[project]\nname = "x"\n[tool.mwheel]\nprovided-by = ["libcu*"]\n')
    with pytest.raises(ConfigError, match="provided-by"):
        load_pyproject(path)


def test_broken_provider_wheel_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = torch_layout(tmp_path, TORCH_REQUIRES)
    broken = layout.links / "nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl"
    broken.write_bytes(b"not a zip")
    assert main(["audit", str(layout.torch), "--find-links", str(layout.links)]) == 10
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].count(broken.name) == 1 and "RECORD" in err[0]


def test_onnxruntime_layout_without_runpath_gets_one(tmp_path: Path) -> None:
    """onnxruntime-gpu declares the nvidia wheels behind extras and sets no RUNPATH: the
    audit says nothing reaches them, and the repair points RUNPATH at each."""
    requires = "Provides-Extra: cuda\n" + "".join(
        f'Requires-Dist: nvidia-{name}-cu12; extra == "cuda"\n'
        for name in ("cudnn", "cublas", "cufft")
    )
    layout = torch_layout(tmp_path, requires, runpath=False)
    opts = AuditOptions(find_links=(layout.links,), host_libs=False)
    report = audit_wheel(layout.torch, opts)
    assert report.compliant, report.findings
    messages = [f.message for f in report.findings if f.code == "provided-by-dependency"]
    assert len(messages) == 3 and all("no RUNPATH entry reaches it" in m for m in messages)
    result = repair_wheel(layout.torch, tmp_path / "out", audit_options=opts)
    assert result.output is not None and result.plan.grafts == ()
    member = "onnxruntime/capi/libonnxruntime_providers_cuda.so"
    with WheelArchive(result.output) as archive:
        binary = read_binary(member, archive.read(member))
    assert binary.elf is not None
    assert set(binary.elf.runpath) == {
        "$ORIGIN/../../nvidia/cudnn/lib",
        "$ORIGIN/../../nvidia/cublas/lib",
        "$ORIGIN/../../nvidia/cufft/lib",
    }
    after = audit_wheel(result.output, opts)
    assert all(
        "reached through RUNPATH" in f.message
        for f in after.findings
        if f.code == "provided-by-dependency"
    )
