"""The worker threads every front end (REST, gRPC) runs blocking store calls on.

Stores block (FAISS, PostgreSQL), so calls leave the event loop. They share one small pool:
FAISS starts an OpenMP team per calling thread, and a few long-lived threads keep a few teams
instead of one per thread of asyncio's default executor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="search")


async def run(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a search thread, awaited from the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args))
