import base64
import io
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cache import AudioCache  # noqa: E402
from tts.config import Settings  # noqa: E402
from tts.service import TTSService  # noqa: E402


@pytest.fixture(autouse=True)
def no_network_but_loopback(monkeypatch):
    """Tests talk to servers they start on 127.0.0.1 and to nothing else: fail fast if code tries."""
    import ipaddress
    import socket

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

    return HibariEngine()


def make_settings(**overrides) -> Settings:
    base = dict(engine="hibari", max_text_chars=5000, max_response_bytes=15_000_000, cache_dir="/nonexistent",
                cache_max_bytes=0, voices_dir="/nonexistent", output_dir=None)
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def service(engine, tmp_path):
    return TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings())


def decode(result: dict) -> tuple[np.ndarray, int]:
    """The output's audio as float samples and the rate the file itself declares."""
    data = base64.b64decode(result["audio_base64"])
    assert len(data) == result["size_bytes"]
    if result["format"] == "pcm":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, result["sample_rate"]
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def rms_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12)


def worker_env(tmp_path) -> dict:
    """The environment for a worker process in a test: no RUNPOD_* from outside, its own cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    env.update(CACHE_DIR=str(tmp_path / "cache"), RUNPOD_SKIP_AUTO_SYSTEM_CHECKS="true", PYTHONUNBUFFERED="1")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def local_api(tmp_path_factory):
    """`python handler.py --rp_serve_api` on a free 127.0.0.1 port: (base URL, log path)."""
    tmp = tmp_path_factory.mktemp("api")
    port = free_port()
    log_path = tmp / "worker.log"
    log = open(log_path, "w+")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py"), "--rp_serve_api",
                             "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
                            cwd=tmp, env=worker_env(tmp), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail(f"local API did not start:\n{log.read()[-3000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", log_path
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
