"""Presets: named, tested settings shipped with the package as TOML files in this folder.

Each file has a ``[preset]`` table (``description``; where ``auto`` picks it: ``match``, glob
patterns of env ids, or ``family``, e.g. ``mujoco`` for every Gymnasium MuJoCo id; ``algos``, the
algorithms it is for) and a ``[config]`` table of config keys. ``preset = "auto"`` (the default)
picks the preset of the env (a ``match`` before a ``family``) for the run's algorithm, if any.

A preset sets the keys it names that the config leaves at their defaults: a key set to anything
else (``--set``, ``--config``, a flag, the Python API) wins. ``preset = ""`` applies none.
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from importlib import resources

from trpo.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: dict
    match: tuple[str, ...] = ()
    family: str = ""
    algos: tuple[str, ...] = ()


def available() -> dict[str, Preset]:
    out = {}
    for f in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if f.name.endswith(".toml"):
            d = tomllib.loads(f.read_text())
            meta = d.get("preset", {})
            out[f.name[:-5]] = Preset(f.name[:-5], meta.get("description", ""), dict(d.get("config", {})),
                                      tuple(meta.get("match", ())), meta.get("family", ""),
                                      tuple(meta.get("algos", ())))
    return out


def get(name: str) -> Preset:
    presets = available()
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(presets)} (trpo presets)")
    return presets[name]


def auto(env_id: str, algo: str, family: str) -> Preset | None:
    """The preset ``preset = "auto"`` picks for this env and algorithm, or None."""
    name = env_id.split(":", 1)[-1]
    fits = [p for p in available().values() if not p.algos or algo in p.algos]
    for p in fits:
        if any(fnmatch.fnmatchcase(name, pat) for pat in p.match):
            return p
    for p in fits:
        if family and p.family == family:
            return p
    return None
