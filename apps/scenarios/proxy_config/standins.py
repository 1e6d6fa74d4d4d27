"""Stand-in files for what a config names but the check must not read.

Real configs point at certificates, keys, DH parameters and pattern files on the server
(`ssl_certificate /etc/ssl/…`, `bind :443 ssl crt /etc/haproxy/site.pem`). The portal never
reads those paths, and nobody uploads private keys to it; the copy handed to the tool points
at throwaway files of the right kind instead, so `nginx -t` and `haproxy -c` check the syntax
and the TLS settings without anything from outside the temporary directory.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# RFC 7919 ffdhe2048, a published group (as `openssl genpkey -genparam -algorithm DH
# -pkeyopt group:ffdhe2048` prints it): nothing secret, and no seconds spent generating.
DH_PARAMS = """-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

CERT = "opsdesk-standin.crt"
KEY = "opsdesk-standin.key"
PEM = "opsdesk-standin.pem"  # HAProxy's crt: certificate and key in one file
CRL = "opsdesk-standin.crl"
DH = "opsdesk-standin-dh.pem"
PASSWORDS = "opsdesk-standin.pass"
TICKET_KEY = "opsdesk-standin.ticket"
EMPTY = "opsdesk-standin.empty"


@functools.cache
def _pair() -> tuple[str, str, str]:
    """(certificate PEM, key PEM, CRL PEM): one self-signed pair per process."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opsdesk config check")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(now - dt.timedelta(days=1))
        .next_update(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return (
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem,
        crl.public_bytes(serialization.Encoding.PEM).decode(),
    )


def files() -> dict[str, str | bytes]:
    cert, key, crl = _pair()
    return {
        CERT: cert,
        KEY: key,
        PEM: cert + key,
        CRL: crl,
        DH: DH_PARAMS,
        PASSWORDS: "opsdesk\n",
        # nginx wants 80 (or 48) bytes of ticket key material
        TICKET_KEY: secrets.token_bytes(80),
        EMPTY: "",
    }


def errorfile(code: str) -> str:
    """A body HAProxy accepts for `errorfile CODE`: a complete HTTP response."""
    return f"HTTP/1.0 {code} Opsdesk\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
