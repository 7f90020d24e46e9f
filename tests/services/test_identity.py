"""Token verification: pinned algorithms, JWKS keys, and everything that must be refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from kassa.services.identity import AuthenticationError, OrgRole, TokenVerifier

ISSUER = "https://id.example.test/"
AUDIENCE = "kassa-api"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks() -> bytes:
    public = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    return json.dumps({"keys": [{**public, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()


class _JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = _jwks()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "u1", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, "org_id": "acme"}
    return {**claims, "org_role": "admin", **changes}


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _rs256(claims: dict[str, Any], kid: str = "key-1") -> str:
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": kid})


async def test_token_signed_by_the_identity_provider_is_accepted(jwks_url: str) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)

    caller = await verifier.verify(_rs256(_claims()))

    assert (caller.user_id, caller.org_external_id, caller.org_role) == (
        "u1",
        "acme",
        OrgRole.ADMIN,
    )


async def test_public_key_used_as_an_hs256_secret_is_refused(jwks_url: str) -> None:
    # The classic algorithm-confusion attack: sign HS256 with the public key's PEM.
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'key-1'})}.{_b64(_claims())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    with pytest.raises(AuthenticationError):
        await verifier.verify(forged)


async def test_unknown_key_id_is_refused(jwks_url: str) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    with pytest.raises(AuthenticationError):
        await verifier.verify(_rs256(_claims(), kid="key-2"))


async def test_unreachable_jwks_is_refused_not_crashed() -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_url="http://127.0.0.1:9/jwks.json"
    )
    with pytest.raises(AuthenticationError):
        await verifier.verify(_rs256(_claims()))


async def test_expired_and_wrong_audience_are_refused(jwks_url: str) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    for claims in (_claims(exp=int(time.time()) - 5), _claims(aud="other"), _claims(iss="x")):
        with pytest.raises(AuthenticationError):
            await verifier.verify(_rs256(claims))


async def test_a_verified_token_is_not_verified_again_until_it_expires(jwks_url: str) -> None:
    # given: a token verified once, then its key gone from the identity provider
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    token = _rs256(_claims(exp=int(time.time()) + 2))
    first = await verifier.verify(token)
    verifier._jwks = None

    # when: asked again while it is valid
    again = await verifier.verify(token)

    # then: remembered; and refused once it has expired
    assert again is first
    await asyncio.sleep(2.1)
    with pytest.raises(AuthenticationError):
        await verifier.verify(token)
