"""mwheel: audit, repair and build Python binary wheels for Linux, macOS and Windows.

The Python API is the product; the CLI is a thin layer over it::

    from mwheel.audit import audit_wheel
    report = audit_wheel(Path("dist/pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"))
"""

__version__ = "0.1.0"
