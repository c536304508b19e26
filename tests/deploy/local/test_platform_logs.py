"""Deployment logs: tails of large files, merging instances by timestamp, rotation."""

from __future__ import annotations

from pathlib import Path

from deploy.local.instances.logs import DeploymentLogs, tail_file


def test_tail_file_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_text("".join(f"line {n}\n" for n in range(100_000)))
    assert tail_file(path, 3) == ["line 99997", "line 99998", "line 99999"]
    assert tail_file(path, 1) == ["line 99999"]
    assert tail_file(tmp_path / "absent.log", 5) == []


def test_tail_file_since_an_offset(tmp_path: Path) -> None:
    path = tmp_path / "instance.log"
    path.write_text("old run\nold run 2\n")
    offset = path.stat().st_size
    with path.open("a") as out:
        out.write("new run\n")
    assert tail_file(path, 10, since=offset) == ["new run"]


def test_instances_are_merged_by_time_and_prefixed(tmp_path: Path) -> None:
    logs = DeploymentLogs(folder=tmp_path)
    logs.instance_path("blue-1").write_text(
        "2026-01-01 10:00:01,000 I [1] azmlinfsrv - first\n"
        "Traceback (most recent call last):\n"
        "2026-01-01 10:00:03,000 I [1] azmlinfsrv - third\n"
    )
    logs.instance_path("blue-2").write_text(
        "2026-01-01 10:00:02,000 I [2] azmlinfsrv - second\n"
        "2026-01-01 10:00:04,000 I [2] azmlinfsrv - fourth\n"
    )
    logs.storage("Copying model /m ...")
    merged = logs.tail(lines=10).splitlines()
    assert [line.split(" ", 1)[0] for line in merged] == [
        "[blue-1]",
        "[blue-1]",  # a line without a time keeps its predecessor's place
        "[blue-2]",
        "[blue-1]",
        "[blue-2]",
    ]
    assert merged[1] == "[blue-1] Traceback (most recent call last):"
    assert logs.tail(lines=2).splitlines() == merged[-2:]
    storage = logs.tail(lines=5, container="storage-initializer")
    assert storage.endswith("I storage-initializer - Copying model /m ...\n")


def test_one_instance_is_not_prefixed(tmp_path: Path) -> None:
    logs = DeploymentLogs(folder=tmp_path)
    logs.instance_path("blue-1").write_text("a\nb\n")
    assert logs.tail(lines=1) == "b\n"
    assert DeploymentLogs(folder=tmp_path / "none").tail(lines=5) == ""


def test_a_large_instance_log_is_rotated_at_start(tmp_path: Path) -> None:
    logs = DeploymentLogs(folder=tmp_path)
    path = logs.instance_path("blue-1")
    path.write_bytes(b"x" * (17 * 1024 * 1024))
    again = logs.instance_path("blue-1")
    assert again == path
    assert not again.exists()
    assert (tmp_path / "blue-1.log.1").stat().st_size == 17 * 1024 * 1024
