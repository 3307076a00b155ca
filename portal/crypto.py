"""Encryption at rest for credentials (kubeconfigs, broker passwords, binding secrets).

Fernet (AES-128-CBC + HMAC-SHA256) keyed by ``FIELD_ENCRYPTION_KEY`` (or ``_FILE``); older
keys in ``FIELD_ENCRYPTION_OLD_KEYS`` still decrypt, so keys can be rotated. Without a key,
one is derived from SECRET_KEY (fine for the embedded mode; production sets its own).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models


def _fernet_key(material: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(material.encode())
        if len(raw) == 32:
            return material.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(f"servicebay-fields:{material}".encode()).digest())


@lru_cache(maxsize=1)
def _cipher() -> MultiFernet:
    primary = settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    keys = [primary, *settings.FIELD_ENCRYPTION_OLD_KEYS]
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def _reset(**kwargs) -> None:
    _cipher.cache_clear()


setting_changed.connect(_reset)


def encrypt(text: str) -> str:
    return _cipher().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("This secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY.") from exc


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; reads give back the plain text."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
