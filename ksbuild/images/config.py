"""The OCI image config: what runs (entrypoint, environment, user), the labels that say where the
image comes from, and the layers' diff_ids.

On a base image, the base's run settings are kept and ours are laid over them: our entrypoint
replaces the base's entrypoint and command (as ENTRYPOINT does in a Dockerfile); our Env entries
replace the base's of the same name and the rest are appended; labels merge, ours winning; the
base's diff_ids come first. Fields outside the OCI config spec (Docker's `container_config`,
`docker_version`...) are dropped. `created` is `source_date_epoch`, never the clock.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ksbuild.images.oci import ImageError, Platform

LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_VERSION = "org.opencontainers.image.version"

_RUN_FIELDS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
               "StopSignal", "ArgsEscaped")
_TOP_FIELDS = ("author", "os.version", "os.features")


@dataclass(frozen=True)
class ImageSettings:
    """How the image runs and what it says about itself; the same on every platform."""

    source_date_epoch: int
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # in order; a name given twice keeps the last value
    user: str = ""
    workdir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    source: str = ""  # org.opencontainers.image.source, e.g. https://github.com/kubestellar/kubestellar
    revision: str = ""  # org.opencontainers.image.revision: the commit
    version: str = ""  # org.opencontainers.image.version
    history: str = ""  # `created_by` of a history entry for our layer; "" writes none


def created(source_date_epoch: int) -> str:
    """RFC 3339 in UTC, to the second: 0 is 1970-01-01T00:00:00Z."""
    moment = datetime.datetime.fromtimestamp(source_date_epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_config(platform: Platform, diff_ids: Sequence[str], settings: ImageSettings,
                 base: Mapping[str, Any] | None = None) -> dict:
    """The config for `platform` with our layers' `diff_ids` on top of `base`'s (a parsed config)
    or of nothing (scratch)."""
    base = base or {}
    run = _base_run(base)
    if settings.entrypoint:
        run["Entrypoint"] = list(settings.entrypoint)
        run.pop("Cmd", None)
    if settings.cmd:
        run["Cmd"] = list(settings.cmd)
    if settings.env:
        run["Env"] = _merge_env(run.get("Env", []), settings.env)
    if settings.user:
        run["User"] = settings.user
    if settings.workdir:
        run["WorkingDir"] = settings.workdir
    labels = dict(run.get("Labels") or {})
    labels.update(settings.labels)
    for key, value in ((LABEL_SOURCE, settings.source), (LABEL_REVISION, settings.revision),
                       (LABEL_VERSION, settings.version)):
        if value:
            labels[key] = value
    if labels:
        run["Labels"] = labels
    else:
        run.pop("Labels", None)
    base_ids = _base_diff_ids(base)
    config: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created(settings.source_date_epoch),
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": base_ids + list(diff_ids)},
    }
    if platform.variant:
        config["variant"] = platform.variant
    config.update({k: base[k] for k in _TOP_FIELDS if k in base})
    history = _history(base, len(base_ids), len(diff_ids), settings)
    if history:
        config["history"] = history
    return config


def check_base_platform(base: Mapping[str, Any], platform: Platform, where: str) -> None:
    """Refuse a base config for another platform than the one we build."""
    try:
        own = Platform(str(base.get("os", "")), str(base.get("architecture", "")), str(base.get("variant", "") or ""))
    except ImageError:
        raise ImageError(f"{where}: the base config names no valid os and architecture") from None
    if not own.matches(platform):
        raise ImageError(f"{where}: the base config is for {own}, not {platform}")


def _base_run(base: Mapping[str, Any]) -> dict:
    run = base.get("config") or {}
    if not isinstance(run, dict):
        raise ImageError("the base image's config.config is not an object")
    kept = {k: run[k] for k in _RUN_FIELDS if run.get(k) is not None}
    for key in ("Env", "Entrypoint", "Cmd"):
        if key in kept and not (isinstance(kept[key], list) and all(isinstance(v, str) for v in kept[key])):
            raise ImageError(f"the base image's config.{key} is not a list of strings")
    labels = kept.get("Labels")
    if labels is not None and not (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())):
        raise ImageError("the base image's config.Labels is not an object of strings")
    return kept


def _base_diff_ids(base: Mapping[str, Any]) -> list[str]:
    if not base:
        return []
    rootfs = base.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ImageError("the base image's config has no rootfs.diff_ids list")
    return list(ids)


def _merge_env(base: list[str], ours: Sequence[tuple[str, str]]) -> list[str]:
    values = {}
    for entry in base:
        name, _, value = entry.partition("=")
        values[name] = value
    for name, value in ours:
        if not name or "=" in name:
            raise ImageError(f"environment variable name {name!r} is empty or holds '='")
        values.pop(name, None)  # moves it to the end, in our order
        values[name] = value
    return [f"{name}={value}" for name, value in values.items()]


def _history(base: Mapping[str, Any], base_layers: int, our_layers: int, settings: ImageSettings) -> list:
    """The base's history plus one entry per layer of ours, when the result stays consistent
    (one non-empty entry per layer); otherwise the base's history as it is."""
    history = base.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ImageError("the base image's config.history is not a list of objects")
    history = [dict(h) for h in history]
    non_empty = sum(1 for h in history if not h.get("empty_layer"))
    if settings.history and (non_empty == base_layers):
        history += [{"created": created(settings.source_date_epoch), "created_by": settings.history}
                    for _ in range(our_layers)]
    return history
