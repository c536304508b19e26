"""A throwaway certificate authority and a server certificate it signed, made at test time.

    pems = make_certificates(folder)            # None when no way to make them exists here
    ssl_context.load_verify_locations(pems.ca)  # what a client trusts
    server.load_cert_chain(pems.cert, pems.key)

The server certificate names ``localhost`` only (not 127.0.0.1), so that a test can
also see a name mismatch refused. Made with the ``cryptography`` package when it is
installed, else with the ``openssl`` command.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["Certificates", "make_certificates", "why_not"]

SERVER_NAME = "localhost"


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA's certificate, the server's certificate and its key."""

    ca: Path
    cert: Path
    key: Path


def why_not() -> str | None:
    """Why certificates cannot be made here, or ``None`` when they can."""
    if importlib.util.find_spec("cryptography") is not None or shutil.which("openssl"):
        return None
    return "neither the cryptography package nor the openssl command is installed"


def make_certificates(folder: Path) -> Certificates:
    """A CA and a server certificate for ``localhost`` signed by it, in ``folder``."""
    pems = Certificates(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "key.pem")
    if importlib.util.find_spec("cryptography") is not None:
        _with_cryptography(pems)
    else:
        _with_openssl(pems, folder)
    return pems


def _with_cryptography(pems: Certificates) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flightdeck test CA")])
    ca_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(server_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(authority, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pems.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pems.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pems.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _with_openssl(pems: Certificates, folder: Path) -> None:
    ca_key = folder / "ca-key.pem"
    request = folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text(
        f"subjectAltName=DNS:{SERVER_NAME}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ca_extensions = (
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )
    commands = (
        ("req", "-x509", *ec, "-keyout", ca_key, "-out", pems.ca, "-days", "1", *ca_extensions,
         "-subj", "/CN=flightdeck test CA"),
        ("req", *ec, "-keyout", pems.key, "-out", request, "-subj", f"/CN={SERVER_NAME}"),
        ("x509", "-req", "-in", request, "-CA", pems.ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", pems.cert, "-days", "1", "-extfile", extensions),
    )  # fmt: skip
    for command in commands:
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, timeout=60)
