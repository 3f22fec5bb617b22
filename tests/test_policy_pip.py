"""Every tag the Linux policies offer is one pip installs, checked against packaging itself.

packaging (which pip vendors) decides which manylinux/musllinux tags an interpreter accepts:
``packaging._manylinux.platform_tags`` counts glibc versions down to 2.17 (2.5 on x86_64 and
i686) for the architectures it knows, ``packaging._musllinux.platform_tags`` every
``musllinux_1_<minor>`` up to the host's. Here packaging runs with a chosen glibc or musl
version in place of the host's (the only host facts it reads: the libc version, the
``_manylinux`` override module and whether the interpreter is armhf/i686), and every policy
tag must be among those it yields for that libc on that architecture.
"""

from __future__ import annotations

import copy
import glob
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import packaging._manylinux as manylinux
import packaging._musllinux as musllinux
import pytest

from mwheel.errors import PolicyError
from mwheel.policies import LinuxPolicy, linux_policies, parse_policy_file
from mwheel.tags import PlatformTag, names_with_aliases

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "mwheel" / "policies"


def _pip_tags(family: str, version: tuple[int, int], arch: str) -> set[str]:
    """The tags packaging yields for ``arch`` on a system with that glibc/musl version."""
    with pytest.MonkeyPatch.context() as mp:
        if family == "manylinux":
            mp.setattr(manylinux, "_get_glibc_version", lambda: manylinux._GLibCVersion(*version))
            mp.setattr(manylinux, "_get_manylinux_module", lambda: None)
            # Whether the running interpreter is armhf / i686: true on such a system.
            mp.setattr(manylinux, "_is_linux_armhf", lambda _exe: True)
            mp.setattr(manylinux, "_is_linux_i686", lambda _exe: True)
            return set(manylinux.platform_tags([arch]))
        mp.setattr(musllinux, "_get_musl_version", lambda _exe: musllinux._MuslVersion(*version))
        return set(musllinux.platform_tags([arch]))


def _policy_tags() -> Iterator[tuple[LinuxPolicy, str]]:
    for policies in linux_policies().values():
        for policy in policies:
            for arch in sorted(policy.architectures):
                yield policy, arch


def test_every_policy_tag_is_one_packaging_generates() -> None:
    refused = []
    for policy, arch in _policy_tags():
        offered = _pip_tags(policy.family, policy.version, arch)
        for name in names_with_aliases(policy.tag(arch)):
            if name not in offered:
                refused.append(name)
    assert not refused, f"tags pip never installs: {refused}"


def test_first_tag_of_each_architecture_is_the_oldest_pip_installs() -> None:
    """The data starts each architecture at the oldest tag pip accepts (or the libc port's
    first release when later): one version lower is refused by pip or predates the port."""
    ports = {"riscv64": (2, 27), "loongarch64": (2, 36)}
    for family, policies in linux_policies().items():
        for arch in sorted(set().union(*(p.architectures for p in policies))):
            first = next(p for p in policies if arch in p.architectures)
            major, minor = first.version
            if family == "musllinux":
                continue  # musl 1.1 is the oldest PEP 656 tag with a build image
            below = f"manylinux_{major}_{minor - 1}_{arch}"
            pip_refuses = below not in _pip_tags(family, (major, minor + 10), arch)
            assert pip_refuses or ports.get(arch) == (major, minor), below


def test_s390x_is_never_below_manylinux_2_17() -> None:
    """The case that motivated the rule: manylinux_2_5_s390x is not a tag pip installs."""
    assert "manylinux_2_5_s390x" not in _pip_tags("manylinux", (2, 41), "s390x")
    assert "manylinux_2_17_s390x" in _pip_tags("manylinux", (2, 41), "s390x")
    names = {policy.tag(arch).name for policy, arch in _policy_tags()}
    assert "manylinux_2_5_s390x" not in names and "manylinux_2_16_armv7l" not in names
    assert {"manylinux_2_17_ppc64", "manylinux_2_36_loongarch64"} <= names
    assert "musllinux_1_2_loongarch64" in names and "musllinux_1_1_loongarch64" not in names


def _doc(family: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((POLICIES / f"{family}.json").read_text())
    return data


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (
            lambda d: d["policies"][0]["architectures"].append("s390x"),
            "installers never pick manylinux_2_5_s390x: manylinux tags for s390x start at 2.17",
        ),
        (
            lambda d: d["policies"][-1]["architectures"].append("sparc64"),
            "no manylinux tag exists for sparc64",
        ),
        (lambda d: d.pop("installable"), "installable"),
        (lambda d: d["installable"].update(extra=1), "unknown keys"),
        (lambda d: d["policies"][-1].update(dt_relr=None), "drops DT_RELR"),
        (lambda d: d["policies"][-1].update(dt_relr="2.99"), "dt_relr must be null"),
    ],
)
def test_loader_refuses_tags_pip_never_installs(edit: Any, error: str) -> None:
    doc = copy.deepcopy(_doc("manylinux"))
    edit(doc)
    with pytest.raises(PolicyError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_policy_file(doc, "manylinux.json")


def test_tags_parse_back_for_new_architectures() -> None:
    for text in ("manylinux_2_17_ppc64", "manylinux2014_ppc64", "musllinux_1_2_loongarch64"):
        tag = PlatformTag.parse(text)
        assert tag.arch in ("ppc64", "loongarch64")
    assert PlatformTag.parse("manylinux2014_ppc64").legacy_name == "manylinux2014_ppc64"


_REF = Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools"))


@pytest.mark.skipif(
    not glob.glob(str(_REF / "lib/python3*/site-packages/auditwheel/policy")),
    reason=f"no reference auditwheel in {_REF}",
)
def test_symbol_versions_equal_auditwheels_on_its_policies() -> None:
    """Every policy auditwheel 6.8.2 defines has, per architecture, the same symbol versions,
    libraries and blacklist here (the docstring of tools/make_policies.py promises it)."""
    path = glob.glob(str(_REF / "lib/python3*/site-packages/auditwheel/policy"))[0]
    theirs = json.loads(Path(path, "manylinux-policy.json").read_text())
    ours = {p["name"]: p for p in _doc("manylinux")["policies"]}
    diffs = []
    for policy in theirs:
        if policy["name"] == "linux":
            continue
        mine = ours[policy["name"]]
        for arch, spaces in policy["symbol_versions"].items():
            for space, versions in spaces.items():
                have = set(mine["symbol_versions"].get(arch, {}).get(space, []))
                if have != set(versions):
                    diffs.append((policy["name"], arch, space))
        if set(policy["lib_whitelist"]) - set(mine["libraries"]):
            diffs.append((policy["name"], "libraries", ""))
        if {k: set(v) for k, v in policy["blacklist"].items()} != {
            k: set(v) for k, v in mine["blacklist"].items()
        }:
            diffs.append((policy["name"], "blacklist", ""))
    assert not diffs


def test_musl_exports_regenerate_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_musl_exports", ROOT / "tools" / "make_musl_exports.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not all((module.GLIBC_DIR / lib).exists() for lib in module.GLIBC_LIBS):
        pytest.skip("no x86_64 glibc on this host")
    monkeypatch.setattr(module, "OUT", tmp_path / "musl_exports.json")
    module.main()
    assert (tmp_path / "musl_exports.json").read_bytes() == (
        POLICIES / "musl_exports.json"
    ).read_bytes()
