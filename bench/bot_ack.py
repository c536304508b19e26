"""Benchmark: how fast the Slack app acknowledges slash commands, however slow the work.

Slack gives an app 3 seconds to answer a slash command. The bot answers at once and
does the work afterwards. This measures, for N commands sent at the same time over
HTTP (signed, form-encoded, as Slack sends them) to the app on 127.0.0.1:

- ack p50 / p99 / max: the time to the HTTP answer of each command, while the
  backend holds every call (the work cannot finish before all are answered);
- all answered: from the moment the backend lets go until every user has the bot's
  (ephemeral) answer at the Slack stand-in.

Backend: the in-memory fake behind the Backend interface (tests/support), so that
only the bot is measured. Bounded: at most a few hundred requests, on loopback.

Usage::

    python bench/bot_ack.py [--counts 1 20 100 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import Endpoint
from tests.bot.harness import ENDPOINT, make_settings, running_bot, seeded_backend


class GatedBackend(FakeBackend):
    """The in-memory backend whose get_endpoint waits for the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def get_endpoint(self, name: str) -> Endpoint:
        await self.gate.wait()
        return await super().get_endpoint(name)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(count: int) -> tuple[float, float, float, float]:
    seeded = await seeded_backend()
    backend = GatedBackend()
    backend.endpoints, backend.specs, backend.models = seeded.endpoints, seeded.specs, seeded.models
    with tempfile.TemporaryDirectory() as home:
        async with running_bot(backend=backend, settings=make_settings(Path(home))) as bot:
            users = [f"U0USER{i:04d}" for i in range(count)]
            answers = await asyncio.gather(
                *(bot.slash("/traffic", ENDPOINT, user=user) for user in users)
            )
            assert all(a.status == 200 for a in answers)
            acks = [a.seconds * 1000 for a in answers]
            released = time.perf_counter()
            backend.gate.set()
            await bot.settle()
            done = (time.perf_counter() - released) * 1000
            assert len(bot.stub.ephemerals()) == count
    return percentile(acks, 0.5), percentile(acks, 0.99), max(acks), done


async def main(counts: list[int]) -> None:
    print(
        f"Slack app ack times, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), {platform.machine()}"
    )
    print(
        f"{'commands':>8} | {'ack p50 ms':>10} | {'ack p99 ms':>10} | {'ack max ms':>10} | "
        f"{'all answered ms':>15}"
    )
    print("-" * 66)
    for count in counts:
        p50, p99, most, done = await measure(count)
        print(f"{count:>8} | {p50:>10.1f} | {p99:>10.1f} | {most:>10.1f} | {done:>15.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 20, 100, 200])
    args = parser.parse_args()
    if max(args.counts) > 500:
        parser.error("at most 500 concurrent commands")
    asyncio.run(main(args.counts))
