"""A CycloneDX SBOM of the grafted libraries, stored in ``.dist-info/sboms/`` (PEP 770)."""

from __future__ import annotations

import json

from mwheel import __version__
from mwheel.repair.model import RepairPlan


def sbom_document(plan: RepairPlan, dist_name: str, version: str) -> bytes:
    components = []
    for graft in plan.grafts:
        component: dict[str, object] = {
            "type": "library",
            "bom-ref": graft.member,
            "name": graft.name,
            "hashes": [{"alg": "SHA-256", "content": graft.sha256}],
            "properties": [
                {"name": "mwheel:source-path", "value": graft.source},
                {"name": "mwheel:wheel-path", "value": graft.member},
            ],
        }
        if graft.version:
            component["version"] = graft.version
        components.append(component)
    doc = cyclonedx({"type": "library", "name": dist_name, "version": version}, components)
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def cyclonedx(
    subject: dict[str, object], components: list[dict[str, object]], **more: object
) -> dict[str, object]:
    """The CycloneDX 1.5 document mwheel writes: ``subject`` made of ``components``.

    One shape for both SBOMs (grafted libraries here, Rust crates in
    ``mwheel.build.cargo_sbom``), so tools reading one read the other.
    """
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{"type": "application", "name": "mwheel", "version": __version__}]
            },
            "component": subject,
        },
        "components": components,
        **more,
    }
