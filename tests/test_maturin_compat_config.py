"""``[tool.maturin]`` and ``[tool.mwheel]`` read as maturin reads them, and METADATA 2.4 rules.

No cargo here: configuration tables are parsed from TOML text, and metadata is merged from a
Cargo package record written as ``cargo metadata`` prints it (the end-to-end comparison with
maturin's own wheels is in test_maturin_compat.py).
"""

from __future__ import annotations

import email.parser
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mwheel.build.cargo import Crate
from mwheel.build.config import load_pyproject, merge_tools, parse_tool
from mwheel.build.metadata import project_metadata
from mwheel.errors import ConfigError

# Every key of maturin 1.16's [tool.maturin] (its ToolMaturin struct and user guide), with
# a value of the right type. None of them may be an error.
MATURIN_TABLE = """
[tool.maturin]
module-name = "pkg._native"
include = [{ path = "LICENSE", format = "sdist" }, "extra/*.txt"]
exclude = [{ path = "tests/**", format = ["sdist", "wheel"] }]
bindings = "pyo3"
compatibility = "manylinux2014"
auditwheel = "repair"
skip-auditwheel = false
strip = true
sdist-generator = "git"
python-source = "python"
python-packages = ["helper"]
data = "pkg.data"
targets = [{ name = "pkg", kind = "cdylib" }]
profile = "release"
editable-profile = "dev"
features = ["pyo3/extension-module"]
all-features = false
no-default-features = false
manifest-path = "rust/Cargo.toml"
frozen = false
locked = true
config = ["build.jobs=1"]
unstable-flags = ["build-std"]
rustc-args = ["-C", "target-cpu=x86-64-v2"]
use-base-python = true
sbom = { rust = false, include = ["extra.cdx.json"] }
pgo-command = "python bench.py"
zig = true
sdist-include = ["notes/*.md"]

[tool.maturin.target."x86_64-apple-darwin"]
macos-deployment-target = "10.12"
"""


def _load(tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture) -> Any:
    (tmp_path / "pyproject.toml").write_text(text)
    with caplog.at_level(logging.WARNING, logger="mwheel.build"):
        return load_pyproject(tmp_path / "pyproject.toml")


def test_every_maturin_key_is_read_or_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pyproject = _load(tmp_path, MATURIN_TABLE, caplog)
    tool = pyproject.tool
    assert tool.module_name == "pkg._native" and tool.python_source == "python"
    assert tool.manifest_path == "rust/Cargo.toml" and tool.compatibility == ("manylinux2014",)
    assert tool.strip and tool.locked and tool.editable_profile == "dev"
    assert tool.rustc_args == ("-C", "target-cpu=x86-64-v2") and not tool.sbom_rust
    assert [(r.path, r.format) for r in tool.include] == [
        ("LICENSE", "sdist"),
        ("extra/*.txt", None),
        ("notes/*.md", "sdist"),
    ]
    assert tool.exclude[0].format is None  # both formats
    ignored = {"sdist-generator", "targets", "config", "unstable-flags", "use-base-python"}
    ignored |= {"pgo-command", "zig", "target"}
    for key in ignored:
        lines = [w for w in pyproject.warnings if f"] {key}:" in w]
        assert len(lines) == 1 and "not implemented" in lines[0], key
    assert all("\n" not in w for w in pyproject.warnings)
    assert any("sdist-include is deprecated" in w for w in pyproject.warnings)


def test_warnings_are_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = '[tool.maturin]\nunstable-flags = ["x"]\nsomething-new = 1\n'
    _load(tmp_path, text, caplog)
    _load(tmp_path, text, caplog)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unstable-flags" in m for m in messages) == 1
    assert sum("unknown key 'something-new'" in m for m in messages) == 1


def test_values_mwheel_does_anyway_are_silent() -> None:
    warnings: list[str] = []
    merge_tools({"sdist-generator": "cargo", "unstable-flags": [], "zig": False}, None, warnings)
    assert warnings == []


def test_mwheel_table_wins_key_by_key() -> None:
    warnings: list[str] = []
    tool = merge_tools(
        {"python-source": "python", "features": ["a"], "strip": True},
        {"python-source": "src", "features": ["a"]},
        warnings,
    )
    assert tool.python_source == "src" and tool.features == ("a",) and tool.strip
    assert (
        len(warnings) == 1
        and "python-source" in warnings[0]
        and "[tool.mwheel] wins" in warnings[0]
    )


