"""The fake workspace's assets: code, model and environment versions; its datastore.

A code folder is found by its content hash (``GET codes/{name}/versions?hash=...``)
only once a code version with that hash was created; otherwise the SDK asks for a
temporary blob reference (``POST codes/{name}/versions/{v}/startPendingUpload``, a SAS
URI), uploads the folder to the fake storage account and PUTs the code version. A
model from a local path goes to the default datastore ``workspaceblobstore``
(``GET datastores/workspaceblobstore``; ``POST .../listSecrets`` for its account key
unless it is identity-based). Shapes from the REST API specification's examples
(``examples/Datastore/get.json``, ``listSecrets.json``,
``Workspace/CodeVersion/createOrGetStartPendingUpload.json``). A model version's path
cannot change once registered. Lists come in pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.fake_arm_http import Call, Reply, arm_error, system_data
from tests.support.fake_arm_paging import page

if TYPE_CHECKING:
    from tests.support.fake_arm import FakeArm

__all__ = ["AssetService", "not_found"]


class AssetService:
    """Code, model and environment containers and versions of the fake workspace."""

    def __init__(self, arm: FakeArm) -> None:
        self.arm = arm
        self.assets: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
            "codes": {},
            "models": {},
            "environments": {},
        }

    def _asset_id(self, kind: str, name: str, version: str) -> str:
        return f"{self.arm.workspace_id}/{kind}/{name}/versions/{version}"

    def add_environment(self, name: str, version: str, image: str) -> None:
        """Register an environment (as ``az ml environment create`` would have)."""
        with self.arm.lock:
            self.assets["environments"].setdefault(name, {})[version] = self._asset(
                "environments", name, version, {"image": image, "isAnonymous": False}
            )

    def _containers_get(self, call: Call, kind: str) -> Reply:
        kind = kind.lower()
        items = [self._container(kind, n) for n in self.assets[kind]]
        return page(call, items, self.arm.ml.page_size)

    def _container_get(self, call: Call, kind: str, name: str) -> Reply:
        kind = kind.lower()
        if name not in self.assets[kind]:
            return not_found(self.arm, kind, name)
        return Reply(200, self._container(kind, name))

    def _versions_get(self, call: Call, kind: str, name: str) -> Reply:
        kind = kind.lower()
        if kind == "codes" and "hash" in call.query:
            # Any code version with that content, whatever its name (anonymous code).
            digest = call.query["hash"]
            found = [
                version
                for versions in self.assets["codes"].values()
                for version in versions.values()
                if version["properties"].get("properties", {}).get("hash_sha256") == digest
            ]
            return page(call, found, self.arm.ml.page_size)
        versions = list(self.assets[kind].get(name, {}).values())
        return page(call, versions, self.arm.ml.page_size)

    def _pending_upload_post(self, call: Call, name: str, v: str) -> Reply:
        storage = self.arm.ml.storage
        folder = f"{storage.container}/LocalUpload/{self.arm.new_id()}"
        return Reply(
            200,
            {
                "blobReferenceForConsumption": {
                    "blobUri": f"https://{storage.host}/{folder}",
                    "storageAccountArmId": self._storage_id(),
                    "credential": {"credentialType": "SAS", "sasUri": storage.issue_sas(folder)},
                },
                "pendingUploadId": self.arm.new_id(),
                "pendingUploadType": "TemporaryBlobReference",
            },
        )

    def _datastore_get(self, call: Call, name: str) -> Reply:
        if name != "workspaceblobstore":
            return not_found(self.arm, "datastores", name)
        storage = self.arm.ml.storage
        credentials: dict[str, Any] = (
            {"credentialsType": "None"}
            if storage.identity_based
            else {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey"}}
        )
        return Reply(
            200,
            {
                "id": f"{self.arm.workspace_id}/datastores/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": {
                    "description": None,
                    "tags": {},
                    "isDefault": True,
                    "properties": None,
                    "credentials": credentials,
                    "datastoreType": "AzureBlob",
                    "accountName": storage.account,
                    "containerName": storage.container,
                    "endpoint": "core.windows.net",
                    "protocol": "https",
                },
                "systemData": system_data(),
            },
        )

    def _secrets_post(self, call: Call, name: str) -> Reply:
        storage = self.arm.ml.storage
        if name != "workspaceblobstore":
            return not_found(self.arm, "datastores", name)
        if storage.identity_based:
            return arm_error(
                400,
                "UserError",
                f"Datastore '{name}' uses identity-based access: it has no secrets.",
            )
        return Reply(200, {"secretsType": "AccountKey", "key": storage.key})

    def _storage_id(self) -> str:
        return (
            f"/subscriptions/{self.arm.subscription_id}/resourceGroups/{self.arm.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{self.arm.ml.storage.account}"
        )

    def _version_get(self, call: Call, kind: str, name: str, v: str) -> Reply:
        found = self.assets[kind.lower()].get(name, {}).get(v)
        if found is None:
            return not_found(self.arm, f"{kind}/versions", f"{name}/{v}")
        return Reply(200, found)

    def _version_put(self, call: Call, kind: str, name: str, v: str) -> Reply:
        kind = kind.lower()
        props = dict(call.body.get("properties") or {})
        versions = self.assets[kind].setdefault(name, {})
        old = versions.get(v)
        if old is not None and kind == "models":
            if old["properties"].get("modelUri") != props.get("modelUri"):
                return arm_error(409, "UserError", "A model version's path cannot be changed.")
            return Reply(200, old)
        versions[v] = self._asset(kind, name, v, props)
        return Reply(201, versions[v])

    def _asset(self, kind: str, name: str, v: str, props: dict[str, Any]) -> dict[str, Any]:
        if kind == "models":
            props = {"flavors": {}, "tags": {}, "properties": {}, **props}
        return {
            "id": self._asset_id(kind, name, v),
            "name": v,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}/versions",
            "properties": {**props, "provisioningState": "Succeeded"},
            "systemData": system_data(),
        }

    def _container(self, kind: str, name: str) -> dict[str, Any]:
        versions = self.assets[kind][name]
        return {
            "id": f"{self.arm.workspace_id}/{kind}/{name}",
            "name": name,
            "type": f"Microsoft.MachineLearningServices/workspaces/{kind}",
            "properties": {"latestVersion": max(versions, default=None, key=_version_key)},
            "systemData": system_data(),
        }


def not_found(arm: FakeArm, kind: str, name: str) -> Reply:
    """ARM's 404 for a resource of the workspace."""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.MachineLearningServices/workspaces/{arm.workspace}/"
        f"{kind}/{name}' under resource group '{arm.resource_group}' was not found.",
    )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)
