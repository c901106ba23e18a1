import ipaddress
import os
import socket
import subprocess
import sys

import pytest

from cache import AudioCache
from tests.helpers import ROOT, Gated, free_port, make_settings, wait_for_port, worker_env
from tts.service import TTSService


@pytest.fixture(autouse=True)
def no_network_but_loopback(monkeypatch):
    """Tests talk to servers they start on 127.0.0.1 and to nothing else: fail fast if code tries."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"test tried to connect to {address}: only loopback is allowed in tests")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def engine():
    from tts.engines.hibari import HibariEngine

    return HibariEngine(make_settings())


@pytest.fixture
def gated(engine):
    return Gated(engine)


@pytest.fixture
def service(engine, tmp_path):
    return TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings())


def _local_api(tmp, **env):
    """`python handler.py --rp_serve_api` on a free 127.0.0.1 port: yields (base URL, log path)."""
    port = free_port()
    log_path = tmp / "worker.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py"), "--rp_serve_api",
                                 "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
                                cwd=tmp, env=worker_env(tmp, **env), stdout=log, stderr=subprocess.STDOUT)
    if not wait_for_port(port, proc, 90):
        proc.kill()
        pytest.fail(f"local API did not start:\n{log_path.read_text()[-3000:]}")
    yield f"http://127.0.0.1:{port}", log_path
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def local_api(tmp_path_factory):
    """The SDK's local API around the default (dict) handler."""
    yield from _local_api(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="session")
def local_stream_api(tmp_path_factory):
    """The SDK's local API around the streaming handler (HANDLER_MODE=stream)."""
    yield from _local_api(tmp_path_factory.mktemp("stream-api"), HANDLER_MODE="stream")