def test_unknown_keys() -> None:
    warnings: list[str] = []
    merge_tools({"no-such-key": 1}, None, warnings)
    assert warnings == ["[tool.maturin] unknown key 'no-such-key', ignored"]
    # A maturin key is a warning in [tool.mwheel] too; a key neither knows is a typo.
    warnings = []
    parse_tool({"editable-profile": "dev", "rustc-args": [], "config": ["a=1"]}, warnings)
    assert len(warnings) == 1 and "config" in warnings[0]
    with pytest.raises(ConfigError, match="stripp"):
        parse_tool({"stripp": True})


def test_bad_values_name_the_table(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "[tool.maturin]\nstrip = 'yes'\n", caplog)
    assert "[tool.maturin] strip" in info.value.message
    assert str(tmp_path / "pyproject.toml") in info.value.message


def _crate(tmp_path: Path, **package: Any) -> Crate:
    record = {"name": "demo-rs", "version": "1.0.0-alpha.1", **package}
    return Crate(
        name="demo-rs",
        version=record["version"],
        manifest=tmp_path / "Cargo.toml",
        package_id="path+file:///demo#1.0.0",
        lib_name="demo",
        bins=(),
        dependencies=(),
        features={},
        all_dependencies=frozenset(),
        target_dir=tmp_path / "target",
        package=record,
    )


def _headers(data: bytes) -> list[tuple[str, str]]:
    return list(email.parser.BytesParser().parsebytes(data).items())


CARGO = {
    "description": "Cargo's summary",
    "license": "MIT OR Apache-2.0",
    "authors": ["Ann <ann@example.invalid>", "Bob"],
    "homepage": "https://home.invalid",
    "repository": "https://repo.invalid",
    "keywords": ["a", "b"],
    "readme": "README.md",
}


def test_metadata_from_cargo_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "README.md").write_text("# demo\n")
    meta = project_metadata(_crate(tmp_path, **CARGO), _load(tmp_path, "", caplog))
    headers = _headers(meta.render())
    assert headers[:3] == [
        ("Metadata-Version", "2.4"),
        ("Name", "demo-rs"),
        ("Version", "1.0.0a1"),
    ]
    assert ("License", "MIT OR Apache-2.0") in headers  # Cargo's licence is not PEP 639's
    assert ("Author", "Ann <ann@example.invalid>, Bob") in headers
    assert ("Author-email", "Ann <ann@example.invalid>, Bob") in headers
    assert ("Keywords", "a,b") in headers
    assert ("Description-Content-Type", "text/markdown; charset=UTF-8; variant=GFM") in headers
    assert [v for k, v in headers if k == "Project-URL"] == [
        "Homepage, https://home.invalid",
        "Source Code, https://repo.invalid",
    ]
    assert meta.render().endswith(b"# demo\n\n")


