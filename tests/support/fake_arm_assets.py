"""The fake workspace's assets: code, model and environment versions.

Every code folder counts as uploaded already: the SDK's look-up by content hash
(``GET codes/{name}/versions?hash=...``) finds a version, so no blob upload ever
happens in tests. A model version's path cannot change once registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.fake_arm_http import Call, Reply, arm_error, system_data

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
        return Reply(200, {"value": [self._container(kind, n) for n in self.assets[kind]]})

    def _container_get(self, call: Call, kind: str, name: str) -> Reply:
        kind = kind.lower()
        if name not in self.assets[kind]:
            return not_found(self.arm, kind, name)
        return Reply(200, self._container(kind, name))

    def _versions_get(self, call: Call, kind: str, name: str) -> Reply:
        kind = kind.lower()
        if kind == "codes" and "hash" in call.query:
            # Every code folder counts as uploaded already (under the first name asked
            # with its hash): no blob upload happens in tests.
            digest = call.query["hash"]
            for versions in self.assets["codes"].values():
                for found in versions.values():
                    if found["properties"]["properties"].get("hash_sha256") == digest:
                        return Reply(200, {"value": [found]})
            code = self._asset(
                "codes",
                name,
                "1",
                {
                    "codeUri": f"https://stfake.blob.core.windows.net/code/{name}",
                    "isAnonymous": True,
                    "properties": {"hash_sha256": digest},
                },
            )
            self.assets["codes"].setdefault(name, {})["1"] = code
            return Reply(200, {"value": [code]})
        return Reply(200, {"value": list(self.assets[kind].get(name, {}).values())})

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
