"""GitHub Actions YAML for a ``WorkflowPlan``: build, test and release jobs.

Safety rules the output follows, each checked by actionlint and zizmor (``--persona
auditor``) in the tests:

* every action is pinned to a full commit SHA (``actions.json``) with its version as a
  comment, and ``actions/checkout`` never persists the token in ``.git/config``;
* the workflow grants nothing by default (``permissions: {}``); each job asks for what it
  needs, with a comment saying why; only the release job can mint an OIDC token, and only
  on a tag push;
* no ``${{ }}`` expression is expanded inside a shell script: matrix values and step
  outputs reach scripts through ``env:``;
* no cache anywhere (a cache written by a pull request could poison a release build), and
  tests run in their own jobs, after the artifacts are uploaded, so third-party test
  dependencies never share a job with the release artifacts;
* the release publishes with PyPI trusted publishing (no token secret), after attesting
  the provenance of every file it publishes, and needs every build and test job.

Linux wheels are cross-built on x86_64 runners with ``--zig``: zig links against the
requested glibc (manylinux2014 = glibc 2.17) or musl whatever the runner has, so the tag is
honest without a manylinux container image (which would need a digest pin and, for the
foreign architectures, a whole build under QEMU).
"""

from __future__ import annotations

import json

from mwheel.build.ci.data import Platform, Target, load_actions
from mwheel.build.ci.plan import WorkflowPlan, python_versions_for


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def _uses(repo: str, indent: str, name: str | None = None) -> list[str]:
    pin = load_actions()[repo]
    head = f"{indent}- name: {name}\n{indent}  uses: " if name else f"{indent}- uses: "
    return (head + pin.uses).split("\n")


def _checkout() -> list[str]:
    return [
        *_uses("actions/checkout", "      "),
        "        with:",
        "          persist-credentials: false",
    ]


def _run(name: str, script: list[str], env: dict[str, str] | None = None) -> list[str]:
    lines = [f"      - name: {name}"]
    if env:
        lines.append("        env:")
        for key, value in env.items():
            if "\n" in value:  # a literal block: the script a container runs
                lines.append(f"          {key}: |")
                lines += [f"            {v}" for v in value.split("\n")]
            else:
                lines.append(f"          {key}: {value}")
    if len(script) == 1:
        lines.append(f"        run: {script[0]}")
    else:
        lines.append("        run: |")
        lines += [f"          {s}" if s else "" for s in script]
    return lines


def _matrix(entries: list[dict[str, str]]) -> list[str]:
    lines = ["    strategy:", "      fail-fast: false", "      matrix:", "        include:"]
    for entry in entries:
        first = True
        for key, value in entry.items():
            lines.append(f"          {'- ' if first else '  '}{key}: {_q(value)}")
            first = False
    return lines


def _read_permissions() -> list[str]:
    return ["    permissions:", "      contents: read  # check out the repository"]


def _install_mwheel(plan: WorkflowPlan, zig: bool) -> list[str]:
    """This very mwheel version (and its zig extra where a job links with zig), from PyPI
    or from the wheel committed in the repository (``plan.mwheel_find_links``)."""
    spec = f"mwheel{'[zig]' if zig else ''}=={plan.mwheel_version}"
    links = f"--find-links {plan.mwheel_find_links} " if plan.mwheel_find_links else ""
    return _run("Install mwheel", [f'python -m pip install {links}"{spec}"'])


def build_command(plan: WorkflowPlan, platform: Platform) -> str:
    """The ``mwheel build`` line of a platform's job; ``$TRIPLE`` is the matrix's triple."""
    words = ["mwheel", "build", "--release", "--out", "dist"]
    if plan.project.manifest:
        words += ["-m", plan.project.manifest]
    words += ["--target", '"$TRIPLE"']
    if platform.compatibility:
        words += ["--zig", "--compatibility", platform.compatibility]
    if platform.name == "emscripten":
        words += ["-i", '"python$PYTHON_VERSION"']
    else:
        words.append("--find-interpreter")
    return " ".join(words)


def _build_entry(plan: WorkflowPlan, target: Target) -> dict[str, str]:
    entry = {"target": target.name, "triple": target.triple, "runner": target.runner}
    entry["python"] = "\n".join(python_versions_for(plan.project, target))
    if target.python_arch:
        entry["python-arch"] = target.python_arch
    if target.deployment_target:
        entry["deployment-target"] = target.deployment_target
    return entry


