"""The Android (PEP 738) and iOS (PEP 730) policies: ``android.json``, ``ios.json``.

Loaded once and validated like the Linux policies: unknown keys are refused, every API
level is an integer, every ABI names an ELF machine. Beside ``__init__.py`` (which loads
the manylinux/musllinux data) so that neither module grows past its purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from mwheel.errors import PolicyError
from mwheel.policies import load_data

_ANDROID_KEYS = {
    "_source",
    "oldest_api",
    "runpath_api",
    "newest_api",
    "abis",
    "libraries",
    "symbol_versions",
    "private_versions",
    "versioned_libraries",
}
_IOS_KEYS = {
    "_source",
    "oldest",
    "system_prefixes",
    "platforms",
    "archs",
    "floors",
    "framework_dir",
}


@dataclass(frozen=True)
class AndroidAbi:
    name: str  # arm64_v8a
    machine: str  # EM_AARCH64
    arch: str  # aarch64: the Linux spelling, for the library search


@dataclass(frozen=True)
class AndroidPolicy:
    oldest_api: int
    runpath_api: int  # a repair's grafts are found through RUNPATH from this level on
    newest_api: int
    abis: MappingProxyType[str, AndroidAbi]
    libraries: MappingProxyType[str, int]  # system library -> first API level with it
    symbol_versions: MappingProxyType[str, int]  # bionic version node -> API level
    private_versions: frozenset[str]
    versioned_libraries: frozenset[str]

    def abi_of_machine(self, machine: str) -> AndroidAbi | None:
        return next((a for a in self.abis.values() if a.machine == machine), None)


def _int_map(raw: Any, where: str) -> MappingProxyType[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in raw.items()
    ):
        raise PolicyError(f"{where}: expected names mapped to positive integers")
    return MappingProxyType(dict(raw))


@cache
def android_policy() -> AndroidPolicy:
    raw = load_data("android.json")
    where = "mwheel/policies/android.json"
    if not isinstance(raw, dict) or set(raw) != _ANDROID_KEYS:
        raise PolicyError(f"{where}: expected exactly the keys {sorted(_ANDROID_KEYS)}")
    abis = {}
    for name, abi in raw["abis"].items():
        if not isinstance(abi, dict) or set(abi) != {"machine", "arch"}:
            raise PolicyError(f"{where}: abis.{name} needs machine and arch")
        abis[name] = AndroidAbi(name, str(abi["machine"]), str(abi["arch"]))
    oldest, newest = raw["oldest_api"], raw["newest_api"]
    if not (isinstance(oldest, int) and isinstance(newest, int) and 0 < oldest <= newest):
        raise PolicyError(f"{where}: oldest_api and newest_api must be ordered API levels")
    if not isinstance(raw["runpath_api"], int):
        raise PolicyError(f"{where}: runpath_api must be an API level")
    return AndroidPolicy(
        oldest,
        raw["runpath_api"],
        newest,
        MappingProxyType(abis),
        _int_map(raw["libraries"], f"{where}: libraries"),
        _int_map(raw["symbol_versions"], f"{where}: symbol_versions"),
        frozenset(raw["private_versions"]),
        frozenset(raw["versioned_libraries"]),
    )


@dataclass(frozen=True)
class IOSPolicy:
    oldest: tuple[int, int]
    system_prefixes: tuple[str, ...]
    platforms: MappingProxyType[str, str]  # SDK of the tag -> LC_BUILD_VERSION platform
    archs: MappingProxyType[str, frozenset[str]]  # SDK -> its architectures
    floors: MappingProxyType[str, tuple[int, int]]  # "<arch>_<sdk>" -> first iOS of it
    framework_dir: str

    def floor(self, arch_sdk: str) -> tuple[int, int]:
        return self.floors.get(arch_sdk, self.oldest)


def _version(text: object, where: str) -> tuple[int, int]:
    major, _, minor = str(text).partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise PolicyError(f"{where}: {text!r} is not MAJOR.MINOR")
    return int(major), int(minor)


@cache
def ios_policy() -> IOSPolicy:
    raw = load_data("ios.json")
    where = "mwheel/policies/ios.json"
    if not isinstance(raw, dict) or set(raw) != _IOS_KEYS:
        raise PolicyError(f"{where}: expected exactly the keys {sorted(_IOS_KEYS)}")
    platforms = {str(k): str(v) for k, v in raw["platforms"].items()}
    if set(raw["archs"]) != set(platforms):
        raise PolicyError(f"{where}: archs must name the architectures of every SDK")
    return IOSPolicy(
        _version(raw["oldest"], where),
        tuple(str(p) for p in raw["system_prefixes"]),
        MappingProxyType(platforms),
        MappingProxyType({k: frozenset(map(str, v)) for k, v in raw["archs"].items()}),
        MappingProxyType({k: _version(v, where) for k, v in raw["floors"].items()}),
        str(raw["framework_dir"]),
    )
