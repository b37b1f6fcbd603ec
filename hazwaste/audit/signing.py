"""The Ed25519 key that signs tree heads, and the exact bytes it signs.

``AUDIT_SIGNING_KEY`` (environment ``HAZWASTE_AUDIT_SIGNING_KEY``) is either a PEM text
(PKCS#8, unencrypted) or the path of a PEM file; unset, the key lives in
``instance/audit_signing_key`` and is generated there (mode 0600) on first use. Keep that file
secret and backed up: checkpoints signed by a lost key still verify with its published public
key, but a new key starts a new identity that readers must learn again.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

ALGORITHM = "Ed25519"
#: Prefix of the signed tree-head serialisation (domain separation, format version).
STH_PREFIX = b"hazwaste-audit-tree-head-v1\x00"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def signed_bytes(tree_size: int, timestamp_ms: int, root_hash: bytes) -> bytes:
    """What a tree head's signature covers: ``STH_PREFIX`` ‖ tree size (8 bytes, big endian)
    ‖ timestamp in ms since 1970-01-01 UTC (8 bytes, big endian) ‖ root hash (32 bytes)."""
    return STH_PREFIX + struct.pack(">QQ", tree_size, timestamp_ms) + root_hash


def timestamp_ms(moment: datetime) -> int:
    return (moment.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)


def _load_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("AUDIT_SIGNING_KEY is not an Ed25519 private key")
    return key


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 and exclusively: two processes starting at once cannot both write one.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def load_signing_key(setting: str | None, instance_path: str | Path) -> Ed25519PrivateKey:
    """The private key from ``setting`` (PEM text or a path), else from the instance folder,
    generating it there on first use. ``ValueError`` for a key that is not Ed25519."""
    setting = (setting or "").strip()
    if setting.startswith("-----BEGIN"):
        return _load_pem(setting.encode())
    path = Path(setting) if setting else Path(instance_path) / "audit_signing_key"
    if not setting and not path.exists():
        _generate(path)
    return _load_pem(path.read_bytes())


def signing_key() -> Ed25519PrivateKey:
    """The application's key (loaded once per process)."""
    cached = current_app.extensions.get("audit_signing_key")
    if cached is None:
        cached = load_signing_key(
            current_app.config.get("AUDIT_SIGNING_KEY"), current_app.instance_path
        )
        current_app.extensions["audit_signing_key"] = cached
    key: Ed25519PrivateKey = cached
    return key


def public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(public: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key."""
    return hashlib.sha256(public_raw(public)).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public_key_info() -> dict[str, str]:
    """The published verification key and exactly what it signs (page and API alike)."""
    public = signing_key().public_key()
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(public),
        "public_key": b64(public_raw(public)),
        "public_key_pem": public_pem(public),
        "signed_data": '"hazwaste-audit-tree-head-v1\\0" ‖ uint64be(tree_size) ‖ '
        "uint64be(timestamp_ms) ‖ root_hash (32 bytes)",
        "leaf_hash": "SHA-256(0x00 ‖ entry hash bytes)",
        "node_hash": "SHA-256(0x01 ‖ left ‖ right), RFC 6962 MTH",
    }
