"""Findings: one problem, with a stable code and the why (member, symbol, version, library)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]

# Stable finding codes. A code's meaning never changes; new problems get new codes.
CODES = {
    "symbol-version-too-new": "a symbol needs a library version newer than the tag allows",
    "library-not-allowed": "a library is neither bundled nor allowed by the tag's policy",
    "library-not-found": "a needed library is neither in the wheel nor found anywhere",
    "library-not-on-search-path": "a bundled library is off its loader's path (RUNPATH, DLL dirs)",
    "blacklisted-symbol": "a symbol of an allowed library that the policy forbids",
    "symbol-too-new": "a symbol the tag's libc lacks (added by a newer musl; no symbol versions)",
    "isa-level-too-high": "the binary needs a newer x86-64 micro-architecture level",
    "architecture-mismatch": "a binary's architecture does not match the tag",
    "libc-mismatch": "a binary is built for the other C library (glibc vs musl)",
    "libpython-linked": "an extension links libpython, which manylinux forbids",
    "binary-in-purelib": "a Root-Is-Purelib wheel contains binaries",
    "binary-in-pure-wheel": "a pure (any) wheel ships binaries that Python does not import",
    "extension-in-pure-wheel": "a pure (any) wheel ships an extension module of one platform",
    "no-binary": "a platform-tagged wheel contains no binary",
    "member-not-in-record": "a member RECORD does not list (installed unverified)",
    "wheel-tag-mismatch": "WHEEL's Tag lines disagree with the file name (pip uses the name)",
    "unknown-platform-tag": "a claimed platform tag that no policy defines",
    "wrong-platform": "a binary format that cannot run on the tag's operating system",
    "macos-version-too-high": "a slice needs a newer macOS than the tag says",
    "macos-architecture-missing": "a binary lacks a slice for an architecture of the tag",
    "macos-unsigned": "an arm64 binary carries no code signature",
    "macos-library-external": "a dylib outside the wheel and outside the system prefixes",
    "windows-dll-external": "a DLL is neither bundled nor a system DLL",
    "windows-runtime-assumed": "a DLL of the VC++ runtime, assumed present",
    "abi3-symbol-not-limited": "an abi3 extension uses a symbol outside the limited API",
    "abi3-version-too-low": "an abi3 extension uses a symbol newer than its abi3 tag",
    "abi3-not-python3-dll": "an abi3 extension imports python3X.dll instead of python3.dll",
    "abi3t-symbol-excluded": "an abi3t extension uses a symbol the free-threaded stable ABI omits",
    "abi3-minimum": "the lowest abi3 tag the wheel's extensions could honestly carry",
    "best-tag-constraint": "what keeps the wheel from the next more compatible tag",
    "arm-float-abi": "an ARM binary is not hard-float EABI5, which armv7l tags stand for",
    "dt-relr-unsupported": "a binary uses DT_RELR, which the tag's loader does not apply",
    "dt-relr-needs-newer-libc": "DT_RELR, applied only by later releases of the tag's libc",
    "symbol-not-in-libc": "a musl binary imports a glibc-only function no musl exports",
    "provided-by-dependency": "a needed library that a declared dependency (Requires-Dist) ships",
    "android-api-too-new": "a binary needs a newer Android API level than the tag says",
    "android-private-api": "a binary imports a bionic version node apps may not use",
    "ios-version-too-high": "a slice needs a newer iOS than the tag says",
    "ios-platform-mismatch": "a Mach-O slice is built for another platform than the tag's SDK",
    "ios-library-external": "an iOS binary loads a library neither bundled nor a system one",
    "ios-framework-layout": "an iOS extension module outside PEP 730's framework layout",
    "tag-not-honoured": "a claimed tag is not honoured and no rule gave a more specific reason",
}


@dataclass(frozen=True)
class Finding:
    code: str
    member: str | None
    message: str
    severity: Severity = "error"
    tag: str | None = None  # the platform tag this finding is about
    details: tuple[tuple[str, str], ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "file": self.member,
            "message": self.message,
        }
        if self.tag:
            out["tag"] = self.tag
        out.update(dict(self.details))
        return out