def test_metadata_project_static_fields_win(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("LICENSE-MIT", "LICENSE-APACHE", "COPYING", "README.rst"):
        (tmp_path / name).write_text(name)
    text = """
[project]
name = "Demo"
version = "2.0"
license = "MIT OR Apache-2.0"
license-files = ["LICENSE-*"]
readme = { file = "README.rst", content-type = "text/x-rst; charset=latin-1" }
dependencies = ["attrs>=22 ; python_version >= '3.9'"]
optional-dependencies = { fast = ["orjson; sys_platform == 'linux' or sys_platform == 'darwin'"] }

[project.urls]
Changelog = "https://changes.invalid"
"""
    meta = project_metadata(_crate(tmp_path, **CARGO), _load(tmp_path, text, caplog))
    headers = _headers(meta.render())
    keys = {k for k, _ in headers}
    # Nothing from Cargo.toml that dynamic does not name; Home-Page is maturin's exception.
    assert not keys & {"Summary", "Author", "Keywords", "License"}
    assert ("Home-Page", "https://home.invalid") in headers
    assert [v for k, v in headers if k == "Project-URL"] == ["Changelog, https://changes.invalid"]
    assert ("License-Expression", "MIT OR Apache-2.0") in headers
    assert [v for k, v in headers if k == "License-File"] == ["LICENSE-APACHE", "LICENSE-MIT"]
    assert [rel for rel, _ in meta.license_files] == ["LICENSE-APACHE", "LICENSE-MIT"]
    assert ("Description-Content-Type", "text/x-rst; charset=latin-1") in headers
    assert [v for k, v in headers if k == "Requires-Dist"] == [
        "attrs>=22 ; python_full_version >= '3.9'",
        "orjson ; (sys_platform == 'linux' and extra == 'fast') or "
        "(sys_platform == 'darwin' and extra == 'fast')",
    ]


def test_metadata_dynamic_fields_from_cargo(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "README.md").write_text("# demo\n")
    (tmp_path / "LICENSE").write_text("MIT")
    text = '[project]\nname = "demo"\ndynamic = ["version", "description", "license", "readme"]\n'
    meta = project_metadata(_crate(tmp_path, **CARGO), _load(tmp_path, text, caplog))
    headers = _headers(meta.render())
    assert ("Summary", "Cargo's summary") in headers
    assert ("License", "MIT OR Apache-2.0") in headers
    assert ("License-File", "LICENSE") in headers  # PEP 639 default globs
    assert "Project-URL" not in {k for k, _ in headers}  # urls not dynamic: none invented


def test_backend_takes_maturin_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """pip install . builds release wheels tagged linux_<arch> unless the configuration
    names a compatibility; editable installs use editable-profile."""
    from mwheel.build.backend import backend_options

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    plain = backend_options(str(tmp_path / "o"), None)
    assert plain.compatibility == ("linux",) and plain.release
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n\n[tool.maturin]\n'
        'compatibility = "manylinux_2_28"\neditable-profile = "dev"\n'
    )
    wheel = backend_options(str(tmp_path / "o"), None)
    assert wheel.compatibility == ("manylinux_2_28",) and wheel.release
    editable = backend_options(str(tmp_path / "o"), None, editable=True)
    assert editable.profile == "dev" and not editable.release and editable.editable
    given = backend_options(str(tmp_path / "o"), {"build-args": "--release"}, editable=True)
    assert given.release and given.profile is None


DEPENDENCIES = [
    "a; python_version < '3.11'",
    "b; python_version <= '3.11'",
    "c; python_version > '3.9'",
    "d; python_version == '3.9'",
    "e; python_version != '3.9'",
    'f; python_version >= "3.8"',
    "g>=1.0,<2 ; sys_platform == 'win32' or platform_machine == 'x86_64'",
    "h[y,x] (>=1.0)",
    "i; python_full_version >= '3.8.1'",
    "j; implementation_name == 'cpython' and python_version < '3.12'",
    "k @ https://example.invalid/k.whl",
    "m; extra == 'z'",
    "n ; os_name == 'nt' and (python_version < '3.10' or platform_machine == 'arm64')",
]
OPTIONAL = {"o": ["p; python_version < '3.11'", "q; os_name == 'nt' or os_name == 'posix'"]}


