#!/usr/bin/env python3
"""A small client for the RunPod TTS worker, standard library only.

    export RUNPOD_ENDPOINT_ID=... RUNPOD_API_KEY=...
    python examples/tts_client.py "Hello from RunPod." -o hello.mp3
    python examples/tts_client.py "Hello" -o hello.wav --base-url http://localhost:8000 --local   # SDK local API
    python examples/tts_client.py "Hello" -o hello.mp3 --stream       # a HANDLER_MODE=stream endpoint's /stream
    python examples/tts_client.py "Hello" -o hello.wav --ws ws://localhost:8000/ws/generate   # WORKER_MODE=http

It calls /runsync; when RunPod's synchronous window (90 s by default) ends before the job does, it keeps
polling /status/<id>. 429 and 5xx answers are retried with exponential back-off and jitter (honouring
Retry-After). A FAILED job raises TTSError with the worker's message, whether `error` is a string or the
SDK's JSON string with error_message. stream() reads a streaming endpoint's /stream/<id> as the audio is made;
ws_stream() speaks the WebSocket protocol of WORKER_MODE=http (it needs the `websockets` package)."""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")
RETRY_STATUS = (429, 500, 502, 503, 504)


class TTSError(RuntimeError):
    """The job failed, timed out, or the API refused the request."""


