"""Bucket output: audio uploaded to S3-compatible storage, a presigned URL returned instead of base64.

Credentials come from a request's `s3Config` ({endpointUrl, accessId, accessSecret, bucketName}, RunPod's
convention) or the endpoint's BUCKET_ENDPOINT_URL / BUCKET_ACCESS_KEY_ID / BUCKET_SECRET_ACCESS_KEY /
BUCKET_NAME. The client is the runpod SDK's (rp_upload.get_boto_client); secrets are never logged."""
from __future__ import annotations

import io
from dataclasses import dataclass

URL_EXPIRES_S = 7 * 24 * 3600   # the longest a SigV4 presigned URL may live


@dataclass(frozen=True)
class Bucket:
    endpoint_url: str
    access_id: str
    access_secret: str
    name: str
    prefix: str = "tts"

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"Bucket({self.endpoint_url!r}, {self.name!r})"


def upload(bucket: Bucket, data: bytes, file_name: str, content_type: str) -> str:
    """Upload and return a presigned GET URL valid for URL_EXPIRES_S."""
    from runpod.serverless.utils.rp_upload import get_boto_client

    client, transfer = get_boto_client({"endpointUrl": bucket.endpoint_url, "accessId": bucket.access_id,
                                        "accessSecret": bucket.access_secret})
    if client is None:
        raise RuntimeError("boto3 is not installed; bucket output needs it (pip install boto3)")
    key = f"{bucket.prefix}/{file_name}" if bucket.prefix else file_name
    client.upload_fileobj(io.BytesIO(data), bucket.name, key, Config=transfer,
                          ExtraArgs={"ContentType": content_type})
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket.name, "Key": key},
                                         ExpiresIn=URL_EXPIRES_S)
