"""The scoring URIs of the fake Azure ML endpoints: a real HTTP server on 127.0.0.1.

Started with a ``FakeArm``, it makes the fake's endpoints answer at
``http://127.0.0.1:<port>/<endpoint>/score`` as Azure's do: the key (or AML
token) in ``Authorization: Bearer``, the split by the endpoint's traffic (a
smooth weighted round robin), the ``azureml-model-deployment`` request header to
pick a deployment, 401 / 404 as Azure answers them, the
``azureml-model-deployment`` response header, and mirror copies. Every routed
request is recorded in the fake's metrics (latency, status code).

A deployment whose environment variables set ``FAKE_SCORE_STATUS`` answers with
that status (to produce errors in metrics). ``FAKE_SCORE_DELAY_MS`` makes each answer
take that long on one of ``WORKER_COUNT`` × ``instance_count`` workers (a request waits
for a free one), so a deployment has a known capacity: workers / delay, as the
inference server's gunicorn workers give one on Azure.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.fake_arm import FakeArm

__all__ = ["FakeScoring"]

NO_TRAFFIC = (
    "No valid deployments to route to. Please check that the endpoint has at least one "
    "deployment with positive weight values or use a deployment specific header to route."
)


class FakeScoring:
    """An HTTP server for the fake's scoring URIs; ``start()`` before creating endpoints."""

    def __init__(self, arm: FakeArm) -> None:
        self.arm = arm
        self._credit: dict[str, dict[str, int]] = {}
        self._mirror_credit: dict[str, int] = {}
        self._workers: dict[tuple[str, str, int], threading.Semaphore] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeScoring:
        self._thread.start()
        self.arm.scoring_base_url = self.base_url
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------ routing

    def route(self, endpoint: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], str]:
        """(status, JSON body, deployment) for a request to ``endpoint``."""
        ml = self.arm.ml
        with self.arm.lock:
            resource = ml.endpoints.get(endpoint)
            if resource is None:
                return 404, {"message": f"Endpoint {endpoint} not found."}, ""
            props = resource["properties"]
            bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
            if props["authMode"] == "Key":
                valid = set(ml.keys.get(endpoint, {}).values())
            else:
                valid = {ml.tokens.get(endpoint, "")} - {""}
            if bearer not in valid:
                return 401, {"message": "Invalid authentication credentials."}, ""
            deployments = ml.deployments.get(endpoint, {})
            named = headers.get("azureml-model-deployment")
            if named:
                if named not in deployments:
                    return 404, {"message": f"Deployment {named} not found."}, ""
                chosen = named
            else:
                chosen = self._pick(endpoint, props["traffic"])
                if not chosen:
                    return 404, {"message": NO_TRAFFIC}, ""
                self._mirror(endpoint, props["mirrorTraffic"])
            deployment = deployments[chosen]
            variables = deployment["properties"].get("environmentVariables") or {}
            status = int(variables.get("FAKE_SCORE_STATUS", 200))
            model = deployment["properties"].get("model")
            delay_ms = float(variables.get("FAKE_SCORE_DELAY_MS", 0))
            slots = int(variables.get("WORKER_COUNT", 1)) * int(deployment["sku"]["capacity"])
            workers = self._workers.setdefault(
                (endpoint, chosen, slots), threading.Semaphore(slots)
            )
        if delay_ms:
            with workers:  # outside the fake's lock: other requests go on meanwhile
                time.sleep(delay_ms / 1000)
        return status, {"deployment": chosen, "model": model}, chosen

    def _pick(self, endpoint: str, traffic: dict[str, int]) -> str:
        weights = {name: w for name, w in traffic.items() if w > 0}
        if not weights:
            return ""
        credit = self._credit.setdefault(endpoint, {})
        for name, weight in weights.items():
            credit[name] = credit.get(name, 0) + weight
        chosen = max(weights, key=lambda n: credit[n])
        credit[chosen] -= sum(weights.values())
        return chosen

    def _mirror(self, endpoint: str, mirror: dict[str, int]) -> None:
        for name, percent in mirror.items():
            credit = self._mirror_credit.get(endpoint, 0) + percent
            if credit >= 100:
                credit -= 100
                self.arm.metrics.record_request(endpoint, name, 200, 1.0, time.time())
            self._mirror_credit[endpoint] = credit

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        scoring = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[1] != "score":
                    status, body, chosen = 404, {"message": "Not found."}, ""
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    status, body, chosen = scoring.route(parts[0], headers)
                data = json.dumps(body).encode()
                if chosen:
                    # Counted before the answer leaves: a caller that has its answer
                    # finds the request in the metrics at once.
                    latency = (time.perf_counter() - started) * 1000
                    scoring.arm.metrics.record_request(
                        parts[0], chosen, status, latency, scoring.arm.clock()
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if chosen:
                    self.send_header("azureml-model-deployment", chosen)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
