"""The secret store: values encrypted with MultiFernet, referenced everywhere else by id.

Keys come from ``LOOPBACK_SECRET_KEY`` (comma-separated, newest first, so an old key still
decrypts during rotation) or from a key file created in the data directory on first start.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.orm import Session

from loopback.credentials.models import Secret
from loopback.kit.errors import LoopbackError
from loopback.kit.files import write_private
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings

KEY_FILE = "secret.key"


class SecretKeyError(LoopbackError):
    slug = "secret-key"
    title = "The secret store cannot decrypt this value"


def load_keys(settings: Settings) -> list[bytes]:
    """The configured keys, or the data directory's key file, created with mode 0600 if missing."""
    if settings.secret_key is not None:
        keys = [k.strip().encode() for k in settings.secret_key.get_secret_value().split(",") if k.strip()]
        if not keys:
            raise ValueError("LOOPBACK_SECRET_KEY is set but holds no key")
        return keys
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        write_private(path, Fernet.generate_key())
    return [path.read_bytes().strip()]


class SecretStore:
    def __init__(self, keys: list[bytes]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as error:
            raise ValueError(f"a secret key is not a valid Fernet key: {error}") from None

    def encrypt(self, plaintext: bytes) -> bytes:
        """Seal bytes kept outside the store (idempotent answers) with the same keys."""
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise SecretKeyError("a value was encrypted with a key that is not configured") from None

    def put(self, session: Session, purpose: str, value: str) -> str:
        """Encrypt and store ``value``; the returned id is all anyone else keeps."""
        secret = Secret(id=new_id("sec"), purpose=purpose, ciphertext=self._fernet.encrypt(value.encode()))
        session.add(secret)
        session.flush()
        return secret.id

    def get(self, session: Session, secret_id: str) -> str:
        secret = session.get(Secret, secret_id)
        if secret is None:
            raise SecretKeyError(f"secret {secret_id} does not exist")
        try:
            return self._fernet.decrypt(secret.ciphertext).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"secret {secret_id} was encrypted with a key that is not configured"
            ) from None

    def replace(self, session: Session, secret_id: str, value: str) -> None:
        secret = session.get(Secret, secret_id)
        if secret is None:
            raise SecretKeyError(f"secret {secret_id} does not exist")
        secret.ciphertext = self._fernet.encrypt(value.encode())
