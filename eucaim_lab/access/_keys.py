"""Data holders' Ed25519 signing keys, kept in ``<node>/keys/<holder>.key`` (0600) and ``.pub``.

A holder's key is created on first use. Its public half is also pinned in the node database the first time it
is seen, so replacing ``<holder>.pub`` (or the key pair) afterwards is detected rather than trusted.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import AccessDeniedError, IntegrityError
from .._node import Node
from ..catalogue._model import validate_identifier

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["holder_private_key", "holder_public_key", "key_paths", "public_key_hex"]


def key_paths(node: Node, holder: str) -> tuple[Path, Path]:
    """``(<node>/keys/<holder>.key, <node>/keys/<holder>.pub)``."""
    validate_identifier(holder, "data holder")
    return node.keys / f"{holder}.key", node.keys / f"{holder}.pub"


def public_key_hex(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def holder_private_key(node: Node, holder: str) -> Ed25519PrivateKey:
    """The holder's signing key, generated (and pinned) on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key_file, pub_file = key_paths(node, holder)
    node.keys.mkdir(parents=True, exist_ok=True)
    os.chmod(node.keys, 0o700)
    if not key_file.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            os.chmod(key_file, 0o600)
            pub_pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            tmp = pub_file.with_suffix(".pub.tmp")
            tmp.write_bytes(pub_pem)
            os.chmod(tmp, 0o644)
            os.replace(tmp, pub_file)
    mode = key_file.stat().st_mode & 0o777
    if mode & 0o077:
        raise IntegrityError(
            f"The signing key {key_file} is readable by other users (mode {mode:o}); expected 600. "
            f"Fix it with: chmod 600 {key_file}",
            path=str(key_file),
        )
    loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise IntegrityError(f"The signing key {key_file} is not an Ed25519 key.", path=str(key_file))
    _pin(node, holder, public_key_hex(loaded.public_key()))
    return loaded


def holder_public_key(node: Node, holder: str) -> Ed25519PublicKey:
    """The holder's public key as pinned in the node; :class:`AccessDeniedError` if the holder has none.

    The ``.pub`` file must agree with the pin: a replaced public key grants nothing.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    _, pub_file = key_paths(node, holder)
    row = node.db.execute("SELECT public_key FROM access_holder_keys WHERE holder = ?", (holder,)).fetchone()
    if row is None:
        raise AccessDeniedError(
            f"Data holder {holder!r} has no signing key on this node, so no permit of theirs can be valid.",
            holder=holder,
        )
    pinned = Ed25519PublicKey.from_public_bytes(bytes.fromhex(row["public_key"]))
    if pub_file.exists():
        on_disk = serialization.load_pem_public_key(pub_file.read_bytes())
        if not isinstance(on_disk, Ed25519PublicKey) or public_key_hex(on_disk) != row["public_key"]:
            raise AccessDeniedError(
                f"The public key file {pub_file} of data holder {holder!r} differs from the key pinned in the "
                "node when it was created; permits are not trusted until this is resolved.",
                holder=holder,
            )
    return pinned


def _pin(node: Node, holder: str, public_hex: str) -> None:
    with node.transaction() as db:
        row = db.execute("SELECT public_key FROM access_holder_keys WHERE holder = ?", (holder,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO access_holder_keys(holder, public_key, created) VALUES (?,?,?)",
                (holder, public_hex, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")),
            )
        elif row["public_key"] != public_hex:
            raise IntegrityError(
                f"The signing key of data holder {holder!r} in {node.keys} is not the key pinned in the node when "
                "it was first used; refusing to sign with it.",
                holder=holder,
            )
