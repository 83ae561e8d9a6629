"""A persistent compilation cache, so a second run does not compile again.

On CPU most of a new cell's time is XLA compilation (bench/NOTES.md). JAX can
keep compiled programs on disk; the command line turns that on by default, in
``$ZCJAX_COMPILE_CACHE`` or else ``$XDG_CACHE_HOME/zcjax/xla`` (``~/.cache``).
Every program is kept, however quick its compile: a cell's eager
initialisation compiles about 90 small programs (5 s in all on the development
CPU) that are worth keeping too. The folder is capped at :data:`MAX_BYTES`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import jax

ENV_VAR = "ZCJAX_COMPILE_CACHE"
OFF = ("off", "none", "0", "")
# Least recently used programs go beyond this size. Setting a size also makes
# JAX lock the folder, so concurrent runs can share it.
MAX_BYTES = 2 << 30


def _is_off(path: str | os.PathLike[str]) -> bool:
    return str(path).strip().lower() in OFF


def default_dir() -> str | None:
    """Where the command line keeps compiled programs: ``$ZCJAX_COMPILE_CACHE`` ('off': nowhere), else the user cache."""
    if ENV_VAR in os.environ:
        value = os.environ[ENV_VAR]
        return None if _is_off(value) else value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "zcjax", "xla")


def enable(path: str | os.PathLike[str] | None) -> Path | None:
    """Keeps every program this process compiles in ``path``, and reuses those found there.

    Call it before the first compilation; a later call switches to the new
    folder. A folder that cannot be created gives a warning and no cache.

    Args:
      path: the cache folder, or None (or 'off') to leave caching as it is.

    Returns:
      The folder in use, or None.
    """
    if path is None or _is_off(path):
        return None
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        warnings.warn(f"compilation cache disabled: cannot create {folder}: {err.strerror}", stacklevel=2)
        return None
    from jax.experimental.compilation_cache import compilation_cache

    if jax.config.jax_compilation_cache_dir not in (None, str(folder)):
        compilation_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return folder
