"""The local trust root for Dapr's mTLS (.run/sentry/, git-ignored), made once by `make setup`.

Sentry (scripts/infra.sh) signs every sidecar's workload certificate with the issuer below; each
sidecar trusts certificates that chain up to the root (DAPR_TRUST_ANCHORS, scripts/run.sh). The
root's private key is not kept: nothing needs it once the issuer is signed, and a key that does
not exist cannot leak. When the issuer expires (a year from now), delete .run/sentry/ and run
`make setup` again: a new root, and every sidecar gets new certificates at its next start.

    python scripts/trust_root.py DIR     # writes DIR/ca.crt, DIR/issuer.crt, DIR/issuer.key
"""

import datetime
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FILES = ("ca.crt", "issuer.crt", "issuer.key")
ROOT_DAYS, ISSUER_DAYS = 10 * 365, 365


def _ca_certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    signed_by: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    days: int,
    path_length: int,
) -> x509.Certificate:
    """A CA certificate for `key`, self-signed unless `signed_by` (issuer name, issuer key)."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dapr-shop"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    issuer, signer = signed_by or (name, key)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Valid from a minute ago: a clock a little behind still accepts it.
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(signer, hashes.SHA256())
    )


def generate() -> dict[str, bytes]:
    """A self-signed root and an issuer it signed (may sign workload certificates, not further CAs)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _ca_certificate("dapr-shop local root", root_key, signed_by=None, days=ROOT_DAYS, path_length=1)
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    issuer = _ca_certificate(
        "dapr-shop local issuer",
        issuer_key,
        signed_by=(root.subject, root_key),
        days=ISSUER_DAYS,
        path_length=0,
    )
    return {
        "ca.crt": root.public_bytes(serialization.Encoding.PEM),
        "issuer.crt": issuer.public_bytes(serialization.Encoding.PEM),
        "issuer.key": issuer_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    }


def ensure(directory: Path) -> str:
    """Writes a trust root into `directory` unless a complete one is there; says which."""
    if all((directory / name).is_file() for name in FILES):
        return f"the trust root for Sentry in {directory} is complete; keeping it"
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for name, content in generate().items():
        path = directory / name
        path.write_bytes(content)
        path.chmod(0o600)
    return f"generated a trust root for Sentry in {directory} (root and issuer certificates, issuer key)"


if __name__ == "__main__":
    print(f"[secrets] {ensure(Path(sys.argv[1] if len(sys.argv) > 1 else '.run/sentry'))}")
