"""Entry provenance: HMAC-SHA-256 over an action key and the content digest of its entry.

A writer that holds the cache's signing key (in the environment variable the settings name,
KSBUILD_CACHE_SIGNING_KEY by default) signs every entry it writes; a reader with
`require_signature` restores only entries whose signature its own copy of the key confirms. The
key is read from the environment each time it is used: it is never kept in CacheConfig (which
travels to doit's parallel workers), never printed, never recorded.

The signed message names the scheme, so that a later scheme can never be confused with this one:

    b"ksbuild-action-entry\\n" + SCHEME + b"\\n" + action key + b"\\n" + sha256(canonical entry)
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re

SCHEME = "hmac-sha256-v1"
_HEX = re.compile(r"[0-9a-f]{64}")


def signing_key(env_name: str) -> bytes | None:
    """The signing key, from the environment at the moment of use; None when there is none."""
    value = os.environ.get(env_name, "") if env_name else ""
    return value.encode() if value else None


def canonical(document: dict) -> bytes:
    """The one byte form of an entry document (without its signature) that digests are taken of."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signature(key: bytes, action_key: str, content: bytes) -> dict:
    return {"scheme": SCHEME, "mac": _mac(key, action_key, hashlib.sha256(content).hexdigest())}


def verify(key: bytes, action_key: str, content: bytes, signed) -> str:
    """'' when `signed` (the entry's "signature" field) is this key's signature of `content` under
    `action_key`; otherwise what is wrong with it."""
    if signed is None:
        return "is not signed"
    if not isinstance(signed, dict) or set(signed) != {"scheme", "mac"}:
        return "has a malformed signature"
    if signed["scheme"] != SCHEME:
        return f"is signed with an unknown scheme {str(signed['scheme'])[:40]!r}"
    if not isinstance(signed["mac"], str) or not _HEX.fullmatch(signed["mac"]):
        return "has a malformed signature"
    if not hmac.compare_digest(signed["mac"].encode(), _mac(key, action_key, hashlib.sha256(content).hexdigest())
                               .encode()):
        return "has a bad signature (not made with this cache's signing key, or for another action)"
    return ""


def _mac(key: bytes, action_key: str, content_digest: str) -> str:
    message = b"\n".join([b"ksbuild-action-entry", SCHEME.encode(), action_key.encode(), content_digest.encode()])
    return hmac.new(key, message, hashlib.sha256).hexdigest()
