"""scoring/fastserve/turns.py: the loop's turns, counted by its selector."""

from __future__ import annotations

import asyncio
import socket

from fastserve.turns import TurnCounter


def test_what_one_turn_reads_shares_a_count_and_call_soon_comes_in_the_next() -> None:
    counter = TurnCounter()
    seen: dict[str, int] = {}
    pairs = [socket.socketpair() for _ in range(3)]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def later() -> None:
            seen["call_soon"] = counter.turns
            done.set_result(None)

        def readable(index: int, sock: socket.socket) -> None:
            sock.recv(16)
            loop.remove_reader(sock)
            seen[f"read {index}"] = counter.turns
            if len(seen) == len(pairs):
                loop.call_soon(later)

        for index, (reader, _) in enumerate(pairs):
            reader.setblocking(False)
            loop.add_reader(reader, readable, index, reader)
        for _, writer in pairs:  # all readable before the loop next selects
            writer.send(b"x")
        await done

    try:
        with asyncio.Runner(loop_factory=counter.new_loop) as runner:
            runner.run(main())
    finally:
        for reader, writer in pairs:
            reader.close()
            writer.close()
    reads = {seen[f"read {index}"] for index in range(len(pairs))}
    assert len(reads) == 1
    assert seen["call_soon"] == reads.pop() + 1
