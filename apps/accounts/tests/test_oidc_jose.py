"""The ID token signature check on hostile tokens: every forgery a provider's name invites."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from apps.accounts.oidc import jose

CLAIMS = {"iss": "https://dex.example", "sub": "alice", "aud": "opsdesk"}
ALL = jose.SUPPORTED_ALGS


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def num(n: int, size: int | None = None) -> str:
    return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


def signing_input(header: dict[str, Any], claims: dict[str, Any] = CLAIMS) -> bytes:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}".encode()


def rsa_pair(kid: str = "k1") -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_numbers()
    return key, {"kty": "RSA", "kid": kid, "n": num(pub.n), "e": num(pub.e), "use": "sig"}


def rs256(key: rsa.RSAPrivateKey, kid: str = "k1", claims: dict[str, Any] = CLAIMS) -> str:
    data = signing_input({"alg": "RS256", "kid": kid}, claims)
    return f"{data.decode()}.{b64(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))}"


def test_a_genuine_rs256_token_is_accepted() -> None:
    key, jwk = rsa_pair()
    assert jose.verify(rs256(key), {"keys": [jwk]}, ALL) == CLAIMS


def test_a_changed_payload_is_refused() -> None:
    key, jwk = rsa_pair()
    head, _payload, sig = rs256(key).split(".")
    forged = f"{head}.{b64(json.dumps({**CLAIMS, 'sub': 'admin'}).encode())}.{sig}"
    with pytest.raises(jose.JoseError, match="does not match"):
        jose.verify(forged, {"keys": [jwk]}, ALL)


def test_alg_none_is_refused() -> None:
    _key, jwk = rsa_pair()
    token = signing_input({"alg": "none"}).decode() + "."
    with pytest.raises(jose.JoseError, match="not accepted"):
        jose.verify(token, {"keys": [jwk]}, ALL)


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    # The classic confusion: an HMAC "signed" with the provider's public key as the secret.
    _key, jwk = rsa_pair()
    data = signing_input({"alg": "HS256", "kid": "k1"})
    mac = hmac.new(json.dumps(jwk).encode(), data, hashlib.sha256).digest()
    with pytest.raises(jose.JoseError, match="not accepted"):
        jose.verify(f"{data.decode()}.{b64(mac)}", {"keys": [jwk]}, ALL)


def test_algorithms_the_provider_does_not_announce_are_refused() -> None:
    key, jwk = rsa_pair()
    with pytest.raises(jose.JoseError, match="not accepted"):
        jose.verify(rs256(key), {"keys": [jwk]}, ("ES256",))


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused() -> None:
    _key, jwk = rsa_pair()
    other, _ = rsa_pair()
    with pytest.raises(jose.JoseError):
        jose.verify(rs256(other), {"keys": [jwk]}, ALL)


def test_an_unknown_kid_asks_for_fresh_keys() -> None:
    key, jwk = rsa_pair("old")
    with pytest.raises(jose.UnknownKey):
        jose.verify(rs256(key, kid="new"), {"keys": [jwk]}, ALL)


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "!!!.e30.", "e30.bm90IGpzb24.", "W10.e30.", 12345]
)
def test_malformed_tokens_are_refused(token: Any) -> None:
    with pytest.raises(jose.JoseError):
        jose.verify(token, {"keys": []}, ALL)


def test_es256_and_eddsa_tokens_are_accepted() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    nums = ec_key.public_key().public_numbers()
    ec_jwk = {"kty": "EC", "crv": "P-256", "kid": "e", "x": num(nums.x, 32), "y": num(nums.y, 32)}
    data = signing_input({"alg": "ES256", "kid": "e"})
    r, s = decode_dss_signature(ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
    token = f"{data.decode()}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    assert jose.verify(token, {"keys": [ec_jwk]}, ALL) == CLAIMS

    ed_key = ed25519.Ed25519PrivateKey.generate()
    raw = ed_key.public_key().public_bytes_raw()
    ed_jwk = {"kty": "OKP", "crv": "Ed25519", "kid": "d", "x": b64(raw)}
    data = signing_input({"alg": "EdDSA", "kid": "d"})
    assert jose.verify(f"{data.decode()}.{b64(ed_key.sign(data))}", {"keys": [ed_jwk]}, ALL)


def test_a_key_published_for_rs256_does_not_check_ps256() -> None:
    key, jwk = rsa_pair()
    jwk["alg"] = "RS256"
    data = signing_input({"alg": "PS256", "kid": "k1"})
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    token = f"{data.decode()}.{b64(key.sign(data, pss, hashes.SHA256()))}"
    with pytest.raises(jose.UnknownKey):
        jose.verify(token, {"keys": [jwk]}, ALL)
