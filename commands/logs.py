"""``/logs``: the last lines of a deployment's container logs, in a code block or as a file.

    /logs <endpoint> <deployment> [--lines N] [--container storage-initializer] [--grep TEXT]

``--grep`` keeps the lines among the last N that contain TEXT (any case), as the
brief's example filters ERROR and WARNING lines. Output longer than a message
holds shows its end and comes whole as a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, cast

from commands import messages
from commands.args import is_help, parse_args
from commands.blocks import SECTION_LIMIT, code_block, context, escape, header, tail_to_fit
from commands.reply import FileAttachment, Reply
from deploy.backend import Backend
from deploy.errors import ValidationError
from deploy.rules import validate_name
from deploy.types import ContainerType

__all__ = ["HELP", "LogsHelp", "LogsRequest", "execute", "parse", "render"]

HELP = messages.LOGS_HELP
DEFAULT_LINES = 100
MAX_LINES = 5000
CONTAINERS = ("inference-server", "storage-initializer")
#: Room for the lines inside the code block's section (``` fences and an ellipsis line).
_ROOM = SECTION_LIMIT - 40


@dataclass(frozen=True, kw_only=True)
class LogsHelp:
    """``/logs help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class LogsRequest:
    """``/logs <endpoint> <deployment> ...``."""

    writes: ClassVar[bool] = False
    endpoint: str
    deployment: str
    lines: int = DEFAULT_LINES
    container: ContainerType = "inference-server"
    grep: str | None = None


def parse(text: str) -> LogsHelp | LogsRequest:
    """The typed request for ``text``; ``UsageError`` naming what is wrong."""
    if is_help(text):
        return LogsHelp()
    args = parse_args(text, help_text=HELP, options={"--lines", "--container", "--grep"})
    if len(args.positionals) < 2:
        raise args.usage(messages.LOGS_MISSING_NAMES)
    if len(args.positionals) > 2:
        raise args.usage(messages.UNEXPECTED.format(words=" ".join(args.positionals[2:])))
    endpoint, deployment = args.positionals
    for kind, name in (("endpoint", endpoint), ("deployment", deployment)):
        try:
            validate_name(kind, name)
        except ValidationError as exc:
            raise args.usage(exc.message) from None
    container = args.options.get("--container", "inference-server")
    if container not in CONTAINERS:
        raise args.usage(messages.LOGS_BAD_CONTAINER.format(container=container))
    lines = args.int_option("--lines", default=DEFAULT_LINES, low=1, high=MAX_LINES)
    return LogsRequest(
        endpoint=endpoint,
        deployment=deployment,
        lines=lines or DEFAULT_LINES,
        container=cast(ContainerType, container),
        grep=args.options.get("--grep"),
    )


async def execute(backend: Backend, request: LogsRequest) -> list[str]:
    """The requested lines (filtered by ``--grep``)."""
    text = await backend.get_logs(
        request.endpoint, request.deployment, lines=request.lines, container=request.container
    )
    lines = text.splitlines()[-request.lines :]
    if request.grep:
        needle = request.grep.lower()
        lines = [line for line in lines if needle in line.lower()]
    return lines


def render(request: LogsRequest, lines: list[str], *, file_error: str | None = None) -> Reply:
    """A code block with the lines; when they do not fit, their end and the whole as a file.

    ``file_error`` (mrkdwn: why the file could not be attached) renders the message as it
    stays when the upload failed: the last lines that fit, and why the rest is missing.
    """
    title = messages.LOGS_TITLE.format(
        container=request.container, deployment=request.deployment, endpoint=request.endpoint
    )
    what = messages.LOGS_WHAT.format(count=len(lines), asked=request.lines)
    if request.grep:
        what += messages.LOGS_MATCHING.format(grep=escape(request.grep))
    if not lines:
        empty = messages.LOGS_NO_MATCH if request.grep else messages.LOGS_EMPTY
        return Reply(text=title, blocks=(header(title), context(what), context(empty)))
    kept, left_out = tail_to_fit([escape(line) for line in lines], _ROOM)
    attachment = None
    if left_out and file_error is not None:
        cut = messages.LOGS_CUT_NO_FILE.format(count=left_out)
        shown = [cut, *lines[-len(kept) :]] if kept else []
        what += "\n" + messages.LOGS_FILE_FAILED.format(
            shown=len(kept), count=len(lines), why=file_error
        )
    elif left_out:
        shown = [messages.LOGS_CUT.format(count=left_out), *lines[-len(kept) :]] if kept else []
        what += " " + messages.LOGS_AS_FILE
        attachment = FileAttachment(
            filename=f"{request.endpoint}-{request.deployment}-{request.container}.log",
            title=title,
            content="\n".join(lines) + "\n",
        )
    else:
        shown = lines
    blocks = (header(title), context(what), code_block("\n".join(shown)))
    return Reply(text=title, blocks=blocks, file=attachment)
