"""Certificates for a sandbox that stands in for a real network (HTTPS, CAMARA's https-only sinks).

Minted with trustme: a private CA, and a certificate it signs for 127.0.0.1 and localhost. Only
clients told to trust the CA (`cafile`) accept them: right for a lab, wrong for anything public.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LocalCertificates", "local_certificates"]


@dataclass(frozen=True)
class LocalCertificates:
    """PEM files: the CA to trust, and the server certificate with its key."""

    cafile: str
    certfile: str
    keyfile: str


def local_certificates(folder: str | Path | None = None) -> LocalCertificates:
    """A fresh private CA and a certificate for 127.0.0.1 and localhost, written to `folder` (a temp one)."""
    try:
        import trustme
    except ImportError:
        msg = "local certificates need trustme: pip install 'qodlab[notebook]' (or trustme)"
        raise ImportError(msg) from None
    where = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="qodlab-tls-"))
    ca = trustme.CA(organization_name="qodlab local CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = LocalCertificates(str(where / "ca.pem"), str(where / "cert.pem"), str(where / "key.pem"))
    ca.cert_pem.write_to_path(files.cafile)
    cert.private_key_pem.write_to_path(files.keyfile)
    for i, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(files.certfile, append=i > 0)
    return files