class TTSClient:
    def __init__(self, base_url: str | None = None, api_key: str | None = None, endpoint_id: str | None = None,
                 local: bool = False, timeout_s: float = 600.0, max_retries: int = 6, backoff_s: float = 0.5):
        endpoint_id = endpoint_id or os.environ.get("RUNPOD_ENDPOINT_ID")
        if base_url is None:
            if not endpoint_id:
                raise ValueError("no endpoint: set RUNPOD_ENDPOINT_ID (and RUNPOD_API_KEY), or pass base_url "
                                 "(for the SDK's local API: --base-url http://localhost:8000 --local)")
            base_url = f"https://api.runpod.ai/v2/{endpoint_id}"
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("RUNPOD_API_KEY")
        self.status_method = "POST" if local else "GET"  # the SDK's local API takes POST /status/<id>
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s

    # -- public ------------------------------------------------------------------------------
    def run(self, job_input: dict, sync: bool = True) -> dict:
        """The job's output dict. sync=False queues with /run and polls /status."""
        deadline = time.monotonic() + self.timeout_s
        reply = self._call("POST", "/runsync" if sync else "/run", {"input": job_input})
        if reply.get("status") not in TERMINAL:
            reply = self._poll(reply["id"], deadline)
        return self._output(reply)

    def synthesize(self, text: str, sync: bool = True, **params) -> tuple[bytes, dict]:
        """(audio bytes, output metadata); works for base64 and bucket (audio_url) results."""
        output = self.run({"text": text, **params}, sync=sync)
        if "audio_base64" in output:
            data = base64.b64decode(output.pop("audio_base64"))
        else:
            with urllib.request.urlopen(output["audio_url"], timeout=60) as resp:
                data = resp.read()
        return data, output

    def stream(self, text: str, **params) -> AudioStream:
        """The audio of a HANDLER_MODE=stream endpoint as it is made: iterate for bytes (joined, one file of the
        format); `.metadata` has the output's metadata once the iteration ends."""
        return AudioStream(self._stream_items({"text": text, **params}))

    def _stream_items(self, job_input: dict) -> Iterator[dict]:
        job = self._call("POST", "/run", {"input": job_input})
        deadline = time.monotonic() + self.timeout_s
        delay = 0.2
        while True:
            # RunPod answers GET /stream/<id> with the items made since the last call; the SDK's local API
            # (POST) runs the whole job and answers once.
            reply = self._call(self.status_method, f"/stream/{job['id']}", None, idempotent=True)
            items = [chunk.get("output") for chunk in reply.get("stream") or []]
            for item in items:
                if isinstance(item, dict) and item.get("error"):
                    raise TTSError(error_message(item["error"]))
                yield item
                if isinstance(item, dict) and item.get("done"):
                    return
            if reply.get("status") in TERMINAL and not items:
                if reply.get("status") == "FAILED":
                    raise TTSError(error_message(reply.get("error")))
                raise TTSError(f"the stream of job {job['id']} ended ({reply.get('status')}) without its last item")
            if time.monotonic() + delay > deadline:
                raise TTSError(f"job {job['id']} still streaming after {self.timeout_s:.0f} s")
            if not items:
                time.sleep(delay)
                delay = min(delay * 1.5, 2.0)

    # -- internals ---------------------------------------------------------------------------
    def _poll(self, job_id: str, deadline: float) -> dict:
        delay = 0.5
        while True:
            # No body, even for POST: a server that does not read one may reset the connection.
            reply = self._call(self.status_method, f"/status/{job_id}", None, idempotent=True)
            if reply.get("status") in TERMINAL:
                return reply
            if time.monotonic() + delay > deadline:
                raise TTSError(f"job {job_id} still {reply.get('status')} after {self.timeout_s:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def _call(self, method: str, path: str, body: dict | None, idempotent: bool = False) -> dict:
        """One API call. 429 and 5xx are always retried (the job was not taken); broken connections only
        when repeating the call is harmless (a status poll), since a repeated /run would start a second job."""
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # No body: an empty POST (Content-Length 0), or a GET.
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                if e.code not in RETRY_STATUS or attempt == self.max_retries:
                    detail = e.read()[:300].decode(errors="replace")
                    raise TTSError(f"{method} {path}: HTTP {e.code}: {detail}") from None
                time.sleep(self._backoff(attempt, e.headers.get("Retry-After")))
            except (urllib.error.URLError, OSError) as e:
                if not idempotent or attempt == self.max_retries:
                    raise TTSError(f"{method} {path}: {getattr(e, 'reason', e)}") from None
                time.sleep(self._backoff(attempt, None))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            return float(retry_after)
        base = self.backoff_s * 2 ** attempt
        return base + random.uniform(0, base)  # jitter: many clients do not retry in lockstep

    @staticmethod
    def _output(reply: dict) -> dict:
        status = reply.get("status")
        if status == "COMPLETED":
            if not isinstance(reply.get("output"), dict):
                raise TTSError("the job COMPLETED with no output: the result was probably over RunPod's size "
                               "limit (ask for mp3/ogg or use output_mode \"url\")")
            return reply["output"]
        raise TTSError(error_message(reply.get("error")) if status == "FAILED" else f"job {status}")


class AudioStream:
    """Audio bytes as they arrive; `metadata` is set when the stream ends (the last item's or frame's fields)."""

    def __init__(self, items: Iterator[dict]):
        self._items = items
        self.metadata: dict | None = None

    def __iter__(self) -> Iterator[bytes]:
        seen = set()
        for item in self._items:
            if "seq" in item:
                if item["seq"] in seen:
                    continue  # an item delivered twice (a retried post): its bytes are already out
                seen.add(item["seq"])
            if item.get("audio"):
                yield item["audio"]
            elif item.get("audio_base64"):
                yield base64.b64decode(item["audio_base64"])
            if item.get("done"):
                self.metadata = {k: v for k, v in item.items() if k not in ("audio", "audio_base64", "seq", "done")}


def ws_stream(url: str, text: str, api_key: str | None = None, **params) -> AudioStream:
    """Raw int16 PCM frames from a WORKER_MODE=http worker's WebSocket (ws://host:port/ws/generate) as they are
    made; params are request fields (speaker, sample_rate, chunk_ms, ...)."""
    try:
        from websockets.sync.client import connect
    except ImportError:
        raise TTSError("ws_stream needs the websockets package: pip install websockets") from None

    def frames() -> Iterator[dict]:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        with connect(url, additional_headers=headers, open_timeout=30) as ws:
            ws.send(json.dumps({"text": text, **params}))
            while True:
                message = ws.recv(timeout=600)
                if isinstance(message, bytes):
                    yield {"audio": message}
                    continue
                reply = json.loads(message)
                if "error" in reply:
                    raise TTSError(error_message(reply["error"]))
                yield reply
                return

    return AudioStream(frames())


def error_message(error) -> str:
    """The worker's message: a plain string, or the SDK's JSON string {error_type, error_message, ...}."""
    if isinstance(error, str):
        try:
            parsed = json.loads(error)
        except ValueError:
            return error
        if isinstance(parsed, dict) and "error_message" in parsed:
            return f"{parsed.get('error_type', 'error')}: {parsed['error_message']}"
        return error
    return json.dumps(error) if error is not None else "the job failed without a message"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize speech with a RunPod TTS endpoint.")
    parser.add_argument("text")
    parser.add_argument("-o", "--out", default="speech.mp3", help="output file; its extension picks the format")
    parser.add_argument("--voice")
    parser.add_argument("--base-url", help="default: https://api.runpod.ai/v2/$RUNPOD_ENDPOINT_ID")
    parser.add_argument("--local", action="store_true", help="the SDK's local API (POST /status)")
    parser.add_argument("--queue", action="store_true", help="use /run + /status instead of /runsync")
    parser.add_argument("--stream", action="store_true", help="a HANDLER_MODE=stream endpoint: read /stream/<id>")
    parser.add_argument("--ws", metavar="URL", help="a WORKER_MODE=http worker's WebSocket, ws://host:port/ws/generate "
                                                    "(writes WAV)")
    args = parser.parse_args(argv)
    params = {"format": os.path.splitext(args.out)[1].lstrip(".").lower() or "mp3"}
    if args.voice:
        params["voice"] = args.voice
    try:
        if args.ws:
            return _write_ws(args.ws, args.text, args.out, params.get("voice"))
        client = TTSClient(base_url=args.base_url, local=args.local)
    except (ValueError, TTSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    try:
        if args.stream:
            audio = client.stream(args.text, **params)
            with open(args.out, "wb") as f:
                for chunk in audio:
                    f.write(chunk)  # playable while it grows
            output = audio.metadata
        else:
            data, output = client.synthesize(args.text, sync=not args.queue, **params)
            with open(args.out, "wb") as f:
                f.write(data)
    except TTSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    took = "cache hit" if output["cache_hit"] else f"{output['generation_time_ms']:.0f} ms"
    print(f"{args.out}: {output['duration_ms'] / 1000:.1f} s of {output['format']}, {took}")
    return 0


def _write_ws(url: str, text: str, out: str, voice: str | None) -> int:
    audio = ws_stream(url, text, api_key=os.environ.get("API_KEY"), **({"voice": voice} if voice else {}))
    pcm = b"".join(audio)
    rate = audio.metadata["sample_rate"]
    with wave.open(out, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm)
    print(f"{out}: {len(pcm) / 2 / rate:.1f} s of pcm over the WebSocket, first audio after "
          f"{audio.metadata['first_audio_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
