"""Bucket output against a real S3-compatible server (moto) on 127.0.0.1."""
import urllib.request

import pytest

from cache import AudioCache
from tests.helpers import free_port, make_settings
from tts.doors.queue import queue_job
from tts.service import TTSService
from tts.upload import Bucket

moto_server = pytest.importorskip("moto.server")

SENTENCE = "Uploaded to a bucket."
KEYS = {"accessId": "test-access", "accessSecret": "test-secret"}


@pytest.fixture(scope="module")
def s3():
    import boto3

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEYS["accessId"],
                          aws_secret_access_key=KEYS["accessSecret"], region_name="us-east-1")
    for name in ("env-bucket", "request-bucket"):
        client.create_bucket(Bucket=name)
    yield endpoint, client
    server.stop()


@pytest.fixture
def env_bucket(s3):
    """The endpoint's bucket, as the BUCKET_* settings give it."""
    return Bucket(s3[0], KEYS["accessId"], KEYS["accessSecret"], name="env-bucket")


def service(engine, tmp_path, **settings):
    return TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings(**settings))


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read(), resp.headers.get("Content-Type")


def test_url_mode_uploads_and_returns_a_presigned_url_to_the_same_bytes(engine, tmp_path, env_bucket, s3):
    svc = service(engine, tmp_path, bucket=env_bucket)
    out = queue_job(svc, {"text": SENTENCE, "format": "mp3", "output_mode": "url"})
    assert "audio_base64" not in out and out["output_mode"] == "url" and out["url_expires_s"] == 7 * 24 * 3600
    data, content_type = fetch(out["audio_url"])
    assert content_type == "audio/mpeg" and len(data) == out["size_bytes"]
    inline = queue_job(svc, {"text": SENTENCE, "format": "mp3"})
    assert inline["cache_hit"] is True and __import__("base64").b64decode(inline["audio_base64"]) == data
    keys = [o["Key"] for o in s3[1].list_objects_v2(Bucket="env-bucket")["Contents"]]
    assert f"tts/{out['cache_key']}.mp3" in keys


def test_per_request_s3config_is_used_without_endpoint_settings(engine, tmp_path, s3):
    endpoint, client = s3
    # A request's own endpoint passes the address policy of audio URLs: this one is on loopback.
    refused = queue_job(service(engine, tmp_path), {"text": SENTENCE, "output_mode": "url", "s3Config": {
        "endpointUrl": endpoint, "bucketName": "request-bucket", **KEYS}})
    assert refused["error"].startswith("s3Config.endpointUrl: host '127.0.0.1' is a private or local address")
    svc = service(engine, tmp_path, allow_private_urls=True)
    out = queue_job(svc, {"text": SENTENCE, "format": "ogg", "output_mode": "url",
                      "s3Config": {"endpointUrl": endpoint, "bucketName": "request-bucket", **KEYS}})
    data, content_type = fetch(out["audio_url"])
    assert content_type == "audio/ogg" and data[:4] == b"OggS"
    assert client.list_objects_v2(Bucket="request-bucket")["KeyCount"] == 1


def test_an_oversized_result_goes_to_the_bucket_when_one_is_configured(engine, tmp_path, env_bucket):
    svc = service(engine, tmp_path, max_response_bytes=50_000, bucket=env_bucket)
    out = queue_job(svc, {"text": SENTENCE * 4, "format": "wav"})
    assert out["output_mode"] == "url" and out["size_bytes"] > 50_000
    assert len(fetch(out["audio_url"])[0]) == out["size_bytes"]


def test_url_mode_without_a_bucket_and_bad_s3config_are_clear_errors(engine, tmp_path, s3):
    svc = service(engine, tmp_path)
    assert queue_job(svc, {"text": SENTENCE, "output_mode": "url"})["error"].startswith(
        'output_mode: "url" needs a bucket: set BUCKET_ENDPOINT_URL')
    assert svc.counts["synthesized"] == 0  # refused before any synthesis
    assert queue_job(svc, {"text": SENTENCE, "output_mode": "link"}) == {
        "error": "output_mode: must be one of base64, url; got 'link'"}
    bad = [({"endpointUrl": "x"}, "s3Config.accessId: required"),
           ({"endpointUrl": "ftp://h", "bucketName": "b", **KEYS}, "s3Config.endpointUrl: must be an http(s) URL"),
           ({"endpointUrl": "http://h", "bucketName": "b", "region": "x", **KEYS}, "s3Config.region: unknown field"),
           ("secret", "s3Config: must be an object")]
    for config, message in bad:
        out = queue_job(svc, {"text": SENTENCE, "output_mode": "url", "s3Config": config})
        assert out["error"].startswith(message), out


def test_an_upload_failure_fails_the_job_naming_the_bucket_not_the_secret(engine, tmp_path, s3):
    endpoint, _ = s3
    svc = service(engine, tmp_path, allow_private_urls=True)
    out = queue_job(svc, {"text": SENTENCE, "output_mode": "url",
                      "s3Config": {"endpointUrl": endpoint, "bucketName": "no-such-bucket", **KEYS}})
    assert out["error"].startswith(f"output: could not upload to bucket 'no-such-bucket' at {endpoint}: ")
    assert KEYS["accessSecret"] not in out["error"]