def _build_job(plan: WorkflowPlan, platform: Platform) -> list[str]:
    if platform.name == "emscripten":
        return _emscripten_job(plan, platform)
    linux = platform.compatibility is not None
    lines = [
        "",
        f"  {platform.name}:",
        f"    name: Build {platform.title} (${{{{ matrix.target }}}})",
        "    runs-on: ${{ matrix.runner }}",
        *_read_permissions(),
        *_matrix([_build_entry(plan, t) for t in platform.targets]),
        "    steps:",
        *_checkout(),
        *_uses("actions/setup-python", "      "),
        "        with:",
        "          python-version: ${{ matrix.python }}",
    ]
    if platform.name == "windows":
        lines.append("          architecture: ${{ matrix.python-arch }}")
    env = {"TRIPLE": "${{ matrix.triple }}"}
    lines += _install_mwheel(plan, linux)
    lines += _run("Install the Rust target", ['rustup target add "$TRIPLE"'], env)
    if platform.name == "macos":
        # The oldest macOS the wheel supports: what rustc links for, and the wheel's tag.
        env["MACOSX_DEPLOYMENT_TARGET"] = "${{ matrix.deployment-target }}"
    lines += _run("Build wheels", [build_command(plan, platform)], env)
    lines += _upload(_artifact(platform))
    return lines


def _artifact(platform: Platform) -> str:
    """The artifact of one matrix job; only published platforms' match the release's
    ``wheels-*`` pattern."""
    prefix = "wheels" if platform.publish else "unpublished"
    return f"{prefix}-{platform.name}-${{{{ matrix.target }}}}"


def _upload(name: str) -> list[str]:
    return [
        *_uses("actions/upload-artifact", "      ", "Upload"),
        "        with:",
        f"          name: {name}",
        "          path: dist",
        "          if-no-files-found: error",
    ]


def _emscripten_job(plan: WorkflowPlan, platform: Platform) -> list[str]:
    """Pyodide's toolchain versions come from pyodide-build, as Pyodide documents."""
    outputs = "${{ steps.pyodide.outputs.%s }}"
    env = {
        "TRIPLE": "${{ matrix.triple }}",
        "EMSCRIPTEN_VERSION": outputs % "emscripten",
        "PYTHON_VERSION": outputs % "python",
        "RUST_TOOLCHAIN": outputs % "rust",
    }
    lines = [
        "",
        f"  {platform.name}:",
        f"    name: Build {platform.title}",
        "    runs-on: ${{ matrix.runner }}",
        *_read_permissions(),
        *_matrix([_build_entry(plan, t) for t in platform.targets]),
        "    steps:",
        *_checkout(),
        *_uses("actions/setup-python", "      "),
        "        with:",
        f"          python-version: {_q(plan.project.test_python)}",
        "      - name: Read Pyodide's toolchain versions",
        "        id: pyodide",
        "        run: |",
        "          python -m pip install pyodide-build",
        "          {",
        '            echo "emscripten=$(pyodide config get emscripten_version)"',
        '            echo "python=$(pyodide config get python_version | cut -d . -f 1-2)"',
        '            echo "rust=$(pyodide config get rust_toolchain)"',
        '          } >> "$GITHUB_OUTPUT"',
        *_uses("actions/setup-python", "      "),
        "        with:",
        f"          python-version: {outputs % 'python'}",
    ]
    lines += _install_mwheel(plan, False)
    lines += _run(
        "Install Emscripten and the Rust toolchain",
        [
            # emsdk's tags are Emscripten versions: the clone is pinned to what Pyodide uses.
            'git clone --depth 1 --branch "$EMSCRIPTEN_VERSION" '
            'https://github.com/emscripten-core/emsdk.git "$RUNNER_TEMP/emsdk"',
            '"$RUNNER_TEMP/emsdk/emsdk" install "$EMSCRIPTEN_VERSION"',
            '"$RUNNER_TEMP/emsdk/emsdk" activate "$EMSCRIPTEN_VERSION"',
            'rustup toolchain install "$RUST_TOOLCHAIN" --target "$TRIPLE"',
        ],
        env,
    )
    build = build_command(plan, platform)
    lines += _run(
        "Build wheels",
        ['source "$RUNNER_TEMP/emsdk/emsdk_env.sh"', f'RUSTUP_TOOLCHAIN="$RUST_TOOLCHAIN" {build}'],
        env,
    )
    lines += _upload(_artifact(platform))
    return lines


def _install_and_test(python: str) -> list[str]:
    return [
        f'{python} -m pip install --no-index --no-deps --find-links dist "$PACKAGE"',
        f'{python} -m pip install "$PACKAGE" pytest',
        f"{python} -m pytest",
    ]


