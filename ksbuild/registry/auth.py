"""Registry credentials and the distribution spec's authentication: anonymous, basic, and a
bearer token fetched from the realm a `WWW-Authenticate: Bearer realm=...,service=...,scope=...`
challenge names.

Credentials come from one environment variable per registry host:

    KSBUILD_REGISTRY_AUTH_<HOST>=USER:PASSWORD

where <HOST> is the host (with its port, if any) upper-cased, every character other than a
letter or digit made `_`: `ghcr.io` reads KSBUILD_REGISTRY_AUTH_GHCR_IO, `127.0.0.1:5000` reads
KSBUILD_REGISTRY_AUTH_127_0_0_1_5000. The password may hold `:`; a token (GitHub's GITHUB_TOKEN
for ghcr.io) is a password. There is deliberately no variable for all registries: a credential
goes only to the registry it was set for (and to the token service that registry names).

Credentials are sent only over HTTPS, or to a registry marked insecure; a registry served over
HTTPS whose token realm is plain HTTP is refused. Neither a password nor a token ever appears in
a message, a repr or an exception: messages name the variable instead.
"""
from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlencode, urlsplit

from ksbuild.registry.errors import Failure, printable
from ksbuild.registry.transport import Transport, shown

ENV_PREFIX = "KSBUILD_REGISTRY_AUTH_"
MAX_TOKEN_REPLY = 1 << 20
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,65536}\Z")  # what may follow "Bearer " in a header
_ITEM = re.compile(r'([A-Za-z0-9!#$%&\'*+.^_`|~-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages: the variable's name

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def env_variable(host: str) -> str:
    """The variable holding `host`'s credentials."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", host.upper())


def credentials_from_env(host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    environ = os.environ if environ is None else environ
    name = env_variable(host)
    value = environ.get(name, "")
    if not value:
        return None
    user, colon, password = value.partition(":")
    if not colon or not user:
        raise Failure(f"{name} is set but is not USER:PASSWORD")
    return Credentials(user, password, name)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer"
    params: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str:
        return dict(self.params).get(name, "")


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges of a WWW-Authenticate header: a bare word starts a challenge, `name=value`
    pairs are its parameters (a quoted value may hold commas, as a scope `repository:a:pull,push`
    does)."""
    challenges: list[tuple[str, list[tuple[str, str]]]] = []
    for match in _ITEM.finditer(header):
        name, value = match.group(1), match.group(2)
        if value is None:
            challenges.append((name.lower(), []))
        elif challenges:
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            challenges[-1][1].append((name.lower(), value))
    return [Challenge(scheme, tuple(params)) for scheme, params in challenges]


class Authenticator:
    """What the next request to the registry sends as Authorization, per scope
    (`repository:NAME:pull` or `repository:NAME:pull,push`), learnt from the registry's challenges."""

    def __init__(self, host: str, insecure: bool, credentials: Credentials | None, transport: Transport):
        self.host = host
        self.insecure = insecure
        self.credentials = credentials
        self.transport = transport
        self._basic = False
        self._tokens: dict[str, str] = {}

    def header(self, scope: str) -> str:
        if self._basic and self.credentials is not None:
            return self.credentials.basic()
        return self._tokens.get(scope, "")

    def answer(self, header: str, scope: str) -> bool:
        """After a 401 with this WWW-Authenticate header: get what the next try sends. False when
        there is nothing new to try (no credentials for basic, an unknown scheme)."""
        challenges = parse_challenges(header)
        for challenge in challenges:
            if challenge.scheme == "bearer" and challenge.get("realm"):
                self._tokens[scope] = "Bearer " + self._token(challenge, scope)
                return True
        for challenge in challenges:
            if challenge.scheme == "basic" and self.credentials is not None and not self._basic:
                self._basic = True
                return True
        return False

    def hint(self) -> str:
        """What to do about a refusal."""
        if self.credentials is None:
            return f"set {env_variable(self.host)}=USER:PASSWORD for it"
        return f"check the credentials in {self.credentials.source}" if self.credentials.source \
            else "check the credentials given"

    def _token(self, challenge: Challenge, scope: str) -> str:
        realm = challenge.get("realm")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Failure(f"its token realm {printable(realm)!r} is not an http(s) URL")
        if parts.scheme == "http" and not self.insecure:
            raise Failure(f"its token service {shown(realm)} is plain HTTP: no credential is sent in clear",
                          "if it is a local test registry, mark it insecure")
        scopes = sorted({scope, *([challenge.get("scope")] if challenge.get("scope") else [])})
        query = [("service", challenge.get("service"))] if challenge.get("service") else []
        query += [("scope", s) for s in scopes]
        url = realm + ("&" if parts.query else "?") + urlencode(query)
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic()
        with self.transport.request("GET", url, headers) as reply:
            if reply.status != 200:
                raise Failure(f"its token service {shown(realm)} answered HTTP {reply.status}", self.hint())
            data = reply.read_bounded(MAX_TOKEN_REPLY)
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        token = (value.get("token") or value.get("access_token")) if isinstance(value, dict) else None
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise Failure(f"its token service {shown(realm)} answered no usable token")
        return token
