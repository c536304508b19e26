"""The workspace's storage account, as Blob Storage answers: what uploads go through.

azure-ai-ml uploads a local model path or code folder with azure-storage-blob:
the model to the default datastore (``workspaceblobstore``: an account key from
``listSecrets``, or the caller's identity when the datastore is identity-based), the
code to a temporary blob reference (a SAS URI from ``startPendingUpload``). Its
calls: ``HEAD`` a blob (Get Blob Properties: is this content, by hash, there already?),
``PUT`` each file (Put Blob), ``PUT ?comp=metadata`` on the first file (Set Blob
Metadata: the upload is confirmed). Errors carry ``x-ms-error-code`` and an XML body
(https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes): an
identity without a data role gets 403 ``AuthorizationPermissionMismatch``
(https://learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory:
reading and writing blob data with Microsoft Entra ID needs a data role such as Storage
Blob Data Contributor; an Owner or Contributor role on the account is not enough).

The storage clients the SDK builds do not receive MLClient's transport; the azure
backend hands them its injected transport (``deploy.azure.storage``), so with
``transport=fake`` their requests reach ``FakeArm``, which routes the account's host here.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from tests.support.fake_arm_http import Call, Reply

if TYPE_CHECKING:
    from tests.support.fake_arm import FakeArm

__all__ = ["BLOB_HOST_SUFFIX", "StorageService"]

BLOB_HOST_SUFFIX = ".blob.core.windows.net"
_DENIED = "This request is not authorized to perform this operation using this permission."


class StorageService:
    """One storage account: blobs by ``container/name``, its key, the SAS tokens issued."""

    def __init__(self, arm: FakeArm, *, account: str = "stflightdeck") -> None:
        self.arm = arm
        self.account = account
        self.container = "azureml-blobstore-5e1f0c2a"
        self.key = base64.b64encode(secrets.token_bytes(32)).decode()
        #: The default datastore uses the caller's identity (credentialsType None).
        self.identity_based = False
        #: Flightdeck's identity holds Storage Blob Data Contributor on the account.
        self.data_contributor = True
        self.blobs: dict[str, dict[str, Any]] = {}
        self.sas_tokens: set[str] = set()
        self.requests: list[Call] = []

    @property
    def host(self) -> str:
        """The account's blob endpoint host."""
        return f"{self.account}{BLOB_HOST_SUFFIX}"

    def uploads(self) -> list[str]:
        """The blob names written (Put Blob), in order."""
        return [
            c.path.lstrip("/")
            for c in self.requests
            if c.method == "PUT" and "comp" not in c.query and c.host == self.host
        ]

    def issue_sas(self, path: str) -> str:
        """A SAS URI for a temporary blob reference under ``path``."""
        token = secrets.token_urlsafe(16)
        self.sas_tokens.add(token)
        return f"https://{self.host}/{path}?sv=2021-08-06&sr=d&sp=racwl&sig={token}"

    # ------------------------------------------------------------ dispatch

    def handle(self, call: Call) -> Reply:
        """Answer one Blob Storage request."""
        self.requests.append(call)
        if call.host != self.host:
            return _error(404, "ResourceNotFound", "The specified resource does not exist.")
        refused = self._authorize(call)
        if refused is not None:
            return refused
        name = call.path.lstrip("/")
        comp = call.query.get("comp")
        if call.method == "HEAD":
            return self._properties(name)
        if call.method == "GET" and comp is None:
            found = self.blobs.get(name)
            if found is None:
                return _error(404, "BlobNotFound", "The specified blob does not exist.")
            return Reply(200, found["data"], self._headers(found))
        if call.method == "PUT" and comp == "metadata":
            found = self.blobs.get(name)
            if found is None:
                return _error(404, "BlobNotFound", "The specified blob does not exist.")
            found["metadata"] = _metadata(call)
            return Reply(200, None, self._headers(found, content=False))
        if call.method == "PUT" and comp is None:
            data = call.body if isinstance(call.body, bytes) else _raw(call.body)
            blob = {
                "data": data,
                "metadata": _metadata(call),
                "etag": f'"0x{secrets.token_hex(8)}"',
            }
            self.blobs[name] = blob
            headers = self._headers(blob, content=False)
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            headers["x-ms-request-server-encrypted"] = "true"
            return Reply(201, None, headers)
        return _error(
            400, "UnsupportedHttpVerb", f"The fake storage does not serve {call.method} {comp}."
        )

    def _authorize(self, call: Call) -> Reply | None:
        auth = call.headers.get("authorization", "")
        if auth.startswith("SharedKey "):
            if self.identity_based or not auth.startswith(f"SharedKey {self.account}:"):
                return _error(
                    403, "AuthenticationFailed", "Server failed to authenticate the request."
                )
            return None
        if auth.startswith("Bearer "):
            if not self.data_contributor:
                return _error(403, "AuthorizationPermissionMismatch", _DENIED)
            return None
        if call.query.get("sig") in self.sas_tokens:
            return None
        if "sig" in call.query:
            return _error(403, "AuthenticationFailed", "Signature did not match.")
        return _error(401, "NoAuthenticationInformation", "Authentication information is missing.")

    def _properties(self, name: str) -> Reply:
        found = self.blobs.get(name)
        if found is None:
            return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
        return Reply(200, None, self._headers(found))

    def _headers(self, blob: dict[str, Any], *, content: bool = True) -> dict[str, str]:
        headers = {
            "ETag": blob["etag"],
            "Last-Modified": formatdate(self.arm.clock(), usegmt=True),
            "x-ms-version": "2021-08-06",
        }
        if content:
            headers["x-ms-blob-type"] = "BlockBlob"
            headers["x-ms-content-length"] = str(len(blob["data"]))
            headers.update({f"x-ms-meta-{k}": v for k, v in blob["metadata"].items()})
        return headers


def _metadata(call: Call) -> dict[str, str]:
    return {
        k.removeprefix("x-ms-meta-"): v
        for k, v in call.headers.items()
        if k.startswith("x-ms-meta-")
    }


def _raw(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    import json

    return json.dumps(body).encode()


def _error(status: int, code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}\nRequestId:00000000-0000-0000-0000-"
        "000000000000\nTime:2026-01-01T00:00:00.0000000Z</Message></Error>"
    ).encode()
    return Reply(status, body, {"x-ms-error-code": code, "Content-Type": "application/xml"})