def _test_job(plan: WorkflowPlan, platform: Platform) -> list[str]:
    """Install each built wheel on its own architecture and run the project's tests."""
    targets = [t for t in platform.targets if t.test != "none"]
    python = plan.project.test_python
    entries = []
    for t in targets:
        entry = {"target": t.name, "runner": t.runner}
        if t.docker_platform and t.image:
            entry["platform"] = t.docker_platform
            entry["image"] = t.image.format(python=python)
            entry["emulate"] = "true" if t.test == "qemu" else "false"
        if t.python_arch:
            entry["python-arch"] = t.python_arch
        entries.append(entry)
    lines = [
        "",
        f"  test-{platform.name}:",
        f"    name: Test {platform.title} (${{{{ matrix.target }}}})",
        f"    needs: [{platform.name}]",
        "    runs-on: ${{ matrix.runner }}",
        "    permissions:",
        "      contents: read  # check out the project's tests",
        *_matrix(entries),
        "    steps:",
        *_checkout(),
        *_uses("actions/download-artifact", "      "),
        "        with:",
        f"          name: {_artifact(platform)}",
        "          path: dist",
    ]
    env = {"PACKAGE": _q(plan.project.name)}
    if platform.compatibility is None:  # macOS, Windows: the runner's own CPython
        lines += [*_uses("actions/setup-python", "      "), "        with:"]
        lines.append(f"          python-version: {_q(python)}")
        if platform.name == "windows":
            lines.append("          architecture: ${{ matrix.python-arch }}")
        return lines + _run("pytest", _install_and_test("python"), env)
    lines += [
        "      - name: Emulate the target architecture (QEMU user mode, Ubuntu's package)",
        "        if: ${{ matrix.emulate == 'true' }}",
        "        run: |",
        "          sudo apt-get update",
        "          sudo apt-get install -y --no-install-recommends qemu-user-static",
    ]
    inner = [
        'venv="${TMPDIR:-/tmp}/test-venv"',
        'python -m venv "$venv"',
        '. "$venv/bin/activate"',
        *_install_and_test("python"),
    ]
    env |= {
        "PLATFORM": "${{ matrix.platform }}",
        "IMAGE": "${{ matrix.image }}",
        # Expanded by the runner's shell as one word, run by the container's sh.
        "SCRIPT": "\n".join(inner),
    }
    docker = 'docker run --rm --platform "$PLATFORM" -e PACKAGE -v "$PWD:/io" -w /io'
    return lines + _run("pytest", [f'{docker} "$IMAGE" sh -euc "$SCRIPT"'], env)


def _sdist_job(plan: WorkflowPlan) -> list[str]:
    words = ["mwheel", "sdist", "--out", "dist"]
    if plan.project.manifest:
        words += ["-m", plan.project.manifest]
    return [
        "",
        "  sdist:",
        "    name: Build sdist",
        "    runs-on: ubuntu-24.04",
        *_read_permissions(),
        "    steps:",
        *_checkout(),
        *_uses("actions/setup-python", "      "),
        "        with:",
        f"          python-version: {_q(plan.project.test_python)}",
        *_install_mwheel(plan, False),
        *_run("Build sdist", [" ".join(words)]),
        *_upload("wheels-sdist"),
    ]


def _release_job(plan: WorkflowPlan, needs: list[str]) -> list[str]:
    return [
        "",
        "  release:",
        "    name: Release to PyPI",
        "    runs-on: ubuntu-24.04",
        "    if: ${{ github.event_name == 'push' && startsWith(github.ref, 'refs/tags/') }}",
        f"    needs: [{', '.join(needs)}]",
        "    environment:",
        "      name: pypi",
        f"      url: https://pypi.org/project/{plan.project.name}/",
        "    permissions:",
        "      id-token: write  # OIDC token: PyPI trusted publishing, signing the attestations",
        "      attestations: write  # store the build-provenance attestations",
        "    steps:",
        *_uses("actions/download-artifact", "      "),
        "        with:",
        "          pattern: wheels-*",
        "          merge-multiple: true",
        "          path: dist",
        *_uses("actions/attest-build-provenance", "      ", "Attest build provenance"),
        "        with:",
        "          subject-path: dist/*",
        *_uses("pypa/gh-action-pypi-publish", "      ", "Publish to PyPI"),
    ]


def render(plan: WorkflowPlan, command: str) -> str:
    lines = [
        f"# Generated by mwheel {plan.mwheel_version}:",
        f"#   {command}",
        "name: Release",
        "",
        "on:",
        "  push:",
        "    branches: [main, master]",
        "    tags: ['*']",
        "  pull_request:",
        "  workflow_dispatch:",
        "",
        "permissions: {}  # each job asks for what it needs",
        "",
        "concurrency:",
        "  group: ${{ github.workflow }}-${{ github.ref }}",
        "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}",
        "",
        "defaults:",
        "  run:",
        "    shell: bash",
        "",
        "jobs:",
    ]
    needs = []
    for platform in plan.builds:
        lines += _build_job(plan, platform)
        if platform.publish:
            needs.append(platform.name)
    lines += _sdist_job(plan)
    needs.append("sdist")
    if plan.pytest:
        for platform in plan.builds:
            if platform.publish and any(t.test != "none" for t in platform.targets):
                lines += _test_job(plan, platform)
                needs.append(f"test-{platform.name}")
    lines += _release_job(plan, needs)
    return "\n".join(lines) + "\n"
