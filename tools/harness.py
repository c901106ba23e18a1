"""Running the worker and loopback servers from tests and benchmarks: a worker process's environment, free
ports, waiting for a port, and one helper that serves an http.server handler on 127.0.0.1."""
from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
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
