"""SQLAlchemy Core work off the event loop, for the stores that live on their own ``MetaData``
(alerts, rollouts, locks): one transaction in a worker thread, and times stored as naive UTC.

    rows = await run_in_transaction(engine, lambda conn: conn.execute(query).all())
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine

__all__ = ["run_in_transaction"]

T = TypeVar("T")


async def run_in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work`` in one transaction, in a worker thread."""

    def transaction() -> T:
        with engine.begin() as conn:
            return work(conn)

    return await asyncio.to_thread(transaction)
