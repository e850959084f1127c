"""depthcheck: executable, statistically judged checks of theorems about deep random networks.

The metadata lives in ``pyproject.toml``; this file maps the design card's top-level folders
(``theory/``, ``kernels/``, ``validation/``) into the ``depthcheck`` namespace, so that nothing is
ever installed as a top-level ``kernels``, ``theory`` or ``validation`` (PyPI has popular
packages with those names, and a regular install would overwrite their files or ours).
"""
from setuptools import find_packages, setup

#: top-level folder -> import name inside the ``depthcheck`` namespace
_ROOTS = {"theory": "depthcheck.theory", "kernels": "depthcheck.kernels",
          "validation": "depthcheck.validation"}


def _packages():
    pkgs = {"depthcheck": "depthcheck"}
    for folder, name in _ROOTS.items():
        pkgs[name] = folder
        for sub in find_packages(where=folder):
            pkgs[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return pkgs


_PACKAGE_DIR = _packages()

setup(
    packages=sorted(_PACKAGE_DIR),
    package_dir=_PACKAGE_DIR,
    package_data={"depthcheck": ["py.typed"], "depthcheck.validation.bench": ["RESULTS.md"]},
)
