"""Signed payment links: one payment, until they expire, good for nothing else."""

from __future__ import annotations

import uuid

import pytest

from kassa.config import Environment, Settings
from kassa.services import pay_links, signed_links

NOW = 1_800_000_000.0


def _settings(**values: object) -> Settings:
    base = Settings(KASSA_ENV=Environment.PRODUCTION, KASSA_JWT_SECRET="j" * 40)
    return base.with_overrides(**values)


def _token(settings: Settings, payment_id: uuid.UUID) -> str:
    return pay_links.link_path(settings, payment_id, now=NOW).removeprefix("/pay/")


def test_a_link_names_its_payment_until_it_expires() -> None:
    settings, payment_id = _settings(), uuid.uuid4()
    key = pay_links.signing_key(settings)
    assert key is not None
    token = _token(settings, payment_id)

    assert pay_links.payment_named(key, token, now=NOW) == payment_id
    with pytest.raises(signed_links.ExpiredLink):
        pay_links.payment_named(key, token, now=NOW + 7 * 86400 + 1)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token.replace(token[:32], uuid.uuid4().hex),  # another payment
        lambda token: token.replace(".", ".9", 1),  # a later expiry
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
        lambda token: token.rpartition(".")[0],  # no signature
        lambda token: "",
    ],
)
def test_a_changed_link_is_refused(tamper: object) -> None:
    settings = _settings()
    key = pay_links.signing_key(settings)
    assert key is not None and callable(tamper)
    with pytest.raises(signed_links.InvalidLink):
        pay_links.payment_named(key, tamper(_token(settings, uuid.uuid4())), now=NOW)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    token = _token(_settings(link_secret="another secret for links only"), uuid.uuid4())
    key = pay_links.signing_key(_settings())
    assert key is not None
    with pytest.raises(signed_links.InvalidLink):
        pay_links.payment_named(key, token, now=NOW)


def test_the_link_key_is_never_the_jwt_secret_itself() -> None:
    settings = _settings()
    assert pay_links.signing_key(settings) != settings.jwt_secret.encode()  # type: ignore[union-attr]
    assert pay_links.signing_key(_settings(jwt_secret=None, link_secret=None)) is None
