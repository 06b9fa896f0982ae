"""Fetch the input URLs of one request, off the event loop, and put the bytes in their place.

:meth:`InputFetcher.resolve` runs where the request runner decodes a request's
inputs (see ``DataPlane.predict``): every URL is read and checked against the
allowlist first, on the loop (a refusal costs no fetch), then the objects are
fetched on the fetcher's own thread pool, a few at a time per request, within
one budget of bytes (``--max-input-url-bytes``, for all of the request's objects
together) and time (``--input-url-timeout-seconds``, or the request's deadline
when it comes first). A URL given twice is fetched once. The first failure ends
the request, and the fetches still under way stop at their next chunk.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from moorings.errors import DeadlineExceeded, InvalidArgument
from moorings.fetch.allowlist import AllowList, EndpointRule, Rule
from moorings.fetch.budget import Budget, Cancelled
from moorings.fetch.references import Reference, find, may_hold_references
from moorings.fetch.s3 import S3Fetcher, boto3_installed
from moorings.fetch.settings import FetchSettings
from moorings.fetch.urls import HttpUrl, InputUrl, S3Url, parse_url
from moorings.requests import Prepare

log = logging.getLogger(__name__)


class InputFetcher:
    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self.allowlist = AllowList.parse(self.settings.allowed)
        settings = self.settings
        self.s3 = S3Fetcher(settings.s3_endpoint_url, settings.timeout_seconds, settings.threads)
        #: checked at start-up, and only when some URL is allowed (importing boto3 takes a while)
        self.boto3 = bool(self.allowlist) and boto3_installed()
        if self.allowlist and not self.boto3:
            log.warning("--allow-input-url is set but boto3 is not installed: input URLs will be refused")
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        """The fetch threads, started on the first fetch (none on a server that never fetches)."""
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self.settings.threads, thread_name_prefix="moorings-fetch"
                    )
        return self._executor

    def check(self, references: Iterable[Reference]) -> dict[str, tuple[InputUrl, Rule]]:
        """Each distinct URL read and allowed; raises the first refusal (400) before any fetch."""
        allowed: dict[str, tuple[InputUrl, Rule]] = {}
        for reference in references:
            if reference.url not in allowed:
                url = parse_url(reference.url)
                allowed[reference.url] = (url, self.allowlist.check(url))
        if allowed and not self.boto3:
            raise InvalidArgument("input URLs need boto3, which this server lacks (install moorings[s3])")
        return allowed

    def prepare(self, raw: bytes | bytearray, *roots: list[Any] | dict[str, Any]) -> Prepare | None:
        """The ``PredictRequest.prepare`` step for a JSON body whose raw bytes are ``raw`` and whose
        inputs lie in ``roots`` (parsed), or None when they hold no reference (the usual case:
        one scan of the raw bytes)."""
        if not may_hold_references(raw):
            return None
        found = [reference for root in roots for reference in find(root)]
        if not found:
            return None
        return partial(self.resolve, found)

    async def resolve(self, references: Sequence[Reference], deadline: float | None = None) -> None:
        """Fetch every reference's object and put its bytes where the reference was."""
        allowed = self.check(references)
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded("the request's deadline passed before its input URLs were fetched")
        budget = Budget(self.settings.max_bytes, self.settings.timeout_seconds, deadline)
        gate = asyncio.Semaphore(self.settings.per_request)
        loop = asyncio.get_running_loop()

        async def fetch(url: InputUrl, rule: Rule) -> bytes:
            async with gate:
                return await loop.run_in_executor(self._pool(), self._fetch, url, rule, budget)

        tasks = {text: asyncio.ensure_future(fetch(url, rule)) for text, (url, rule) in allowed.items()}
        try:
            # the budget's clock holds here too: a thread blocked in a read is left behind at the deadline
            _, late = await asyncio.wait(
                tasks.values(), timeout=budget.until - time.monotonic(), return_when=asyncio.FIRST_EXCEPTION
            )
        finally:
            budget.cancelled = True  # fetches still running stop at their next chunk
            for task in tasks.values():
                task.cancel()
        failures = [t.exception() for t in tasks.values() if t.done() and not t.cancelled()]
        first = next((exc for exc in failures if exc is not None and not isinstance(exc, Cancelled)), None)
        if first is not None:
            raise first
        if late:
            text = next(text for text, task in tasks.items() if task in late)
            raise budget.timed_out(allowed[text][0].shown)
        for reference in references:
            reference.put(tasks[reference.url].result())

    def _fetch(self, url: InputUrl, rule: Rule, budget: Budget) -> bytes:
        if isinstance(url, S3Url):
            return self.s3.fetch(url, budget)
        from moorings.fetch.https import fetch_url

        assert isinstance(url, HttpUrl) and isinstance(rule, EndpointRule)
        return fetch_url(url, rule, budget)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
