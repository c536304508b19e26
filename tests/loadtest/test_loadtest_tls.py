"""https targets (Azure scoring URIs are https): verified by default, a CA file or
SSL_CERT_FILE to trust a private CA, refused handshakes counted as ``tls_error``.

The target server runs over TLS in its own process with a certificate for
``localhost`` signed by a CA made for this module.
"""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from loadtest import InvalidPlanError, LoadTestPlan, render_text, run_load_test
from tests.loadtest.targets import target_process
from tests.loadtest.tls import Certificates, make_certificates, why_not

pytestmark = pytest.mark.slow(budget=30)

_names = itertools.count()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    reason = why_not()
    if reason is not None:
        # cryptography comes with azure-identity, a dependency: its absence is a broken install.
        pytest.fail(f"cannot make a test certificate: {reason}")
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def port(certificates: Certificates) -> Iterator[int]:
    """The https target server's port on 127.0.0.1."""
    with target_process(str(certificates.cert), str(certificates.key)) as running:
        yield running.port


def _url(port: int, path: str, *, host: str = "localhost") -> str:
    return f"https://{host}:{port}{path}"


def _get_json(port: int, path: str, certificates: Certificates) -> Any:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    with urllib.request.urlopen(_url(port, path), timeout=5, context=context) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("path", ["/fast", "/close", "/chunked"])
async def test_https_with_the_ca_file_trusted(
    port: int, certificates: Certificates, path: str
) -> None:
    plan = LoadTestPlan.closed(
        url=_url(port, path), requests=60, concurrency=4, ca_file=str(certificates.ca)
    )
    result = await run_load_test(plan)
    assert (result.sent, result.ok, result.errors) == (60, 60, 0), render_text(result)
    assert result.status_counts == {200: 60}


async def test_requests_arrive_intact_over_tls(port: int, certificates: Certificates) -> None:
    name = f"tls{next(_names)}"
    body = b'{"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}'
    plan = LoadTestPlan.open(
        url=_url(port, f"/echo/{name}?v=1"),
        rate=50,
        duration=1,
        headers={"Authorization": "Bearer k"},
        body=body,
        deployment="blue",
        ca_file=str(certificates.ca),
    )
    result = await run_load_test(plan)
    assert (result.sent, result.ok, result.errors) == (50, 50, 0), render_text(result)
    assert _get_json(port, f"/count/{name}", certificates) == 50
    last = _get_json(port, f"/last/{name}", certificates)
    assert last["path"] == f"/echo/{name}?v=1"
    assert last["headers"]["Host"] == f"localhost:{port}"
    assert last["headers"]["azureml-model-deployment"] == "blue"
    assert base64.b64decode(last["body"]) == body


async def test_an_untrusted_certificate_is_refused_by_default(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    plan = LoadTestPlan.closed(url=_url(port, "/fast"), requests=20, concurrency=4)
    result = await run_load_test(plan)
    assert (result.sent, result.completed, result.ok) == (20, 0, 0)
    assert result.error_counts == {"tls_error": 20}
    assert "tls_error" in render_text(result)


async def test_a_certificate_for_another_host_is_refused(
    port: int, certificates: Certificates
) -> None:
    # Trusted CA, but the certificate names localhost, not 127.0.0.1.
    plan = LoadTestPlan.closed(
        url=_url(port, "/fast", host="127.0.0.1"),
        requests=10,
        concurrency=2,
        ca_file=str(certificates.ca),
    )
    result = await run_load_test(plan)
    assert result.ok == 0 and result.error_counts == {"tls_error": 10}


async def test_ssl_cert_file_is_honoured_when_the_run_starts(
    port: int, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a refused run in this same process: the trust store is read per run."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    refused = await run_load_test(LoadTestPlan.closed(url=_url(port, "/fast"), requests=5))
    assert refused.error_counts == {"tls_error": 5}
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    result = await run_load_test(LoadTestPlan.closed(url=_url(port, "/fast"), requests=30))
    assert (result.ok, result.errors) == (30, 0), render_text(result)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.pem", None, "No such file or directory"),
        ("junk.pem", b"not a certificate\n", "no certificate"),
    ],
)
async def test_a_ca_file_that_cannot_be_loaded_is_named(
    port: int,
    certificates: Certificates,
    name: str,
    content: bytes | None,
    reason: str,
) -> None:
    ca_file = certificates.ca.parent / name
    if content is not None:
        ca_file.write_bytes(content)
    counted = f"tls{next(_names)}"
    plan = LoadTestPlan.closed(url=_url(port, f"/echo/{counted}"), requests=5, ca_file=str(ca_file))
    with pytest.raises(InvalidPlanError) as caught:
        await run_load_test(plan)
    assert caught.value.field == "ca_file"
    assert str(ca_file) in str(caught.value) and reason in str(caught.value), caught.value
    assert _get_json(port, f"/count/{counted}", certificates) == 0
