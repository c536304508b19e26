"""Isolated virtual environments, resolved and installed by uv, built once per content hash.

An environment lives in ``<envs>/<key>/``. It is built in a temporary folder
beside it and renamed into place only when uv succeeded, so a failed or
interrupted build leaves nothing that could be mistaken for a finished one; a
lock file per key makes concurrent builds of one key wait for each other (and
the second then finds the first's result).

The venv is isolated, as a conda environment on Azure is: it sees none of the
platform's packages. ``uv pip install`` resolves the whole requirement set at once
(a conflict fails the build with uv's explanation), downloads what its cache lacks
and hard-links the rest from the cache, so a second environment with the same
packages costs little and needs no network (``UV_OFFLINE=1`` builds from the cache alone).

    base = await inspect_interpreter(sys.executable)
    venv = await ensure_venv(envs, key, base=base, requirements=["joblib"], log=log)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import DeploymentFailedError
from deploy.local.environments import messages as msg
from deploy.local.environments.uvtool import UV_ENV, IndexSettings, uv_binary

__all__ = [
    "CONSTRAINTS",
    "MANIFEST",
    "BaseInterpreter",
    "BuiltVenv",
    "ensure_venv",
    "inspect_interpreter",
    "venv_python",
]

#: Written last into a finished environment: what it was built from.
MANIFEST = "flightdeck-environment.json"
#: The constraints a build used (numpy<2 for old builds, see ``numpy_abi``), kept in the venv.
CONSTRAINTS = "flightdeck-constraints.txt"
_TAIL_LINES = 20
_REASON_LINES = 12
#: Not passed to uv: they would make it install outside the venv or read another interpreter.
_DROPPED_VARIABLES = frozenset({"PYTHONPATH", "PIP_USER", "VIRTUAL_ENV", "UV_SYSTEM_PYTHON"})
_MAX_REWRITE_BYTES = 1 << 20

_INSPECT = """
import importlib.util, json, platform, site, sys
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "version": platform.python_version(),
    "site_dirs": site.getsitepackages(),
    "has_pip": importlib.util.find_spec("pip") is not None,
}))
"""

Log = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class BaseInterpreter:
    """The platform's interpreter, as an environment is layered on it."""

    executable: str
    prefix: str
    version: str
    site_dirs: tuple[str, ...]
    has_pip: bool = True


@dataclass(frozen=True, kw_only=True)
class BuiltVenv:
    """A finished environment: its folder and interpreter; ``built`` is False on a cache hit."""

    path: Path
    python: str
    built: bool


def venv_python(path: Path) -> Path:
    """The interpreter of the venv at ``path``."""
    return path / "bin" / "python"


async def inspect_interpreter(python: str) -> BaseInterpreter:
    """Ask ``python`` for its version and site-packages; ``DeploymentFailedError`` if it fails."""
    try:
        process = await asyncio.create_subprocess_exec(
            python,
            "-c",
            _INSPECT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        message = msg.BASE_PYTHON_FAILED.format(python=python, reason=reason)
        raise DeploymentFailedError(message) from None
    out, err = await process.communicate()
    if process.returncode != 0:
        lines = tuple(err.decode(errors="replace").splitlines()[-_TAIL_LINES:])
        reason = f"exit code {process.returncode}"
        raise DeploymentFailedError(
            msg.BASE_PYTHON_FAILED.format(python=python, reason=reason), log_lines=lines
        )
    data = json.loads(out)
    return BaseInterpreter(
        executable=str(data["executable"]),
        prefix=str(data["prefix"]),
        version=str(data["version"]),
        site_dirs=tuple(str(d) for d in data["site_dirs"]),
        has_pip=bool(data["has_pip"]),
    )


async def ensure_venv(
    envs: Path,
    key: str,
    *,
    base: BaseInterpreter,
    requirements: Sequence[str],
    pip_options: Sequence[str] = (),
    constraints: Sequence[str] = (),
    index: IndexSettings | None = None,
    manifest: dict[str, object] | None = None,
    log: Log,
    output: Log | None = None,
) -> BuiltVenv:
    """The environment ``key`` under ``envs``: the cached one, or one built now.

    ``base.executable`` is the interpreter the venv is made from; ``pip_options`` are
    the conda file's pip options (index URLs...), given to uv; ``constraints`` are
    requirement strings that bound the resolution without being installed; ``index``
    is the machine's index configuration for uv. Steps go to ``log``; the output of
    uv, line by line, to ``output`` (default: ``log`` too).

    ``DeploymentFailedError`` (with uv's message) when resolving or installing fails;
    nothing is left behind.
    """
    await asyncio.to_thread(envs.mkdir, parents=True, exist_ok=True)
    final = envs / key
    async with _key_lock(envs / f".{key}.lock", key=key, log=log):
        if _finished(final):
            await log(msg.ENVIRONMENT_CACHED.format(key=key, path=final))
            return BuiltVenv(path=final, python=str(venv_python(final)), built=False)
        await asyncio.to_thread(_clear_leftovers, envs, key)
        started = time.monotonic()
        await log(
            msg.ENVIRONMENT_BUILDING.format(
                key=key, version=base.version, requirements=", ".join(requirements) or "-"
            )
        )
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=envs))
        os.chmod(staging, 0o755)  # mkdtemp makes it private; instances only read it
        try:
            await _build(
                staging,
                key=key,
                base=base,
                requirements=requirements,
                options=pip_options,
                constraints=constraints,
                index=index or IndexSettings(),
                log=log,
                output=output or log,
            )
            record = {"key": key, "requirements": list(requirements), **(manifest or {})}
            _finish(staging, final, record)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        seconds = time.monotonic() - started
        await log(msg.ENVIRONMENT_READY.format(key=key, seconds=seconds, path=final))
        return BuiltVenv(path=final, python=str(venv_python(final)), built=True)


