"""``--index-url``: what a dependency ships, read from its wheel's RECORD on an index (PEP 691)
with range requests, against a local HTTP server serving real fixture wheels."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fixturelib.providers import torch_layout
from test_providers import NVIDIA, TORCH_REQUIRES

from mwheel.audit import audit_wheel
from mwheel.audit.context import AuditOptions


class _Index(BaseHTTPRequestHandler):
    """A PEP 691 JSON index over a directory of wheels, answering range requests."""

    links: Path
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.requests.append(f"{self.path} {self.headers.get('Range', '')}".strip())
        if self.path.startswith("/simple/"):
            name = self.path.split("/")[2]
            files = [
                {
                    "filename": w.name,
                    "url": f"/files/{w.name}",
                    "hashes": {"sha256": hashlib.sha256(w.read_bytes()).hexdigest()},
                }
                for w in sorted(self.links.glob("*.whl"))
                if w.name.split("-")[0].replace("_", "-") == name
            ]
            body = json.dumps({"meta": {"api-version": "1.0"}, "name": name, "files": files})
            self._send(200, body.encode(), "application/vnd.pypi.simple.v1+json")
            return
        data = (self.links / self.path.removeprefix("/files/")).read_bytes()
        spec = self.headers.get("Range", "").removeprefix("bytes=")
        if not spec:
            self._send(200, data, "application/octet-stream")
            return
        first, _, last = spec.partition("-")
        if not first:
            start, end = max(0, len(data) - int(last)), len(data) - 1
        else:
            start, end = int(first), min(int(last or len(data) - 1), len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start : end + 1])

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    links = tmp_path / "layout"
    requests: list[str] = []
    handler = type("Index", (_Index,), {"links": links / "links", "requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", links, requests
    finally:
        server.shutdown()
        server.server_close()


def test_index_url_reads_only_the_record(
    index: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, where, requests = index
    monkeypatch.setenv("MWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    layout = torch_layout(where, TORCH_REQUIRES)
    opts = AuditOptions(index_url=url, host_libs=False)
    report = audit_wheel(layout.torch, opts)
    assert report.compliant, report.findings
    provided = {
        dict(f.details)["library"]: dict(f.details)["provider_path"]
        for f in report.findings
        if f.code == "provided-by-dependency"
    }
    assert provided == {
        "libcudnn.so.9": "nvidia/cudnn/lib/libcudnn.so.9",
        "libcublas.so.12": "nvidia/cublas/lib/libcublas.so.12",
        "libcufft.so.11": "nvidia/cufft/lib/libcufft.so.11",
    }
    wheel_gets = [r for r in requests if r.startswith("/files/")]
    # Per wheel: the end record, the central directory, the RECORD member; all ranges.
    assert len(wheel_gets) == 9 and all(" bytes=" in r for r in wheel_gets)

    # A second audit asks the index for the listing only: the RECORDs come from the cache.
    requests.clear()
    audit_wheel(layout.torch, opts)
    assert not [r for r in requests if r.startswith("/files/")]


def test_unreachable_index_is_an_input_error(tmp_path: Path) -> None:
    layout = torch_layout(tmp_path, TORCH_REQUIRES)
    report = audit_wheel(
        layout.torch, AuditOptions(index_url="http://127.0.0.1:9/simple/", host_libs=False)
    )
    assert report.error is not None and report.error.exit_code == 10
    assert "127.0.0.1:9" in report.error.message


def _hostile_wheel(offset: int) -> bytes:
    """A zip whose only central entry is a RECORD at ``offset`` (past the end: hostile)."""
    name = b"nvidia_cudnn_cu12-9.1.0.70.dist-info/RECORD"
    entry = (
        b"PK\x01\x02"
        + b"\0" * 6
        + struct.pack("<HHHIIIHHH", 8, 0, 0, 0, 100, 100, len(name), 0, 0)
        + b"\0" * 8
        + struct.pack("<I", offset)
        + name
    )
    end = b"PK\x05\x06" + b"\0" * 8 + struct.pack("<II", len(entry), 0) + b"\0\0"
    return entry + end


def test_hostile_remote_wheel_is_an_input_error(
    index: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, where, _ = index
    monkeypatch.setenv("MWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    layout = torch_layout(where, f"Requires-Dist: nvidia-cudnn-cu12; {NVIDIA}\n")
    for wheel in layout.links.glob("*.whl"):
        wheel.unlink()
    (layout.links / "nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl").write_bytes(
        _hostile_wheel(1 << 30)
    )
    report = audit_wheel(layout.torch, AuditOptions(index_url=url, host_libs=False))
    assert report.error is not None and report.error.exit_code == 10
    assert "not a readable wheel" in report.error.message
