"""Signature check of an ID token (a compact JWS) against the provider's published keys.

Only asymmetric algorithms are accepted: the provider signs with its private key and the
portal checks with the public key from jwks_uri. "none" and the HMAC family are refused
outright (with HS256 the client secret would be the key, and a token forged by anyone who
knows it would pass). The `alg` header must match the key's type and, when the key names
one, its `alg`: a key published for RS256 never checks a PS256 signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: dict[str, tuple[type[ec.EllipticCurve], str, int]] = {
    "P-256": (ec.SECP256R1, "ES256", 32),
    "P-384": (ec.SECP384R1, "ES384", 48),
    "P-521": (ec.SECP521R1, "ES512", 66),
}
SUPPORTED_ALGS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA", "Ed25519"),
)


class JoseError(ValueError):
    """The token is malformed, or its signature does not check out."""


class UnknownKey(JoseError):
    """No published key has the token's key id (the provider may have rotated its keys)."""


def b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JoseError("not base64url") from exc


def _int(value: Any) -> int:
    if not isinstance(value, str):
        raise JoseError("JWK number is not a string")
    return int.from_bytes(b64decode(value), "big")


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, payload, signing input and signature of a compact JWS (nothing checked yet)."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise JoseError("not a compact JWS")
    try:
        header = json.loads(b64decode(parts[0]))
        payload = json.loads(b64decode(parts[1]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JoseError("header or payload is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JoseError("header or payload is not a JSON object")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), b64decode(parts[2])


def _fits(key: dict[str, Any], alg: str) -> bool:
    kty = key.get("kty")
    if key.get("use", "sig") != "sig" or key.get("alg", alg) != alg:
        return False
    if alg.startswith(("RS", "PS")):
        return kty == "RSA"
    if alg.startswith("ES"):
        return kty == "EC" and _CURVES.get(key.get("crv", ""), (None, ""))[1] == alg
    return kty == "OKP" and key.get("crv") in ("Ed25519", "Ed448")


def _verify_with(key: dict[str, Any], alg: str, data: bytes, signature: bytes) -> None:
    if alg.startswith(("RS", "PS")):
        public = rsa.RSAPublicNumbers(_int(key.get("e")), _int(key.get("n"))).public_key()
        if public.key_size < 2048:
            raise JoseError("RSA key shorter than 2048 bits")
        digest = _HASHES[alg[2:]]()
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        )
        public.verify(signature, data, pad, digest)
    elif alg.startswith("ES"):
        curve, _alg, size = _CURVES[key["crv"]]
        numbers = ec.EllipticCurvePublicNumbers(_int(key.get("x")), _int(key.get("y")), curve())
        if len(signature) != 2 * size:
            raise JoseError("ECDSA signature of the wrong length")
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        numbers.public_key().verify(der, data, ec.ECDSA(_HASHES[alg[2:]]()))
    else:
        raw = b64decode(str(key.get("x", "")))
        okp = (
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
            if key["crv"] == "Ed25519"
            else ed448.Ed448PublicKey.from_public_bytes(raw)
        )
        okp.verify(signature, data)


def verify(token: str, jwks: dict[str, Any], allowed_algs: tuple[str, ...]) -> dict[str, Any]:
    """The payload of `token` if a key of `jwks` checks its signature; JoseError otherwise."""
    header, payload, data, signature = split(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGS or alg not in allowed_algs:
        raise JoseError(f"signature algorithm {alg!r} is not accepted")
    if header.get("crit"):
        raise JoseError("critical header extensions are not supported")
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
        if not keys:
            raise UnknownKey(f"no published key with kid {kid!r}")
    candidates = [k for k in keys if _fits(k, alg)]
    if not candidates:
        raise UnknownKey(f"no published key fits {alg}")
    for key in candidates:
        try:
            _verify_with(key, alg, data, signature)
            return payload
        except (InvalidSignature, ValueError, KeyError, TypeError):
            continue
    raise JoseError("signature does not match the provider's keys")
