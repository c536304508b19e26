"""The Slack stand-in's HTTP server (aiohttp on 127.0.0.1, a free port)."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.offline.slackstub.socket_mode import SocketModeStandIn
from bot.offline.slackstub.state import ApiCall, Directory, Event, EventKind, StubFile, StubMessage
from bot.offline.slackstub.wire import blocks_of, message_json, read_body

__all__ = ["SlackStub"]

Answer = dict[str, Any]
Handler = Callable[[dict[str, Any]], Answer]

#: Slack accepts a response_url this many times.
RESPONSE_URL_USES = 5


@dataclass(kw_only=True)
class _ResponseUrl:
    user: str
    channel: str
    message_ts: str | None
    uses: int = 0


class SlackStub:
    """A local Slack Web API that records every call (see the package docstring)."""

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
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.directory = directory or Directory()
        self.host = host
        self.port = 0
        self.calls: list[ApiCall] = []
        self.events: list[Event] = []
        self.messages: dict[tuple[str, str], StubMessage] = {}
        self.files: dict[str, StubFile] = {}
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._failures: dict[str, list[str]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.socket_mode = SocketModeStandIn(record=self._record)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users,
            "conversations.members": self._conversation_members,
            "apps.connections.open": self._connections_open,
        }

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on a free port of ``host``."""
        app = web.Application()
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

    # ------------------------------------------------------------ test helpers

    def response_url(self, *, user: str, channel: str, message_ts: str | None = None) -> str:
        """A fresh response_url for a request by ``user`` in ``channel``."""
        key = secrets.token_hex(8)
        self._response_urls[key] = _ResponseUrl(user=user, channel=channel, message_ts=message_ts)
        return f"{self.base_url}respond/{key}"

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._failures.setdefault(method, []).extend([error] * times)

    def calls_to(self, *methods: str) -> list[ApiCall]:
        """The recorded calls of these methods, in order."""
        return [call for call in self.calls if call.method in methods]

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

    # ------------------------------------------------------------ routes

    async def _record(self, method: str, body: Mapping[str, Any], token: str | None) -> None:
        self.calls.append(ApiCall(index=len(self.calls), method=method, body=body, token=token))

    def _event(self, kind: EventKind, **fields: Any) -> None:
        self.events.append(Event(index=len(self.events), kind=kind, **fields))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await read_body(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or body.pop("token", None)
        await self._record(method, body, token)
        expected = self.app_token if method == "apps.connections.open" else self.token
        if method == "apps.connections.open" and not (token or "").startswith("xapp-"):
            return web.json_response({"ok": False, "error": "not_allowed_token_type"})
        if expected is not None and token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        failures = self._failures.get(method)
        if failures:
            return web.json_response({"ok": False, "error": failures.pop(0)})
        handler = self._handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(body))

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

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        await self._record("upload", {"file_id": file_id, "length": len(data)}, None)
        pending = self._pending_files.get(file_id)
        if pending is None:
            return web.Response(status=404, text="unknown upload")
        pending["content"] = data
        return web.Response(status=200, text="OK - " + str(len(data)))

    async def _respond(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        body = await read_body(request)
        await self._record("response_url", body, None)
        target = self._response_urls.get(key)
        if target is None or target.uses >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        target.uses += 1
        blocks = blocks_of(body.get("blocks"))
        text = str(body.get("text") or "")
        if body.get("replace_original") and target.message_ts:
            found = self.messages.get((target.channel, target.message_ts))
            if found is not None:
                self._change(found, text=text, blocks=blocks)
                return web.Response(text="ok")
        if body.get("response_type") == "in_channel":
            self._new_message(target.channel, text, blocks)
        else:
            message = StubMessage(
                channel=target.channel,
                ts=self._next_ts(),
                text=text,
                blocks=blocks,
                user=self.bot_user_id,
                ephemeral_to=target.user,
            )
            self._event("ephemeral", channel=target.channel, user=target.user, message=message)
        return web.Response(text="ok")

    # ------------------------------------------------------------ methods

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _new_message(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> StubMessage:
        ts = self._next_ts()
        message = StubMessage(
            channel=channel, ts=ts, text=text, blocks=blocks, user=self.bot_user_id
        )
        self.messages[(channel, ts)] = message
        self._event("posted", channel=channel, ts=ts, message=message)
        return message

    def _change(self, message: StubMessage, *, text: str, blocks: list[dict[str, Any]]) -> None:
        message.text = text
        message.blocks = blocks
        message.version += 1
        self._event("updated", channel=message.channel, ts=message.ts, message=message)

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

    def _post_message(self, body: dict[str, Any]) -> Answer:
        channel = str(body.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks = str(body.get("text") or ""), blocks_of(body.get("blocks"))
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        message = self._new_message(channel, text, blocks)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message_json(message)}

    def _update(self, body: dict[str, Any]) -> Answer:
        key = (str(body.get("channel") or ""), str(body.get("ts") or ""))
        found = self.messages.get(key)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        self._change(found, text=str(body.get("text") or ""), blocks=blocks_of(body.get("blocks")))
        return {"ok": True, "channel": key[0], "ts": key[1], "text": found.text}

    def _post_ephemeral(self, body: dict[str, Any]) -> Answer:
        channel, user = str(body.get("channel") or ""), str(body.get("user") or "")
        if not channel or not user:
            return {"ok": False, "error": "channel_not_found" if not channel else "user_not_found"}
        message = StubMessage(
            channel=channel,
            ts=self._next_ts(),
            text=str(body.get("text") or ""),
            blocks=blocks_of(body.get("blocks")),
            user=self.bot_user_id,
            ephemeral_to=user,
        )
        self._event("ephemeral", channel=channel, user=user, message=message)
        return {"ok": True, "message_ts": message.ts}

    def _get_upload_url(self, body: dict[str, Any]) -> Answer:
        if not body.get("filename") or not body.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = "F" + secrets.token_hex(5).upper()
        self._pending_files[file_id] = {"filename": str(body["filename"])}
        return {"ok": True, "upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, body: dict[str, Any]) -> Answer:
        raw = body.get("files")
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        channel = body.get("channel_id") or body.get("channels") or None
        done = []
        for item in items:
            pending = self._pending_files.pop(str(item.get("id")), None)
            if pending is None or "content" not in pending:
                return {"ok": False, "error": "file_not_found"}
            stub_file = StubFile(
                id=str(item["id"]),
                filename=pending["filename"],
                title=str(item.get("title") or pending["filename"]),
                content=pending["content"],
                channel=str(channel) if channel else None,
            )
            self.files[stub_file.id] = stub_file
            if channel:
                self._event("file", channel=str(channel), file=stub_file)
            done.append({"id": stub_file.id, "title": stub_file.title, "name": stub_file.filename})
        return {"ok": True, "files": done}

    def _connections_open(self, body: dict[str, Any]) -> Answer:
        return {"ok": True, "url": f"ws://{self.host}:{self.port}/socket-mode"}

    def _usergroups_list(self, body: dict[str, Any]) -> Answer:
        return {"ok": True, "usergroups": self.directory.usergroup_list()}

    def _usergroups_users(self, body: dict[str, Any]) -> Answer:
        users = self.directory.usergroup_users(str(body.get("usergroup") or ""))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": users}

    def _conversation_members(self, body: dict[str, Any]) -> Answer:
        members: Sequence[str] | None = self.directory.channels.get(str(body.get("channel") or ""))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "members": list(members), "response_metadata": {"next_cursor": ""}}