@pytest.mark.skipif(shutil.which("maturin") is None, reason="maturin is not installed")
def test_requires_dist_spelled_as_maturin(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Requires-Dist of every dependency form equals what ``maturin pep517 write-dist-info``
    writes (no compiling: maturin only reads the project)."""
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "reqs"\nversion = "0.1.0"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("fn main() {}\n")
    text = (
        '[build-system]\nrequires = ["maturin>=1,<2"]\nbuild-backend = "maturin"\n\n'
        f'[project]\nname = "reqs"\nversion = "0.1.0"\ndependencies = {json.dumps(DEPENDENCIES)}\n'
        f"[project.optional-dependencies]\no = {json.dumps(OPTIONAL['o'])}\n"
        '\n[tool.maturin]\nbindings = "bin"\n'
    )
    pyproject = _load(tmp_path, text, caplog)
    subprocess.run(
        ["maturin", "pep517", "write-dist-info", "--metadata-directory", str(tmp_path / "m")],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    (theirs,) = (tmp_path / "m").glob("*.dist-info/METADATA")
    crate = _crate(tmp_path)
    ours = _headers(project_metadata(crate, pyproject).render())
    expected = _headers(theirs.read_bytes())
    assert [v for k, v in ours if k == "Requires-Dist"] == [
        v for k, v in expected if k == "Requires-Dist"
    ]


# Cargo package of the metadata cases: every field maturin can take from Cargo.toml.
MD_CARGO = """[package]
name = "mdx-crate"
version = "1.0.0-alpha.1"
edition = "2021"
description = \"\"\"A multi
line description\"\"\"
license = "MIT"
authors = ["Ann <ann@example.invalid>", "Bob"]
homepage = "https://home.invalid"
repository = "https://repo.invalid"
documentation = "https://docs.invalid"
keywords = ["k1", "k2"]
readme = "README.md"
"""
MD_CASES = {
    "license-file": 'name = "mdx"\nversion = "1"\nlicense = {file = "LICENSE"}\n',
    "license-files": 'name = "mdx"\nversion = "1"\nlicense = "MIT"\n'
    'license-files = ["LICENSE", "NOTICE"]\n',
    "people": 'name = "mdx"\nversion = "1"\nauthors = [{name = "A"}, '
    '{name = "B", email = "b@x.invalid"}, {email = "c@x.invalid"}]\n'
    'maintainers = [{name = "M"}, {email = "n@x.invalid"}]\n',
    "readme-text": 'name = "mdx"\nversion = "1"\n'
    'readme = {text = "Hello\\nworld", content-type = "text/plain"}\n',
    "static": 'name = "mdx"\nversion = "1"\nclassifiers = ["A :: B", "C :: D"]\n'
    'keywords = ["x", "y"]\nrequires-python = ">=3.8,<4"\ndescription = "  spaced   out  "\n',
    "no-project": None,
    "all-dynamic": 'name = "mdx"\ndynamic = ["version", "description", "authors", "keywords", '
    '"readme", "license", "urls", "maintainers", "classifiers", "requires-python"]\n',
    "entry-points": 'name = "mdx"\nversion = "1"\n[project.scripts]\nx = "m:f"\n'
    '[project.gui-scripts]\ng = "m:g"\n[project.entry-points."grp.x"]\ne = "m:e"\n',
    "urls": 'name = "mdx"\nversion = "1"\n[project.urls]\nHomepage = "https://h.invalid"\n'
    '"Bug Tracker" = "https://b.invalid"\n',
    # maturin's tables come out in key order whatever their order in the file.
    "table-order": 'name = "mdx"\nversion = "1"\ndependencies = ["zeta", "alpha"]\n'
    '[project.optional-dependencies]\nzz = ["six"]\naa = ["attrs"]\n'
    '[project.urls]\nZulu = "https://z.invalid"\nAlpha = "https://a.invalid"\n'
    '[project.scripts]\nzcmd = "x:z"\nacmd = "x:a"\n'
    '[project.entry-points.zgroup]\nzz = "x:z"\n[project.entry-points.agroup]\naa = "x:a"\n',
}


@pytest.mark.skipif(shutil.which("maturin") is None, reason="maturin is not installed")
@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
@pytest.mark.parametrize("case", sorted(MD_CASES))
def test_metadata_as_maturin_writes_it(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """METADATA and entry_points.txt equal maturin's (``maturin pep517 write-dist-info``
    reads the project without compiling) for each way of declaring metadata."""
    from mwheel.build import cargo

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("fn main() {}\n")
    (tmp_path / "Cargo.toml").write_text(MD_CARGO)
    (tmp_path / "README.md").write_text("# readme\n")
    (tmp_path / "LICENSE").write_text("MIT text\n")
    (tmp_path / "NOTICE").write_text("notice\n")
    project = MD_CASES[case]
    text = '[build-system]\nrequires = ["maturin>=1,<2"]\nbuild-backend = "maturin"\n\n'
    text += f"[project]\n{project}\n" if project is not None else ""
    text += '[tool.maturin]\nbindings = "bin"\n'
    pyproject = _load(tmp_path, text, caplog)
    subprocess.run(
        ["maturin", "pep517", "write-dist-info", "--metadata-directory", str(tmp_path / "m")],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    (theirs,) = (tmp_path / "m").glob("*.dist-info")
    crate = cargo.read_crate(tmp_path / "Cargo.toml", cargo.CargoFlags())
    meta = project_metadata(crate, pyproject)
    parser = email.parser.BytesParser()
    ours_msg = parser.parsebytes(meta.render())
    theirs_msg = parser.parsebytes((theirs / "METADATA").read_bytes())
    assert ours_msg.items() == theirs_msg.items()  # in maturin's order too
    assert ours_msg.get_payload() == theirs_msg.get_payload()
    eps = theirs / "entry_points.txt"
    assert (meta.render_entry_points() or b"") == (eps.read_bytes() if eps.is_file() else b"")
