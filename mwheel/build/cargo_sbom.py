"""A CycloneDX SBOM of the Rust crates compiled into a wheel (PEP 770), as maturin ships one.

Stored as ``.dist-info/sboms/<crate>.cyclonedx.json`` (maturin's name), beside the SBOM of
grafted libraries that ``repair`` adds (``mwheel.repair.sbom``). Everything comes from the
``cargo metadata`` document the build already read: the packages reachable from the built
crate through normal and build dependencies (dev-dependencies never reach the binary), their
licences and sources, the dependency graph, and the SHA-256 checksums Cargo.lock records for
registry crates. No timestamp or random serial number is written, and references are purls
(``pkg:cargo/name@version``) rather than cargo's package ids, which hold the absolute path of
local crates: the same inputs give the same bytes wherever they are built (a wheel built
from the unpacked sdist equals the tree's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomllib

from mwheel.build.cargo import Crate
from mwheel.repair.sbom import cyclonedx


def _checksums(workspace_root: Path) -> dict[tuple[str, str], str]:
    """(name, version) -> sha256 from Cargo.lock; empty when there is none or it is unreadable."""
    try:
        lock = tomllib.loads((workspace_root / "Cargo.lock").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {
        (p["name"], p["version"]): p["checksum"]
        for p in lock.get("package", [])
        if isinstance(p, dict) and "checksum" in p and "name" in p and "version" in p
    }


def _reachable(root_id: str, nodes: dict[str, Any]) -> dict[str, list[str]]:
    """package id -> the ids it depends on (normal and build edges), from the root."""
    graph: dict[str, list[str]] = {}
    todo = [root_id]
    while todo:
        pid = todo.pop()
        if pid in graph:
            continue
        deps = []
        for dep in nodes.get(pid, {}).get("deps", []):
            kinds = [k.get("kind") for k in dep.get("dep_kinds", [{}])]
            if any(k != "dev" for k in kinds):
                deps.append(dep["pkg"])
        graph[pid] = sorted(set(deps))
        todo.extend(graph[pid])
    return graph


def _purl(pkg: dict[str, Any]) -> str:
    return f"pkg:cargo/{pkg['name']}@{pkg['version']}"


def _component(pkg: dict[str, Any], kind: str, checksum: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": kind,
        "bom-ref": _purl(pkg),
        "name": pkg["name"],
        "version": pkg["version"],
        "scope": "required",
        "purl": _purl(pkg),
    }
    if pkg.get("description"):
        out["description"] = " ".join(str(pkg["description"]).split())
    if pkg.get("license"):
        out["licenses"] = [{"expression": pkg["license"]}]
    if checksum:
        out["hashes"] = [{"alg": "SHA-256", "content": checksum}]
    refs = [
        {"type": t, "url": pkg[k]}
        for k, t in (
            ("homepage", "website"),
            ("repository", "vcs"),
            ("documentation", "documentation"),
        )
        if pkg.get(k)
    ]
    if refs:
        out["externalReferences"] = refs
    return out


def sbom_file_name(crate: Crate) -> str:
    return f"{crate.name}.cyclonedx.json"


def rust_sbom(crate: Crate, kind: str = "library") -> bytes:
    """The CycloneDX 1.5 document for ``crate`` (``kind`` is application for bin wheels)."""
    data = crate.metadata
    packages = {p["id"]: p for p in data.get("packages", [])}
    nodes = {n["id"]: n for n in (data.get("resolve") or {}).get("nodes", [])}
    graph = _reachable(crate.package_id, nodes)
    sums = _checksums(Path(data.get("workspace_root", crate.root)))
    components = [
        _component(
            packages[pid], "library", sums.get((packages[pid]["name"], packages[pid]["version"]))
        )
        for pid in sorted(graph, key=lambda i: (packages[i]["name"], packages[i]["version"]))
        if pid != crate.package_id and pid in packages
    ]

    def ref(pid: str) -> str:
        return _purl(packages[pid]) if pid in packages else pid

    doc = cyclonedx(
        _component(crate.package, kind, None),
        components,
        dependencies=sorted(
            (
                {"ref": ref(pid), "dependsOn": sorted(ref(d) for d in deps)}
                if deps
                else {"ref": ref(pid)}
                for pid, deps in graph.items()
            ),
            key=lambda d: str(d["ref"]),
        ),
    )
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
