"""The Slack stand-in's HTTP server (aiohttp on 127.0.0.1, a free port), as strict as Slack.

Every Web API call goes through what Slack does before a method runs, in Slack's order:
the token (``invalid_auth``; ``not_allowed_token_type`` for apps.connections.open
without an ``xapp-`` token), the scope (``missing_scope`` with ``needed`` and
``provided``), an injected fault if a test asked for one (``faults``), the rate limit
(``limits``: HTTP 429, ``Retry-After``), then the method (``workspace``), whose refusals
carry Slack's error codes (``checks``).

``response_url`` posts follow https://api.slack.com/interactivity/handling#message_responses:
at most five uses within 30 minutes; beyond, HTTP 404 with ``used_url`` or
``expired_url``; a message without text or blocks is ``no_text`` and bad blocks are
``invalid_blocks`` (HTTP 400 with the code as the body).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.offline.slackstub.checks import Refusal, check_blocks, check_text
from bot.offline.slackstub.faults import HTML_ERROR_PAGE, Fault
from bot.offline.slackstub.limits import RateLimiter, RateLimits
from bot.offline.slackstub.scopes import MANIFEST_SCOPES, needed_scope
from bot.offline.slackstub.socket_mode import SocketModeStandIn
from bot.offline.slackstub.state import (
    ApiCall,
    Directory,
    Event,
    StubChannel,
    StubFile,
    StubMessage,
)
from bot.offline.slackstub.wire import read_body
from bot.offline.slackstub.workspace import MAX_FILE_BYTES, Answer, Workspace

__all__ = ["RESPONSE_URL_SECONDS", "RESPONSE_URL_USES", "SlackStub"]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Answer]

#: Slack accepts a response_url this many times ...
RESPONSE_URL_USES = 5
#: ... within this many seconds.
RESPONSE_URL_SECONDS = 30 * 60


@dataclass(kw_only=True)
class _ResponseUrl:
    user: str
    channel: str
    message_ts: str | None
    issued: float
    uses: int = 0


class SlackStub:
    """A local Slack Web API that refuses what Slack refuses and records every call.

        stub = SlackStub(token="xoxb-test", directory=Directory(channels={"C1": ["U1"]}))
        await stub.start()
        client = AsyncWebClient(token="xoxb-test", base_url=stub.api_url)
        stub.inject("chat.postMessage", Fault.server_error(503))
        stub.remove_bot("C1")            # the next post answers not_in_channel

    The bot is a member of every channel of ``directory`` unless ``invited=False``.
    ``clock`` (seconds, monotonic) drives the rate limits and response_url expiry.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        team_id: str = "T0FLIGHTDK",
        bot_user_id: str = "U0FLIGHTBOT",
        bot_id: str = "B0FLIGHTBOT",
        directory: Directory | None = None,
        host: str = "127.0.0.1",
        app_token: str | None = None,
        scopes: Collection[str] = MANIFEST_SCOPES,
        limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        invited: bool = True,
        page_size: int = 100,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.host = host
        self.port = 0
        self.scopes = frozenset(scopes)
        self.clock = clock
        self.limiter = RateLimiter(limits or RateLimits(), clock=clock)
        self.workspace = Workspace(
            directory=directory or Directory(),
            bot_user_id=bot_user_id,
            base_url=lambda: self.base_url,
            invited=invited,
            page_size=page_size,
        )
        self.calls: list[ApiCall] = []
        #: Calls answered 429 (method, channel), in order.
        self.throttled: list[tuple[str, str]] = []
        #: Indexes of the recorded Web API calls that were carried out (answered ``ok``).
        self._done: set[int] = set()
        #: Calls the workspace refused (method, error), in order.
        self.refused: list[tuple[str, str]] = []
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._runner: web.AppRunner | None = None
        self.socket_mode = SocketModeStandIn(record=self._record)
        ws = self.workspace
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": ws.post_message,
            "chat.update": ws.update,
            "chat.postEphemeral": ws.post_ephemeral,
            "files.getUploadURLExternal": ws.get_upload_url,
            "files.completeUploadExternal": ws.complete_upload,
            "usergroups.list": ws.usergroups_list,
            "usergroups.users.list": ws.usergroups_users,
            "conversations.members": ws.conversation_members,
            "conversations.info": ws.conversation_info,
            "apps.connections.open": self._connections_open,
        }

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on a free port of ``host``."""
        # Uploads of up to Slack's 1 GB are streamed and counted, not held (``_upload``).
        app = web.Application(client_max_size=MAX_FILE_BYTES + 2**20)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/socket-mode", self.socket_mode.connection)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close the Socket Mode connections and stop listening."""
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/``."""
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """The Web API base URL to give ``AsyncWebClient(base_url=...)``."""
        return self.base_url + "api/"

    # ------------------------------------------------------------ the workspace

    @property
    def directory(self) -> Directory:
        """The workspace's people and channels as given."""
        return self.workspace.directory

    @property
    def messages(self) -> dict[tuple[str, str], StubMessage]:
        """Messages by (channel, ts)."""
        return self.workspace.messages

    @property
    def files(self) -> dict[str, StubFile]:
        """Shared files by id."""
        return self.workspace.files

    @property
    def events(self) -> list[Event]:
        """What users saw appear, in order."""
        return self.workspace.events

    @property
    def channels(self) -> dict[str, StubChannel]:
        """Channels by id."""
        return self.workspace.channels

    def add_channel(
        self,
        channel: str,
        *,
        members: Collection[str] = (),
        bot: bool = True,
        private: bool = False,
        name: str | None = None,
    ) -> StubChannel:
        """Create ``channel`` with ``members`` (and the bot, when ``bot``)."""
        return self.workspace.add_channel(
            channel, name=name, members=list(members), bot=bot, private=private
        )

    def remove_bot(self, channel: str) -> None:
        """The bot leaves ``channel`` (posts then answer ``not_in_channel``)."""
        found = self.channels[channel]
        found.members = [m for m in found.members if m != self.bot_user_id]

    def invite_bot(self, channel: str) -> None:
        """``/invite @Flightdeck`` in ``channel``."""
        found = self.channels[channel]
        if self.bot_user_id not in found.members:
            found.members.append(self.bot_user_id)

    def archive(self, channel: str) -> None:
        """Archive ``channel`` (posts then answer ``is_archived``)."""
        self.channels[channel].is_archived = True

    def dm_channel(self, user: str) -> str:
        """The bot's direct-message channel with ``user`` (where posts to ``user`` go)."""
        return self.workspace.dm_channel(user)

    # ------------------------------------------------------------ test helpers

    def response_url(self, *, user: str, channel: str, message_ts: str | None = None) -> str:
        """A fresh response_url for a request by ``user`` in ``channel``."""
        key = secrets.token_hex(8)
        self._response_urls[key] = _ResponseUrl(
            user=user, channel=channel, message_ts=message_ts, issued=self.clock()
        )
        return f"{self.base_url}respond/{key}"

    def inject(self, method: str, fault: Fault, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` (a Web API method, ``upload`` or
        ``response_url``) fail with ``fault`` (see ``faults``)."""
        self._faults.setdefault(method, []).extend([fault] * times)

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self.inject(method, Fault.error_code(error), times=times)

    def pending_faults(self, method: str) -> int:
        """Injected faults of ``method`` not yet used."""
        return len(self._faults.get(method, []))

    def calls_to(self, *methods: str) -> list[ApiCall]:
        """The recorded calls of these methods, in order."""
        return [call for call in self.calls if call.method in methods]

    def done_calls(self, *methods: str) -> list[ApiCall]:
        """The Web API calls of these methods that were carried out: not throttled (429),
        refused with an error, or answered by an injected fault. A call retried after a 429
        is recorded twice and done once."""
        return [call for call in self.calls_to(*methods) if call.index in self._done]

    def channel_messages(self, channel: str) -> list[StubMessage]:
        """The channel's messages as shown now, oldest first."""
        found = [m for (c, _), m in self.messages.items() if c == channel]
        return sorted(found, key=lambda m: float(m.ts))

    def ephemerals(self, user: str | None = None) -> list[StubMessage]:
        """Ephemeral messages (to ``user`` when given), oldest first."""
        return [
            e.message
            for e in self.events
            if e.kind == "ephemeral" and e.message and (user is None or e.user == user)
        ]

    async def wait_for_socket(self, *, deadline: float) -> bool:
        """Wait until an app connects in Socket Mode; False after ``deadline`` seconds."""
        return await self.socket_mode.wait(deadline=deadline)

    async def socket_send(self, kind: str, payload: Mapping[str, Any]) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``) over Socket Mode; its id."""
        return await self.socket_mode.send(kind, payload)

    @property
    def socket_acks(self) -> list[dict[str, Any]]:
        """What the app answered on the Socket Mode connection (envelope acks), in order."""
        return self.socket_mode.acks

    # ------------------------------------------------------------ routes

    async def _record(self, method: str, body: Mapping[str, Any], token: str | None) -> ApiCall:
        call = ApiCall(index=len(self.calls), method=method, body=body, token=token)
        self.calls.append(call)
        return call

    async def _fault(self, method: str, request: web.Request) -> web.StreamResponse | None:
        """The injected fault's answer for this call, if one is due (``None`` after a slow
        one: the call then goes on)."""
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue.pop(0)
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if fault.kind == "html":
            return web.Response(status=fault.status, text=HTML_ERROR_PAGE, content_type="text/html")
        if fault.kind == "ratelimited":
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        return web.json_response({"ok": False, "error": fault.error}, status=fault.status)

    def _refuse_scope(self, method: str, body: Mapping[str, Any]) -> Answer | None:
        channel = self.channels.get(str(body.get("channel") or ""))
        needed = needed_scope(method, private=channel is not None and channel.is_private)
        if needed is None or needed in self.scopes:
            return None
        return {
            "ok": False,
            "error": "missing_scope",
            "needed": needed,
            "provided": ",".join(sorted(self.scopes)),
        }

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        body = await read_body(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or body.pop("token", None)
        call = await self._record(method, body, token)
        expected = self.app_token if method == "apps.connections.open" else self.token
        if method == "apps.connections.open" and not (token or "").startswith("xapp-"):
            return web.json_response({"ok": False, "error": "not_allowed_token_type"})
        if expected is not None and token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        refused = self._refuse_scope(method, body)
        if refused is not None:
            return web.json_response(refused)
        injected = await self._fault(method, request)
        if injected is not None:
            return injected
        handler = self._handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        channel = str(body.get("channel") or "")
        wait = self.limiter.admit(method, channel=channel)
        if wait is not None:
            self.throttled.append((method, channel))
            log.info("stand-in rate-limited %s in %r for %s s", method, channel, wait)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        try:
            answer = handler(body)
            self._done.add(call.index)
        except Refusal as refusal:
            answer = refusal.answer()
            self.refused.append((method, refusal.error))
            log.info("stand-in refused %s: %s", method, answer)
        headers = {"X-OAuth-Scopes": ",".join(sorted(self.scopes))}
        return web.json_response(answer, headers=headers)

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        injected = await self._fault("upload", request)
        if injected is not None:
            await self._record("upload", {"file_id": file_id, "length": 0}, None)
            return injected
        pending = self.workspace.pending_files.get(file_id)
        kept = bytearray()
        size = 0
        async for chunk in request.content.iter_chunked(2**16):
            size += len(chunk)
            room = self.workspace.keep_bytes - len(kept)
            if room > 0:
                kept += chunk[:room]
        await self._record("upload", {"file_id": file_id, "length": size}, None)
        if pending is None:
            return web.Response(status=404, text="unknown upload")
        if size > MAX_FILE_BYTES:
            return web.Response(status=413, text="file_size_exceeded")
        pending["content"] = bytes(kept)
        pending["size"] = size
        return web.Response(status=200, text="OK - " + str(size))

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        body = await read_body(request)
        await self._record("response_url", body, None)
        injected = await self._fault("response_url", request)
        if injected is not None:
            return injected
        target = self._response_urls.get(key)
        if target is None:
            return web.Response(status=404, text="invalid_url")
        if self.clock() - target.issued > RESPONSE_URL_SECONDS:
            return web.Response(status=404, text="expired_url")
        if target.uses >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        try:
            text = str(body.get("text") or "")
            blocks = check_blocks(body.get("blocks"))
            if not body.get("delete_original"):
                check_text(text, blocks)
        except Refusal as refusal:
            return web.Response(status=400, text=refusal.error)
        target.uses += 1
        return self._show_response(target, body, text, blocks)

    def _show_response(
        self, target: _ResponseUrl, body: Mapping[str, Any], text: str, blocks: list[dict[str, Any]]
    ) -> web.Response:
        ws = self.workspace
        if (body.get("replace_original") or body.get("delete_original")) and target.message_ts:
            found = self.messages.get((target.channel, target.message_ts))
            if found is not None:
                if body.get("delete_original"):
                    del self.messages[(target.channel, target.message_ts)]
                else:
                    ws.change(found, text=text, blocks=blocks)
                return web.Response(text="ok")
        if body.get("response_type") == "in_channel":
            ws.new_message(target.channel, text, blocks)
        else:
            ws.ephemeral(target.channel, target.user, text, blocks)
        return web.Response(text="ok")

    # ------------------------------------------------------------ methods of its own

    def _auth_test(self, body: dict[str, Any]) -> Answer:
        return {
            "ok": True,
            "url": "https://flightdeck-stand-in.slack.com/",
            "team": "Flightdeck stand-in",
            "user": "flightdeck",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _connections_open(self, body: dict[str, Any]) -> Answer:
        return {"ok": True, "url": f"ws://{self.host}:{self.port}/socket-mode"}
