"""Bucket output against a real S3-compatible server (moto) on 127.0.0.1, and against stand-ins for buckets that
misbehave (never answer, answer over TLS, or sit where a second DNS lookup would send the upload)."""
import ipaddress
import time
import urllib.parse
import urllib.request

import pytest

from cache import AudioCache
from tests.helpers import QuietHandler, free_port, make_settings, serve
from tools.harness import drip_server, https_server, make_certificate, silent_server
from tts.delivery import deliver
from tts.doors.queue import queue_job
from tts.errors import OutputError
from tts.fetch import Fetcher, is_public
from tts.result import Result
from tts.service import TTSService
from tts.upload import Bucket, upload

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
    assert out["error"].startswith(f"output: could not upload to bucket 'no-such-bucket' at {endpoint}: "
                                   "BucketRefused: HTTP 404 NoSuchBucket: The specified bucket does not exist"), out
    assert KEYS["accessSecret"] not in out["error"] and "X-Amz-" not in out["error"]


def test_the_upload_goes_to_the_address_the_endpoint_was_checked_at(engine, tmp_path):
    """DNS rebinding: the endpoint's name is public when checked and loopback on any later lookup. The PUT must
    reach the checked address (a bucket on 127.0.0.2, "public" here), never the private one on 127.0.0.1."""
    asked_privately = []

    class Private(QuietHandler):
        def do_PUT(self):  # noqa: N802
            asked_privately.append(self.path)
            self.reply(200)

    with serve(Private) as private:
        port = int(private.rsplit(":", 1)[1])
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.2", port=port, verbose=False)
        server.start()
        try:
            import boto3

            checked = boto3.client("s3", endpoint_url=f"http://127.0.0.2:{port}", aws_access_key_id="k",
                                   aws_secret_access_key="s", region_name="us-east-1")
            checked.create_bucket(Bucket="checked-bucket")
            svc = service(engine, tmp_path)
            answers = iter([["127.0.0.2"]])   # a second lookup would raise StopIteration: there must be none
            svc.resolver.fetcher = Fetcher(resolve=lambda host, port: next(answers),
                                           is_allowed=lambda ip: ip == ipaddress.ip_address("127.0.0.2") or
                                           is_public(ip))
            out = queue_job(svc, {"text": SENTENCE, "format": "mp3", "output_mode": "url", "s3Config": {
                "endpointUrl": f"http://rebinding-bucket-host:{port}", "bucketName": "checked-bucket",
                "accessId": "k", "accessSecret": "s"}})
            assert out.get("output_mode") == "url", out
            assert out["audio_url"].startswith(f"http://rebinding-bucket-host:{port}/checked-bucket/tts/")
            stored = checked.get_object(Bucket="checked-bucket", Key=f"tts/{out['cache_key']}.mp3")
            assert stored["ContentLength"] == out["size_bytes"] and stored["ContentType"] == "audio/mpeg"
        finally:
            server.stop()
    assert asked_privately == []


def _result() -> Result:
    return Result("audio/mpeg", "mp3", 24000, 1000, 5, False, "k" * 64, "hibari", "m", None, "cpu", 1.0, 1)


@pytest.mark.parametrize("stand_in", [silent_server, lambda: drip_server(b"HTTP/1.1 200 OK\r\nX-Drip: ", b"a",
                                                                          every_s=0.2)])
def test_a_bucket_that_never_answers_fails_the_upload_at_the_jobs_deadline(stand_in):
    with stand_in() as url:
        bucket = Bucket(url, "k", "s3cr3t", "silent-bucket")
        t = time.monotonic()
        with pytest.raises(OutputError) as err:
            deliver(_result(), b"audio", "url", bucket, 10**6, deadline=time.monotonic() + 1.5)
        took = time.monotonic() - t
    assert str(err.value) == (f"output: could not upload to bucket 'silent-bucket' at {url}: TimeoutError: the upload "
                              "did not finish within 1.5 s (what was left of the job's MAX_JOB_SECONDS budget)")
    assert 1.4 < took < 2.5 and "s3cr3t" not in str(err.value)


def test_the_upload_has_a_limit_of_its_own_when_the_job_has_none(monkeypatch):
    monkeypatch.setattr("tts.upload.TIMEOUT_S", 1.0)  # the default is a minute
    with silent_server() as url:
        t = time.monotonic()
        with pytest.raises(TimeoutError, match=r"^the upload did not finish within 1 s$"):
            upload(Bucket(url, "k", "s", "silent-bucket"), b"audio", "a.mp3", "audio/mpeg")
        assert time.monotonic() - t < 2.0


def test_a_bucket_over_https_gets_the_put_at_the_pinned_address_with_its_certificate_checked(tmp_path, monkeypatch):
    got = []

    class TLSBucket(QuietHandler):
        def do_PUT(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["Host"], self.path.split("?", 1)[0], self.headers["Content-Type"], body))
            self.reply(200)

    ca, cert, key = make_certificate(tmp_path, "bucket.test")
    monkeypatch.setenv("SSL_CERT_FILE", ca)  # the default context trusts this CA (and nothing else) here
    with https_server(TLSBucket, cert, key, "127.0.0.2") as port:
        url = upload(Bucket(f"https://bucket.test:{port}", "k", "s", "b", address="127.0.0.2"), b"ID3 audio",
                     "a.mp3", "audio/mpeg")
        assert url.startswith(f"https://bucket.test:{port}/b/tts/a.mp3?")
        assert got == [(f"bucket.test:{port}", "/b/tts/a.mp3", "audio/mpeg", b"ID3 audio")]
        with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):  # a name the certificate lacks
            upload(Bucket(f"https://other.test:{port}", "k", "s", "b", address="127.0.0.2"), b"x", "a.mp3",
                   "audio/mpeg")
    assert len(got) == 1


def test_a_bucket_that_fails_for_a_moment_gets_the_upload_again():
    answers = iter([503, 500, 200])
    seen = []

    class Flaky(QuietHandler):
        def do_PUT(self):  # noqa: N802
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.reply(next(answers), b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>")

    class Refusing(QuietHandler):
        def do_PUT(self):  # noqa: N802
            seen.append(b"refused")
            self.reply(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")

    with serve(Flaky) as url:
        assert upload(Bucket(url, "k", "s", "b"), b"abc", "a.mp3", "audio/mpeg").startswith(f"{url}/b/tts/a.mp3?")
    assert seen == [b"abc"] * 3
    with serve(Refusing) as url, pytest.raises(Exception, match=r"^HTTP 403 AccessDenied: Access Denied$"):
        upload(Bucket(url, "k", "s", "b"), b"abc", "a.mp3", "audio/mpeg")
    assert seen[3:] == [b"refused"]  # a refusal is final: asked once


def test_the_signature_names_the_region_of_a_regional_endpoint():
    # A presigned PUT cannot follow S3's redirect to the bucket's region as boto's own calls would.
    queries = []

    class Regional(QuietHandler):
        def do_PUT(self):  # noqa: N802
            queries.append(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query))
            self.reply(200)

    with serve(Regional) as url:
        port = url.rsplit(":", 1)[1]
        for endpoint in (f"http://s3.eu-west-1.amazonaws.com:{port}", f"http://s3.us-west-004.backblazeb2.com:{port}",
                         url):
            upload(Bucket(endpoint, "k", "s", "b", address="127.0.0.1"), b"abc", "a.mp3", "audio/mpeg")
    assert [q["X-Amz-Credential"][0].split("/")[2] for q in queries] == ["eu-west-1", "us-west-004", "us-east-1"]
