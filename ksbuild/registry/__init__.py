"""Registries: an OCI distribution API client and what is built on it.

    Registry(host, insecure=False, auth=FROM_ENV)                   # client.py
    push_layout(registry, repository, tag, layout_dir) -> PushResult  # push.py
    fetch_image(registry, "repo@sha256:...", store) -> layout dir     # fetch.py

Every failure is a RegistryError naming the registry, the repository, the action, the HTTP status
and the registry's error code. Credentials: `auth` (KSBUILD_REGISTRY_AUTH_<HOST>=USER:PASSWORD).
"""
from ksbuild.registry.auth import Credentials, env_variable
from ksbuild.registry.client import FROM_ENV, ManifestReply, Registry
from ksbuild.registry.errors import RegistryError
from ksbuild.registry.fetch import fetch_image
from ksbuild.registry.push import PushResult, push_layout

__all__ = ["Credentials", "FROM_ENV", "ManifestReply", "PushResult", "Registry", "RegistryError", "env_variable",
           "fetch_image", "push_layout"]
