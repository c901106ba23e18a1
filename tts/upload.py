"""Bucket output: audio uploaded to S3-compatible storage, a presigned URL returned instead of base64.

Credentials come from a request's `s3Config` ({endpointUrl, accessId, accessSecret, bucketName}, RunPod's
convention) or the endpoint's BUCKET_ENDPOINT_URL / BUCKET_ACCESS_KEY_ID / BUCKET_SECRET_ACCESS_KEY /
BUCKET_NAME; secrets are never logged.

botocore signs, the worker sends: the PUT is a presigned request (SigV4 in its query, computed locally) sent
through tts.fetch's pinned connection. So it goes to the address the endpoint's host was checked at (boto
would look the name up again, and a second answer may be a private address: DNS rebinding), with the
certificate still verified for the host name, and one wall-clock deadline bounds it all (botocore's timeouts
are per socket operation, which a bucket sending a byte at a time restarts, and its retries multiply them).
Path-style addressing keeps the host the endpoint's own: the one that was checked."""
from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from dataclasses import dataclass

from tts.errors import InputError
from tts.fetch import Deadline, Fetcher, connection, read_body, redact, split_url

URL_EXPIRES_S = 7 * 24 * 3600   # the longest a SigV4 presigned URL may live
TIMEOUT_S = 60.0                # an upload's own limit; a job's budget may end it sooner
ATTEMPTS = 3                    # a 5xx answer or a dropped connection is tried again while time is left
_RETRY_STATUS = (500, 502, 503, 504)
_MAX_ANSWER_BYTES = 64 * 1024   # an S3 answer is a short XML document; a bucket sending more is not one


@dataclass(frozen=True)
class Bucket:
    endpoint_url: str
    access_id: str
    access_secret: str
    name: str
    prefix: str = "tts"
    address: str | None = None   # the endpoint host's address as checked (tts.resolve); None: looked up here

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"Bucket({self.endpoint_url!r}, {self.name!r})"


class BucketRefused(Exception):
    """The bucket answered the PUT with an error (its S3 code and message, when it sent them)."""


def upload(bucket: Bucket, data: bytes, file_name: str, content_type: str, deadline: float | None = None) -> str:
    """Upload within TIMEOUT_S (or `deadline`, if sooner) and return a presigned GET URL valid for URL_EXPIRES_S.
    Raises TimeoutError, OSError (no connection) or BucketRefused, with messages free of secrets."""
    limit = Deadline.within(TIMEOUT_S, deadline)
    client = _client(bucket)
    key = f"{bucket.prefix}/{file_name}" if bucket.prefix else file_name
    # Signed just before it is sent: it only has to outlive the upload.
    put_url = client.generate_presigned_url("put_object", ExpiresIn=600, Params={
        "Bucket": bucket.name, "Key": key, "ContentType": content_type})
    scheme, host, port, target = split_url("bucket", put_url)
    _, endpoint_host, endpoint_port, _ = split_url("bucket", bucket.endpoint_url)
    if (host, port) != (endpoint_host, endpoint_port):  # path style: only a change in botocore could do this
        raise BucketRefused(f"the upload would go to {host}:{port}, not the endpoint's host; not sent")
    try:
        address = bucket.address or Fetcher(allow_private=True).address("bucket", host, port, limit)
    except InputError as e:  # the operator's endpoint (BUCKET_ENDPOINT_URL) no longer resolves
        raise ConnectionError(e.message) from None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            status, answer = _put(scheme, host, port, address, target, data, content_type, limit)
        except TimeoutError:
            raise TimeoutError(f"the upload did not finish within {limit}") from None
        except (OSError, http.client.HTTPException) as e:
            if attempt == ATTEMPTS or not _pause(attempt, limit):
                raise ConnectionError(f"the connection to {redact(put_url)} failed: "
                                      f"{getattr(e, 'strerror', None) or str(e) or type(e).__name__}") from None
            continue
        if 200 <= status < 300:
            break
        if status not in _RETRY_STATUS or attempt == ATTEMPTS or not _pause(attempt, limit):
            raise BucketRefused(_refusal(status, answer))
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket.name, "Key": key},
                                         ExpiresIn=URL_EXPIRES_S)


def _client(bucket: Bucket):
    """A botocore S3 client for signing (it never sends anything here)."""
    try:
        import botocore.session
        from botocore.config import Config
    except ImportError:
        raise RuntimeError("boto3 is not installed; bucket output needs it (pip install boto3)") from None
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=bucket.endpoint_url, aws_access_key_id=bucket.access_id,
        aws_secret_access_key=bucket.access_secret, region_name=_region(bucket.endpoint_url),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


# s3.eu-west-1.amazonaws.com, s3-eu-west-1.…, s3.dualstack.eu-west-1.…, s3.us-west-004.backblazeb2.com
_REGION = re.compile(r"(?:^|\.)s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d+)\.")


def _region(endpoint_url: str) -> str | None:
    """The region a signature must name: from an S3-style host name, else as the runpod SDK's client infers it
    (None: botocore's default, us-east-1). A presigned request cannot follow S3's redirect to the right region
    as boto's own calls do, so the host's region is read here."""
    from runpod.serverless.utils.rp_upload import extract_region_from_url

    match = _REGION.search((urllib.parse.urlsplit(endpoint_url).hostname or "").lower())
    return match[1] if match else extract_region_from_url(endpoint_url)


def _put(scheme: str, host: str, port: int, address: str, target: str, data: bytes, content_type: str,
         limit: Deadline) -> tuple[int, bytes]:
    conn, resp = connection(scheme, host, port, address, limit), None
    try:
        conn.request("PUT", target, body=data, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, read_body(resp, _MAX_ANSWER_BYTES) or b""
    finally:
        if resp is not None:
            resp.close()
        conn.close()


def _pause(attempt: int, limit: Deadline) -> bool:
    """Wait a little before the next attempt; False when the deadline leaves no time for one."""
    pause = 0.25 * 2 ** (attempt - 1)
    if limit.at - time.monotonic() <= pause + 0.5:
        return False
    time.sleep(pause)
    return True


def _refusal(status: int, answer: bytes) -> str:
    text = answer.decode("utf-8", "replace")
    code, message = (re.search(rf"<{tag}>([^<]{{1,200}})</{tag}>", text) for tag in ("Code", "Message"))
    return f"HTTP {status}" + (f" {code[1]}" if code else "") + (f": {message[1]}" if message else "")
