"""Where a run's numbers came from: the code, the machine and the command, for ``manifest.json``.

``results.json`` stays a deterministic function of the code and the run's options, so nothing
here goes into it; :func:`provenance` is written to ``manifest.json`` (and shown by the report
from there).
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import depthcheck

__all__ = ["provenance", "git_state", "cpu_model", "gpu_model", "library_versions"]

#: libraries whose versions can change a number
LIBRARIES = ("numpy", "scipy", "numba", "cupy", "matplotlib")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, str | None]:
    """Installed versions of :data:`LIBRARIES` (None when not installed; nothing is imported)."""
    out = {name: _version(name) for name in LIBRARIES}
    if out["cupy"] is None:                           # wheels are named cupy-cuda12x etc.
        for dist in metadata.distributions():
            name = (dist.metadata["Name"] or "").lower()
            if name.startswith("cupy-"):
                out["cupy"] = f"{dist.version} ({name})"
                break
    return out


def _git(root: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                           timeout=10, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_state(root: str | Path | None = None) -> dict | None:
    """``{"commit", "dirty"}`` of the git checkout depthcheck runs from, or None when it does not
    run from one (an installed copy, no git): never raises. ``dirty``: tracked files differ from
    the commit."""
    if root is None:
        root = Path(depthcheck.__file__).resolve().parent.parent
    root = Path(root).resolve()
    top = _git(root, "rev-parse", "--show-toplevel")
    # an installed copy inside someone else's repository (a venv in a project) is not ours
    if top is None or Path(top).resolve() != root:
        return None
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gpu_model() -> list[str] | str:
    """The NVIDIA GPUs of this machine, or "none", found without creating a CUDA context in this
    process: the driver's ``/proc/driver/nvidia/gpus/*/information``, else ``nvidia-smi``."""
    names = []
    base = Path("/proc/driver/nvidia/gpus")
    try:
        for info in sorted(base.glob("*/information")):
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
    except OSError:
        pass
    if names:
        return names
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=15)
        if r.returncode == 0:
            names = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return names or "none"


def provenance(backend: str, engines: dict[str, str] | None = None,
               argv: list[str] | None = None) -> dict:
    """The provenance of a run, for ``manifest.json``.

    Parameters
    ----------
    backend : str
        The run's backend.
    engines : dict, optional
        Claim id -> the engine (backend) its evidence was computed on.
    argv : list of str, optional
        The command line (default ``sys.argv``).

    Returns
    -------
    dict
        ``depthcheck`` (version), ``git`` (commit and dirty flag, or None outside a checkout),
        ``date`` (UTC, ISO 8601), ``python``, ``libraries`` (versions), ``platform``, ``cpu``
        (model and count), ``gpu`` (models or "none"), ``backend``, ``engines``, ``argv``.

    Examples
    --------
    >>> p = provenance("numpy", {"a.b": "numpy"}, argv=["depthcheck", "run"])
    >>> p["backend"], p["engines"], p["argv"]
    ('numpy', {'a.b': 'numpy'}, ['depthcheck', 'run'])
    >>> p["date"].endswith("+00:00")
    True
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "depthcheck": depthcheck.__version__,
        "git": git_state(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": library_versions(),
        "platform": platform.platform(),
        "cpu": {"model": cpu_model(), "count": os.cpu_count(), "usable": usable},
        "gpu": gpu_model(),
        "backend": backend,
        "engines": dict(engines or {}),
        "argv": list(sys.argv if argv is None else argv),
    }
