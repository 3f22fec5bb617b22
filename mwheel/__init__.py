"""mwheel: audit, repair and build Python binary wheels for Linux, macOS and Windows.

The Python API is the product; the CLI is a thin layer over it::

    from mwheel.audit import audit_wheel
    report = audit_wheel(Path("dist/pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"))
"""

__version__ = "0.1.0"

# PEP 517/660 hooks, so a crate's pyproject.toml can say ``build-backend = "mwheel"``.
# Imported lazily (PEP 562) so ``import mwheel`` stays cheap for auditing.
_BACKEND_HOOKS = (
    "build_wheel",
    "build_sdist",
    "build_editable",
    "prepare_metadata_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "get_requires_for_build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_editable",
)


def __getattr__(name: str) -> object:
    if name in _BACKEND_HOOKS:
        from mwheel.build import backend

        return getattr(backend, name)
    raise AttributeError(f"module 'mwheel' has no attribute {name!r}")