def _finished(final: Path) -> bool:
    return (final / MANIFEST).is_file() and venv_python(final).exists()


def _clear_leftovers(envs: Path, key: str) -> None:
    """Remove what an interrupted build of ``key`` left (the caller holds its lock)."""
    shutil.rmtree(envs / key, ignore_errors=True)
    for stale in envs.glob(f".tmp-{key}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _finish(staging: Path, final: Path, record: dict[str, object]) -> None:
    """Write the manifest last, fix the scripts' paths and rename the build into place."""
    (staging / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    _relocate_scripts(staging, final)
    os.rename(staging, final)


# ---------------------------------------------------------------- building


async def _build(
    folder: Path,
    *,
    key: str,
    base: BaseInterpreter,
    requirements: Sequence[str],
    options: Sequence[str],
    constraints: Sequence[str],
    index: IndexSettings,
    log: Log,
    output: Log,
) -> None:
    await log(msg.ENVIRONMENT_CREATING_VENV.format(python=base.executable))
    uv = uv_binary()
    venv_command = [uv, "venv", "--no-python-downloads", "--relocatable", "--python"]
    await _run([*venv_command, base.executable, str(folder)], cwd=folder, key=key, log=output)
    if not requirements:
        return
    command = [uv, "pip", "install", "--no-python-downloads", "--python", str(venv_python(folder))]
    if constraints:
        (folder / CONSTRAINTS).write_text("".join(f"{c}\n" for c in constraints), "utf-8")
        command += ["--constraint", str(folder / CONSTRAINTS)]
    await log(msg.ENVIRONMENT_INSTALL.format(count=len(requirements)))
    command += [*_machine_options(index.options, options), *_uv_options(options), *requirements]
    await _run(command, cwd=folder, key=key, log=output, extra_env=index.environment)


def _machine_options(machine: Sequence[str], user: Sequence[str]) -> list[str]:
    """The machine's index options, less its index URL when the conda file names its own."""
    if "--index-url" not in user and "-i" not in user:
        return list(machine)
    kept: list[str] = []
    pairs = zip(machine[::2], machine[1::2], strict=False)
    for flag, value in pairs:
        if flag != "--index-url":
            kept += [flag, value]
    return kept


def _uv_options(options: Sequence[str]) -> list[str]:
    """A conda file's pip options, as uv spells them."""
    spelled: list[str] = []
    renamed = {"-i": "--index-url", "-f": "--find-links", "--trusted-host": "--allow-insecure-host"}
    for option in options:
        if option == "--pre":
            spelled += ["--prerelease", "allow"]
        elif option == "--prefer-binary":
            continue  # uv prefers wheels already
        else:
            spelled.append(renamed.get(option, option))
    return spelled


async def _run(
    command: Sequence[str],
    *,
    cwd: Path,
    key: str,
    log: Log,
    extra_env: Mapping[str, str] | None = None,
) -> None:
    """Run a uv step, logging its output line by line; fail with uv's message."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
    env.update(UV_ENV)
    env.update(extra_env or {})
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
        env=env,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                lines.append(line)
                await log(f"uv: {line}")
        code = await process.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if code != 0:
        reason = _uv_reason(lines) or f"uv exited with code {code}"
        raise DeploymentFailedError(
            msg.UV_FAILED.format(key=key, reason=reason), log_lines=tuple(lines[-_TAIL_LINES:])
        )


def _uv_reason(lines: Sequence[str]) -> str:
    """uv's error: from its first ``error:`` or ``×`` line on, joined, at most a few lines."""
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("×", "error:")):
            picked = [part.strip() for part in lines[number : number + _REASON_LINES]]
            return " ".join(p for p in picked if p)
    return ""


def _relocate_scripts(staging: Path, final: Path) -> None:
    """Point the scripts pip and venv wrote (shebangs, activate) at the final folder."""
    old, new = str(staging).encode(), str(final).encode()
    for script in (staging / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        if script.stat().st_size > _MAX_REWRITE_BYTES:
            continue
        data = script.read_bytes()
        if old in data:
            script.write_bytes(data.replace(old, new))


# ---------------------------------------------------------------- locking


@contextlib.asynccontextmanager
async def _key_lock(path: Path, *, key: str, log: Log) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (between processes and between tasks)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        await log(msg.ENVIRONMENT_WAITING.format(key=key))
        waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(waiting)
        except BaseException:
            # Cancelled while waiting: close (and so release) once the lock is had.
            waiting.add_done_callback(lambda _: os.close(fd))
            raise
    except BaseException:
        os.close(fd)
        raise
    try:
        yield
    finally:
        os.close(fd)
