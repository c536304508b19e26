"""Log rotation and redaction: every platform log is bounded and carries no credential."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from deploy.local.instances.logs import DeploymentLogs, rotate_logs
from deploy.local.logsafety import KnownSecrets, Throttle, redact, rotating_handler

KEY = "Zk3-primary-key-value-0123456789"


def test_redaction_covers_headers_bearers_tokens_and_known_values() -> None:
    secrets = KnownSecrets(["admin-token-abcdefgh"])
    keys = [KEY]
    secrets.add_source(lambda: keys)
    token = "demo.1800000000." + "ab" * 32
    text = (
        f"Authorization: Bearer {KEY}\n{{'Authorization': 'Basic xyz'}}\n"
        f"bearer {token} and admin-token-abcdefgh and raw {KEY}"
    )
    out = redact(text, secrets)
    assert KEY not in out and "admin-token-abcdefgh" not in out and "ab" * 32 not in out
    assert "Basic xyz" not in out
    keys.append("a-regenerated-key-000")  # a key made later is redacted too
    assert "a-regenerated-key-000" not in redact("key a-regenerated-key-000", secrets)


def test_the_daemon_log_rotates_by_size_owner_only_and_redacts_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "daemon.log"
    handler = rotating_handler(path, secrets=KnownSecrets([KEY]), max_bytes=10_000, backups=2)
    log = logging.getLogger("test.rotation")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError(f"a header line: b'Bearer {KEY}\\x01'")
        except ValueError:
            log.exception("failed")
        for number in range(2000):
            log.warning("line %d %s", number, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["daemon.log", "daemon.log.1", "daemon.log.2"]
    assert all(p.stat().st_size <= 10_000 + 200 for p in path.parent.iterdir())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(KEY not in p.read_text() for p in path.parent.iterdir())


def test_instance_logs_are_cut_in_place_and_get_logs_reads_across_the_cut(
    tmp_path: Path,
) -> None:
    logs = DeploymentLogs(folder=tmp_path / "logs" / "ep" / "blue")
    path = logs.instance_path("blue-1")
    with path.open("ab") as out:  # as the instance holds it: appending
        for number in range(100):
            out.write(f"2026-11-24 18:19:{number % 60:02d},000 I line {number}\n".encode())
        out.flush()
        assert rotate_logs(tmp_path / "logs", max_bytes=1000, backups=2) == [path]
        assert path.stat().st_size == 0
        out.write(b"2026-11-24 18:20:00,000 I after the cut\n")
        out.flush()
    tail = logs.tail(lines=3).splitlines()
    assert tail == [
        "2026-11-24 18:19:38,000 I line 98",
        "2026-11-24 18:19:39,000 I line 99",
        "2026-11-24 18:20:00,000 I after the cut",
    ]
    assert path.stat().st_size < 100  # writes after the cut start at the beginning


def test_the_storage_initializer_log_rotates_too(tmp_path: Path) -> None:
    logs = DeploymentLogs(folder=tmp_path)
    logs.storage_path.write_text("x" * (17 * 1024 * 1024))
    logs.storage("Copying model ...")
    assert logs.storage_path.stat().st_size < 100
    assert (tmp_path / "storage-initializer.log.1").exists()


def test_a_throttle_lets_one_through_a_second_with_the_count_held_back() -> None:
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    assert throttle.due() == 0
    assert [throttle.due() for _ in range(5)] == [None] * 5
    now[0] = 1.5
    assert throttle.due() == 5
