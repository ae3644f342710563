"""Hash and verify passwords and one-time codes (scrypt, random salt).

Hashes carry their parameters (``scrypt$n=..,r=..,p=..$salt$hash``), so the
cost can be raised later without invalidating stored passwords; comparison
is constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_secret", "verify_secret"]

# scrypt cost: 16 MiB of memory and ~50 ms per hash on this kind of machine.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_DKLEN = 32


def _b64(data):
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret):
    """Hash a password or code with scrypt and a random salt.

    Parameters
    ----------
    secret : str

    Returns
    -------
    str
        ``scrypt$n=16384,r=8,p=1$<salt>$<hash>`` (base64), for :func:`verify_secret`.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=_SCRYPT_DKLEN,
    )
    return f"scrypt$n={_SCRYPT_N},r={_SCRYPT_R},p={_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret, encoded):
    """Return whether ``secret`` matches a hash made by :func:`hash_secret`.

    Parameters
    ----------
    secret : str
    encoded : str or None
        The stored hash; None never matches.

    Returns
    -------
    bool
    """
    if not encoded:
        return False
    try:
        scheme, params, salt, digest = encoded.split("$")
        cost = dict(item.split("=") for item in params.split(","))
        n, r, p = int(cost["n"]), int(cost["r"]), int(cost["p"])
        salt, expected = _unb64(salt), _unb64(digest)
    except (ValueError, KeyError):
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**26
    )
    return hmac.compare_digest(actual, expected)


# A hash to compare against when the account is unknown, so that unknown and
# known usernames take the same time to refuse.
_DUMMY_HASH = None


def _dummy_hash():
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_secret(secrets.token_hex(16))
    return _DUMMY_HASH


def _normalize_code(code):
    return "".join(ch for ch in code.upper() if ch.isalnum())
