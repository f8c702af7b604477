"""Processing's X25519 key pair for applicant data: the private key opens what intake sealed to the
public key (`dossier_contracts.applicant_wire`). Keys are the standard base64 of their 32 raw bytes;
the private key comes from `PROCESSING_APPLICANT_PRIVATE_KEY` (a secret: never logged, never echoed)."""

from __future__ import annotations

import base64
import binascii
import functools

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from dossier_processing.settings import ProcessingSettings

__all__ = ["KeyPair", "Opener", "generate_key_pair", "opener_from_env", "opener_of"]


class Opener:
    """Opens sealed applicant blobs with the private key."""

    def __init__(self, private_key: PrivateKey) -> None:
        self._box = SealedBox(private_key)

    @classmethod
    def of(cls, encoded: str) -> Opener:
        """`ValueError` (without the value) for anything but the base64 of a 32-byte key."""
        try:
            return cls(PrivateKey(base64.b64decode(encoded.strip(), validate=True)))
        except (binascii.Error, ValueError, CryptoError, TypeError):
            raise ValueError(
                "PROCESSING_APPLICANT_PRIVATE_KEY must be the standard base64 of a 32-byte X25519 private key"
            ) from None

    def open(self, sealed: bytes) -> bytes:
        """The clear bytes; `ValueError` when the blob was not sealed to this key or was altered."""
        try:
            return self._box.decrypt(sealed)
        except CryptoError:
            raise ValueError("the applicant data cannot be opened with this key") from None


@functools.lru_cache(maxsize=4)
def _opener(encoded: str) -> Opener:
    return Opener.of(encoded)


def opener_of(settings: ProcessingSettings) -> Opener | None:
    """The opener of the settings' `PROCESSING_APPLICANT_PRIVATE_KEY`, or `None` when it is unset;
    `ValueError` (naming the variable, never the value) for a malformed key."""
    secret = settings.applicant_private_key
    if secret is None or not secret.get_secret_value():
        return None
    return _opener(secret.get_secret_value())


def opener_from_env() -> Opener | None:
    """`opener_of` the settings the environment gives."""
    return opener_of(ProcessingSettings())


class KeyPair:
    """A new key pair, base64: `private` for processing, `public` for intake."""

    def __init__(self, key: PrivateKey) -> None:
        self.private = base64.b64encode(bytes(key)).decode("ascii")
        self.public = base64.b64encode(bytes(key.public_key)).decode("ascii")

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public!r})"


def generate_key_pair() -> KeyPair:
    return KeyPair(PrivateKey.generate())
