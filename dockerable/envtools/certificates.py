"""Make self-signed TLS certificates and read the facts checkenv needs from a certificate and key."""

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DAYS = 365


def self_signed(domain: str, days: int = DEFAULT_DAYS, not_before=None) -> tuple[bytes, bytes]:
    """A P-256 key and a certificate for `domain`, localhost and 127.0.0.1, as PEM (key, cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(domain),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        # A server's certificate, not a CA's: strict clients (Firefox) refuse a CA certificate as
        # a server's. Pinned as a CA file, it is still its own trust anchor to OpenSSL clients.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class CertificateFacts:
    """What checkenv asks of an environment's certificate and key."""

    not_after: datetime.datetime
    dns_names: list[str]
    ip_addresses: list[str]
    matches_key: bool


def inspect(cert_path: Path, key_path: Path) -> CertificateFacts:
    """Load both PEM files (text before the PEM block, as in the sample, is allowed)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns_names, ips = [], []
    return CertificateFacts(
        not_after=cert.not_valid_after_utc,
        dns_names=dns_names,
        ip_addresses=ips,
        matches_key=cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki),
    )


def covers(facts: CertificateFacts, host: str) -> bool:
    """True if the certificate's names cover `host` (an ALLOWED_HOSTS entry)."""
    try:
        return str(ipaddress.ip_address(host)) in facts.ip_addresses
    except ValueError:
        pass
    host = host.lower().rstrip(".")
    for name in (n.lower() for n in facts.dns_names):
        if name == host:
            return True
        # One wildcard label, as TLS clients match it: *.example.com covers a.example.com.
        if name.startswith("*.") and host.count(".") >= 2 and host.split(".", 1)[1] == name[2:]:
            return True
    return False
