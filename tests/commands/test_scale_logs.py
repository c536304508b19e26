"""/scale and /logs: parsing, checks, and what they render."""

from __future__ import annotations

import pytest

from commands import logs, scale
from commands.errors import UsageError
from commands.scale import Autoscale, ScaleTo, ShowScale
from deploy.errors import ValidationError
from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import AutoscalePolicy

EP = "product-recommender"


async def _say(line: str) -> None:
    del line


def test_scale_parse() -> None:
    assert scale.parse(f"{EP} blue") == ShowScale(endpoint=EP, deployment="blue")
    assert scale.parse(f"{EP} blue 3") == ScaleTo(endpoint=EP, deployment="blue", count=3)
    assert scale.parse(f"{EP} blue --min 2 --max 10 --target 70") == Autoscale(
        endpoint=EP,
        deployment="blue",
        policy=AutoscalePolicy(min_instances=2, max_instances=10, target_utilization_percentage=70),
    )
    assert scale.parse(f"{EP} blue --autoscale off") == Autoscale(
        endpoint=EP, deployment="blue", policy=None
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"{EP}", "Name the endpoint and the deployment."),
        (f"{EP} blue 0", "`count` must be between 1 and 50, not 0."),
        (f"{EP} blue 3 --min 1 --max 2", "either a count or `--min/--max`"),
        (f"{EP} blue --min 2", "needs both `--min` and `--max`"),
        (f"{EP} blue --min 5 --max 2", "`--max` (2) must not be below `--min` (5)"),
        (f"{EP} blue --min 1 --max 2 --target 101", "between 1 and 100"),
        (f"{EP} blue --autoscale on", "`--autoscale` takes only `off`"),
    ],
)
def test_scale_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        scale.parse(text)
    assert problem in caught.value.problem


async def test_scale_check_and_execute(backend: FakeBackend) -> None:
    with pytest.raises(ValidationError, match="already runs 1 instance"):
        await scale.check(backend, ScaleTo(endpoint=EP, deployment="blue", count=1))
    with pytest.raises(ValidationError, match="no autoscale policy to remove"):
        await scale.check(backend, Autoscale(endpoint=EP, deployment="blue", policy=None))
    request = ScaleTo(endpoint=EP, deployment="blue", count=3)
    await scale.check(backend, request)
    done = await scale.execute(backend, request, progress=_say)
    assert done.instance_count == 3
    policy = AutoscalePolicy(min_instances=2, max_instances=4)
    auto = await scale.execute(
        backend, Autoscale(endpoint=EP, deployment="blue", policy=policy), progress=_say
    )
    assert auto.autoscale == policy
    text = scale.render_done(request, auto, user="<@U1>").block_dicts()[1]["text"]["text"]
    assert "3 x Standard_DS3_v2" in text and "Autoscale: 2-4 instances at 70%" in text


def test_logs_parse() -> None:
    request = logs.parse(f"{EP} blue --lines 500 --container storage-initializer --grep ERROR")
    assert request == logs.LogsRequest(
        endpoint=EP, deployment="blue", lines=500, container="storage-initializer", grep="ERROR"
    )
    with pytest.raises(UsageError, match="`--container web` is unknown"):
        logs.parse(f"{EP} blue --container web")
    with pytest.raises(UsageError, match="between 1 and 5000"):
        logs.parse(f"{EP} blue --lines 5001")


async def test_logs_grep_and_rendering(backend: FakeBackend) -> None:
    request = logs.LogsRequest(endpoint=EP, deployment="blue", lines=50, grep="LINE 16")
    lines = await logs.execute(backend, request)
    assert lines == [f"inference-server line {i}" for i in range(160, 170)]
    reply = logs.render(request, lines)
    assert reply.file is None
    assert "containing `LINE 16`" in reply.block_dicts()[1]["elements"][0]["text"]


def test_long_or_hostile_logs() -> None:
    request = logs.LogsRequest(endpoint=EP, deployment="blue", lines=2000)
    lines = [f"<@U0ADMIN> ``` line {i} " + "x" * 60 for i in range(2000)]
    reply = logs.render(request, lines)
    blocks = reply.block_dicts()
    code = blocks[2]["text"]["text"]
    assert len(code) <= 3000
    assert "line 1999" in code and "earlier line(s) in the file" in code
    assert "<@U0ADMIN>" not in code and "&lt;@U0ADMIN&gt;" in code
    assert code.count("```") == 2
    assert reply.file is not None and isinstance(reply.file.content, str)
    assert reply.file.content.count("\n") == 2000
    empty = logs.render(request, [])
    assert empty.file is None and "No log lines yet." in str(empty.block_dicts())


def test_logs_whose_file_was_not_attached_keep_the_end_and_say_why() -> None:
    request = logs.LogsRequest(endpoint=EP, deployment="blue", lines=2000)
    lines = [f"line {i} " + "x" * 60 for i in range(2000)]
    reply = logs.render(request, lines, file_error="the app lacks the `files:write` scope.")
    assert reply.file is None
    blocks = reply.block_dicts()
    what = blocks[1]["elements"][0]["text"]
    assert "could not be attached: the app lacks the `files:write` scope." in what
    assert "all of it in the file" not in what and "all 2000" in what
    code = blocks[2]["text"]["text"]
    assert "line 1999" in code and "earlier line(s) left out" in code
    assert "in the file" not in code
    assert code.count("```") == 2
