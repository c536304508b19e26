"""aml_token tokens for the local platform: signed, expiring, checked without state.

A token is ``<endpoint>.<expiry unix seconds>.<hex HMAC-SHA256>``, signed with the
endpoint's secret, so the router verifies it with the secret alone.

    token, expiry = issue_token(secret, "product-recommender", now=time.time())
    assert verify_token(secret, "product-recommender", token, now=time.time())
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["TOKEN_LIFETIME_SECONDS", "issue_token", "verify_token"]

#: Azure's aml_token lasts about an hour; ours too.
TOKEN_LIFETIME_SECONDS = 3600


def _sign(secret: bytes, endpoint: str, expiry: int) -> str:
    return hmac.new(secret, f"{endpoint}.{expiry}".encode(), hashlib.sha256).hexdigest()


def issue_token(
    secret: bytes, endpoint: str, *, now: float, lifetime: int = TOKEN_LIFETIME_SECONDS
) -> tuple[str, int]:
    """A new token for ``endpoint`` and its expiry (unix seconds)."""
    expiry = int(now) + lifetime
    return f"{endpoint}.{expiry}.{_sign(secret, endpoint, expiry)}", expiry


def verify_token(secret: bytes, endpoint: str, token: str, *, now: float) -> bool:
    """True when ``token`` was issued for ``endpoint`` with ``secret`` and has not expired."""
    rest = token.rsplit(".", 2)
    if len(rest) != 3:
        return False
    token_endpoint, expiry_text, signature = rest
    if token_endpoint != endpoint or not expiry_text.isdigit():
        return False
    expiry = int(expiry_text)
    if expiry <= now:
        return False
    return hmac.compare_digest(signature, _sign(secret, endpoint, expiry))
