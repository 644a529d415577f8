"""nginx with deploy/nginx/complaintdesk.conf on loopback, in front of a recording upstream."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "complaintdesk.conf"


@dataclass
class Seen:
    """One request as the upstream received it."""

    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class Upstream:
    port: int
    seen: list[Seen] = field(default_factory=list)
    release_stream: threading.Event = field(default_factory=threading.Event)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            upstream.seen.append(Seen(self.path, list(self.headers.items()), body))

        def do_POST(self) -> None:
            self._record()
            self._ok()

        def _ok(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:
            self._record()
            if self.path.startswith("/live"):
                # An event, then nothing until the test has read it through nginx: only an
                # unbuffered proxy lets the client see it while the stream is still open.
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"event: first\ndata: 1\n\n")
                self.wfile.flush()
                upstream.release_stream.wait(30)
                self.wfile.write(b"event: last\ndata: 2\n\n")
                self.close_connection = True
                return
            self._ok()

    return Handler


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def site_config(upstream_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped example with loopback ports and a generated certificate; nothing else changed."""
    lines = []
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("listen [::]"):
            continue
        line = line.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        line = line.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        line = line.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        line = line.replace("/etc/ssl/complaintdesk/fullchain.pem", str(cert))
        line = line.replace("/etc/ssl/complaintdesk/privkey.pem", str(key))
        lines.append(line)
    return "\n".join(lines) + "\n"


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start listening")


@contextmanager
def nginx_in_front(
    nginx: str, directory: Path, upstream_port: int | None = None
) -> Iterator[tuple[Upstream, int, int]]:
    """Yield the upstream, nginx's plain HTTP port and its HTTPS port (certificate: ``cert.pem``).

    Without ``upstream_port`` the upstream is a server that records what it receives.
    """
    upstream = Upstream(upstream_port or free_port())
    server = None
    if upstream_port is None:
        server = ThreadingHTTPServer(("127.0.0.1", upstream.port), _handler(upstream))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    http_port, https_port = free_port(), free_port()
    cert, key = _certificate(directory)
    (directory / "site.conf").write_text(site_config(upstream.port, http_port, https_port, cert, key))
    temp = "\n".join(
        f"  {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (directory / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp}\n  include {directory / 'site.conf'};\n}}\n"
    )
    log = directory / "error.log"
    proc = subprocess.Popen(
        [nginx, "-e", str(log), "-p", str(directory), "-c", str(directory / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(https_port, proc, log)
        yield upstream, http_port, https_port
    finally:
        upstream.release_stream.set()
        proc.terminate()
        proc.wait(timeout=20)
        if server is not None:
            server.shutdown()
            server.server_close()
