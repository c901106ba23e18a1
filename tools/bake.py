"""Build-time downloads for the Docker image: the CSM snapshot and hibari's extra voices.

    python -m tools.bake csm --dest /models/csm-1b [--model-id sesame/csm-1b] [--revision REV] [--require]
    python -m tools.bake hibari-voices --dest /models/hibari

The Hugging Face token comes from the BuildKit secret file (/run/secrets/hf_token, or HF_TOKEN_FILE), else
HF_TOKEN; it goes to huggingface_hub only, never to output or to a file. Without a token, `csm` skips the
download (exit 0, with a warning) unless --require is given: the RunPod Hub and RunPod's GitHub integration build
that way, and the worker then takes MODEL_ID from RunPod's model cache or downloads it at start."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

SECRET_FILE = "/run/secrets/hf_token"
# What transformers loads: configs, safetensors weights, tokenizer and chat template. This leaves out
# sesame's original ckpt.pt (another 6 GB of the same weights).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]
MANIFEST = "bake.json"


class BakeError(RuntimeError):
    pass


def read_token() -> str | None:
    path = os.environ.get("HF_TOKEN_FILE", SECRET_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
        if token:
            return token
    except OSError:
        pass
    return os.environ.get("HF_TOKEN") or None


def bake_csm(model_id: str, dest: str, revision: str | None = None, token: str | None = None,
             endpoint: str | None = None) -> dict:
    """Download the snapshot into dest, check transformers can read it, write dest/bake.json."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    t = time.time()
    try:
        commit = HfApi(endpoint=endpoint).model_info(model_id, revision=revision, token=token).sha
        snapshot_download(model_id, revision=commit, local_dir=dest, token=token, endpoint=endpoint,
                          allow_patterns=ALLOW_PATTERNS)
    except GatedRepoError:
        raise BakeError(f"{model_id} is gated: accept its license on the Hugging Face Hub with the account whose "
                        f"read token you pass as the BuildKit secret hf_token "
                        f"(docker build --secret id=hf_token,env=HF_TOKEN ...)") from None
    except RevisionNotFoundError:
        raise BakeError(f"{model_id} has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise BakeError(f"{model_id} was not found on the Hub (or is private and the token cannot see it)") from None
    except (HfHubHTTPError, OSError) as e:
        raise BakeError(f"downloading {model_id} failed: {e}") from None
    shutil.rmtree(os.path.join(dest, ".cache"), ignore_errors=True)  # download bookkeeping, not model files
    files = verify_snapshot(dest)
    manifest = {"model_id": model_id, "revision": commit, "files": files, "baked_at": int(time.time()),
                "seconds": round(time.time() - t, 1)}
    with open(os.path.join(dest, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def verify_snapshot(dest: str) -> list[str]:
    """The snapshot's files, after checking that transformers can read its config and processor."""
    from transformers import AutoConfig, AutoProcessor

    files = sorted(f for f in os.listdir(dest) if not f.startswith("."))
    if not any(f.endswith(".safetensors") for f in files):
        raise BakeError(f"{dest} has no .safetensors weights (files: {', '.join(files) or 'none'})")
    try:
        config = AutoConfig.from_pretrained(dest)
        AutoProcessor.from_pretrained(dest)
    except (OSError, ValueError) as e:
        raise BakeError(f"{dest} is not a complete transformers snapshot: {e}") from None
    if config.model_type != "csm":
        raise BakeError(f"{dest} holds a {config.model_type!r} model, not csm")
    return files


def bake_hibari_voices(dest: str, voices: dict | None = None, base_url: str | None = None) -> list[str]:
    """Download every voice that is not in the wheel into dest (use as HIBARI_HOME), checking each sha256."""
    from hibari import voices as hv

    voices = hv.VOICES if voices is None else voices
    base_url = base_url or hv.BASE_URL
    done = []
    for name, meta in voices.items():
        if meta.get("bundled"):
            continue
        path = os.path.join(dest, meta["file"])
        if not os.path.exists(path):
            try:
                hv.download(base_url + meta["file"], path, meta["sha256"])
            except RuntimeError as e:
                raise BakeError(f"voice {name}: {e}") from None
        done.append(name)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    csm = sub.add_parser("csm", help="the CSM snapshot")
    csm.add_argument("--dest", required=True)
    csm.add_argument("--model-id", default="sesame/csm-1b")
    csm.add_argument("--revision")
    csm.add_argument("--endpoint", help="a Hub mirror (default: the Hub, or HF_ENDPOINT)")
    csm.add_argument("--require", action="store_true", help="fail instead of skipping when there is no token")
    voices = sub.add_parser("hibari-voices", help="hibari's voices that are not in its wheel")
    voices.add_argument("--dest", required=True)
    args = parser.parse_args(argv)
    try:
        if args.what == "csm":
            token = read_token()
            if token is None and not args.require:
                print(f"bake: no Hugging Face token (BuildKit secret hf_token or HF_TOKEN): {args.model_id} is NOT "
                      "baked (the RunPod Hub and GitHub integration build without secrets). Set "
                      f"MODEL_ID={args.model_id} on the endpoint: the worker loads it from RunPod's cached models (the "
                      "endpoint's Model setting), else downloads it at start with HF_TOKEN and HF_HUB_OFFLINE=0",
                      file=sys.stderr)
                return 0
            m = bake_csm(args.model_id, args.dest, args.revision, token, args.endpoint)
            print(f"bake: {m['model_id']}@{m['revision'][:12]} -> {args.dest} ({len(m['files'])} files, "
                  f"{m['seconds']} s)")
        else:
            names = bake_hibari_voices(args.dest)
            print(f"bake: hibari voices {', '.join(names)} -> {args.dest}")
    except BakeError as e:
        print(f"bake: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
