"""What goes wrong talking to a registry, said in one line a person can act on."""
from __future__ import annotations


class RegistryError(Exception):
    """A registry refused, failed, could not be reached or answered something untrustworthy.

    The message names the registry, the repository, what was being done and why it failed: the
    HTTP status and the distribution spec's error code (`errors[].code`) when the registry said
    one. It never holds a credential, a token or an upload URL's query.
    """

    def __init__(self, registry: str, repository: str, action: str, reason: str, *,
                 status: int | None = None, code: str = "", hint: str = ""):
        self.registry, self.repository, self.action = registry, repository, action
        self.reason, self.status, self.code, self.hint = reason, status, code, hint
        where = f"registry {registry}" + (f", repository {repository}" if repository else "")
        super().__init__(f"{where}: {action}: {reason}" + (f"\n    {hint}" if hint else ""))


class Failure(Exception):
    """A request that got no usable answer (inside the client, before the registry, repository and
    action are added to make a RegistryError). `reason` and `hint` are safe to print."""

    def __init__(self, reason: str, hint: str = ""):
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def printable(text: object, limit: int = 120) -> str:
    """A server's words, made safe to print: printable ASCII on one line, short."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in str(text)).strip()
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 3] + "..."
