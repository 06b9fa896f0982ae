"""Fetching ``s3://bucket/key`` with boto3, within a request's byte and time budget.

One client per server (boto3 clients are thread-safe), made on the first fetch:
credentials come from the usual AWS chain (environment, ``~/.aws``, instance
roles); ``--s3-endpoint-url`` points it at an S3-compatible store, addressed
path-style. Each call is tried once (no retries: the request's time budget is
short). Connect and read timeouts are ``--input-url-timeout-seconds`` each, and the
request's budget is checked between chunks, so a fetch ends within about twice that.
"""

from __future__ import annotations

import threading
from typing import Any

from moorings.errors import DeadlineExceeded, InvalidArgument, MooringsError, Unavailable
from moorings.fetch.budget import Budget, read_limited
from moorings.fetch.errors import UpstreamError
from moorings.fetch.urls import S3Url

_MISSING = {"NoSuchKey", "404", "NotFound"}
_DENIED = {
    "AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
}  # fmt: skip


def boto3_installed() -> bool:
    """Whether boto3 imports (it is imported here, once: a server that allows URLs needs it anyway)."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        return False
    return True


class S3Fetcher:
    def __init__(self, endpoint_url: str | None, timeout_seconds: float, connections: int = 8) -> None:
        self.endpoint_url = endpoint_url
        self.timeout_seconds = timeout_seconds
        self.connections = connections
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=self.timeout_seconds,
            read_timeout=self.timeout_seconds,
            retries={"total_max_attempts": 1},
            max_pool_connections=self.connections,
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, config=config)

    def fetch(self, url: S3Url, budget: Budget) -> bytes:
        """The object's bytes; a 400 when it is missing or the server may not read it, 413 over the
        budget, 504 past the time budget, 502 when the store fails."""
        import botocore.exceptions as boto_errors

        try:
            budget.seconds_left(url.shown)
            answer = self.client().get_object(Bucket=url.bucket, Key=url.key)
            body = answer["Body"]
            try:
                return read_limited(body.read, answer.get("ContentLength"), budget, url.shown)
            finally:
                body.close()
        except MooringsError:
            raise
        except boto_errors.ClientError as exc:
            raise _client_error(exc, url) from None
        except (boto_errors.ReadTimeoutError, boto_errors.ConnectTimeoutError):
            raise budget.timed_out(url.shown) from None
        except (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError):
            raise Unavailable(
                "the server has no AWS credentials for s3:// input URLs (set them in its environment "
                "or AWS config)"
            ) from None
        except boto_errors.EndpointConnectionError:
            raise UpstreamError(f"input URL {url.shown}: could not connect to the object store") from None
        except boto_errors.BotoCoreError as exc:
            raise UpstreamError(
                f"input URL {url.shown}: reading the object failed ({type(exc).__name__})"
            ) from None


def _client_error(exc: Any, url: S3Url) -> MooringsError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _MISSING:
        return InvalidArgument(f"input URL {url.shown_object!r}: no such object")
    if code == "NoSuchBucket":
        return InvalidArgument(f"input URL {url.shown}: no such bucket")
    if code in _DENIED:
        return InvalidArgument(f"input URL {url.shown}: the server may not read this object ({code})")
    if code in ("RequestTimeout", "RequestTimeTooSkewed") or status == 504:
        return DeadlineExceeded(f"input URL {url.shown}: the object store timed out ({code})")
    return UpstreamError(f"input URL {url.shown}: the object store answered {code or status}")
