"""Running the worker and loopback servers from tests and benchmarks: a worker process's environment, free
ports, waiting for a port, and one helper that serves an http.server handler on 127.0.0.1; and the faulty
servers hostile tests need: one that drips its answer a byte at a time, one (a bucket, say) that never answers, and
a TLS server with a certificate for a name of the test's choosing; and a WORKER_MODE=http worker process for
benchmarks (http_worker)."""
from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker_env(tmp: str | os.PathLike, **extra: str) -> dict:
    """A worker process's environment: no RUNPOD_* from outside (never deployed mode by accident), its own
    cache, and the SDK's system checks off (they would probe a public DNS server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    env.update(CACHE_DIR=os.path.join(tmp, "cache"), RUNPOD_SKIP_AUTO_SYSTEM_CHECKS="true", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float) -> bool:
    """True once 127.0.0.1:port accepts connections; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and answers with one call."""

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading on purpose (a size limit, say)


@contextlib.contextmanager
def http_worker(tmp: str, env: dict):
    """`python handler.py` with WORKER_MODE=http on a free 127.0.0.1 port, until /ping says ready: yields the port."""
    port = free_port()
    log_path = os.path.join(tmp, "worker.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp, stdout=log,
                                stderr=subprocess.STDOUT,
                                env=worker_env(tmp, WORKER_MODE="http", HOST="127.0.0.1", PORT=str(port), **env))
    try:
        if not wait_for_port(port, proc, 120):
            with open(log_path) as f:
                raise RuntimeError(f.read()[-2000:])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def files_handler(files: dict[str, bytes]) -> type[QuietHandler]:
    """GET path -> the bytes in `files`, else 404."""

    class Files(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = files.get(self.path)
            self.reply(404 if body is None else 200, body or b"")

    return Files


@contextlib.contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free 127.0.0.1 port for the duration; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _raw_server(serve_one) -> Iterator[str]:
    """`serve_one(conn, stop)` for each connection to a free 127.0.0.1 port, each on its own thread, until the
    block ends (then every connection is closed); yields the base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=_quietly, args=(serve_one, conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in conns:
            conn.close()


def _quietly(serve_one, conn: socket.socket, stop: threading.Event) -> None:
    try:
        serve_one(conn, stop)
    except OSError:
        pass  # the client gave up and closed: what these servers wait for


def _read_request(conn: socket.socket, stop: threading.Event) -> None:
    """Read up to the end of a request's headers (a body, if any, is left unread)."""
    conn.settimeout(0.1)
    data = b""
    while b"\r\n\r\n" not in data and not stop.is_set():
        try:
            block = conn.recv(65536)
        except TimeoutError:
            continue
        if not block:
            return
        data += block


@contextlib.contextmanager
def drip_server(head: bytes = b"HTTP/1.0 200 OK\r\nX-Drip: ", drip: bytes = b"a", every_s: float = 1.0,
                for_s: float = 60.0) -> Iterator[str]:
    """A server that answers any request with `head`, then one `drip` byte every `every_s` seconds for `for_s`
    seconds: a status line, header, chunk-size line or body that never ends, though no read waits long."""

    def serve_one(conn: socket.socket, stop: threading.Event) -> None:
        _read_request(conn, stop)
        conn.sendall(head)
        end = time.monotonic() + for_s
        while time.monotonic() < end and not stop.wait(every_s):
            conn.sendall(drip)

    with _raw_server(serve_one) as url:
        yield url


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A server (a bucket, say) that accepts connections, reads whatever is sent and never answers."""

    def serve_one(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(0.1)
        while not stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue

    with _raw_server(serve_one) as url:
        yield url


def make_certificate(directory: str | os.PathLike, host: str) -> tuple[str, str, str]:
    """A CA and a certificate it signed for `host`: (CA file, certificate file, key file), PEM. Trust the CA with
    SSL_CERT_FILE; a client that reaches the server under another name must refuse it."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name(host)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(str(directory), f"{host}.{kind}.pem") for kind in ("ca", "cert", "key")]
    pems = [ca.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())]
    for path, pem in zip(paths, pems, strict=True):
        with open(path, "wb") as f:
            f.write(pem)
    return paths[0], paths[1], paths[2]


@contextlib.contextmanager
def https_server(handler: type[http.server.BaseHTTPRequestHandler], cert_file: str, key_file: str,
                 address: str = "127.0.0.1") -> Iterator[int]:
    """`handler` over TLS with this certificate, on a free port of `address` (127.0.0.x); yields the port."""
    import ssl

    server = http.server.ThreadingHTTPServer((address, 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
