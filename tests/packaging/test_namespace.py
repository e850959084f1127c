"""Nothing can shadow depthcheck: unrelated packages named ``kernels``, ``theory`` and
``validation`` (PyPI has popular ones) neither hide our modules nor overwrite our files."""
import os
import re
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DUMMIES = ("kernels", "theory", "validation")


def _readme_python_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _write_dummies(where: Path):
    for name in DUMMIES:
        pkg = where / name
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"IMPOSTOR = {name!r}\n")


def test_readme_has_library_examples():
    blocks = _readme_python_blocks()
    assert len(blocks) >= 2 and all("depthcheck" in b for b in blocks)


def test_impostor_packages_first_on_sys_path_change_nothing(tmp_path):
    """README examples and one quick claim run with impostors first on sys.path."""
    _write_dummies(tmp_path / "impostors")
    examples = "\n".join(_readme_python_blocks())
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path / "impostors")!r})
        import kernels, theory, validation
        assert kernels.IMPOSTOR == "kernels"
        # the suite's hypothesis profile (tests/conftest.py): no timing health checks, which a
        # loaded 2-core box can fail while another test process compiles kernels (seen in CI:
        # one draw of a README example's strategy took 1.03 s)
        from hypothesis import HealthCheck, settings
        settings.register_profile("subprocess", max_examples=40, deadline=None,
                                  derandomize=True,
                                  suppress_health_check=[HealthCheck.too_slow])
        settings.load_profile("subprocess")
        ns = {{}}
        exec(compile({examples!r}, "README.md", "exec"), ns)
        for name, f in list(ns.items()):
            if name.startswith("test_") and callable(f):
                f()
        from depthcheck.validation.run.cli import main
        code = main(["run", "toy.mean", "--module", "tests.validation.toyclaims", "--quick",
                     "--out", {str(tmp_path / "out")!r}])
        print("exit", code)
        import json
        recs = json.load(open({str(tmp_path / "out" / "results.json")!r}))
        print("ran", [(r["verdict"] != "ERROR") for r in recs])
        mods = [m for m in sys.modules if m.split(".")[0] in {DUMMIES!r}]
        print("dummies", sorted(mods))
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ran [True, True]" in out.stdout and "exit 0" in out.stdout
    assert "dummies ['kernels', 'theory', 'validation']" in out.stdout  # ours never loaded them


def _pip(py, *args, cwd=None):
    out = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", *args], capture_output=True, text=True, cwd=cwd,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]


def test_regular_install_beside_impostor_distributions(tmp_path):
    """A non-editable ``pip install .`` into a fresh venv installs nothing top-level but
    ``depthcheck``; impostor distributions named kernels/theory/validation installed before and
    uninstalled after leave it intact; ``depthcheck --version`` runs."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(env_dir)
    py = env_dir / "bin" / "python"
    imp = tmp_path / "impostor"
    _write_dummies(imp)
    (imp / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='impostor-kernels', version='1.0', "
        f"packages={list(DUMMIES)!r})\n")
    _pip(py, str(imp))
    _pip(py, str(ROOT))
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True).stdout.strip()
    ours = Path(site) / "depthcheck"
    assert (ours / "kernels" / "chain" / "driver.py").is_file()
    assert (ours / "py.typed").is_file()
    assert not (Path(site) / "kernels" / "chain").exists()   # nothing of ours at top level
    subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "-q", "impostor-kernels"],
                   check=True, capture_output=True, timeout=300)
    check = textwrap.dedent("""
        import depthcheck, numpy as np
        from depthcheck.kernels import simulate_chain
        assert depthcheck.__file__.startswith(%r), depthcheck.__file__
        out = simulate_chain(np.eye(4), 3, trials=2, rng=np.random.default_rng(0))
        print("ok", out["isometry_gap"].shape)
    """ % str(site))
    r = subprocess.run([str(py), "-c", check], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0 and "ok (2, 4)" in r.stdout, r.stderr[-3000:]
    v = subprocess.run([str(env_dir / "bin" / "depthcheck"), "--version"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    from depthcheck import __version__
    assert v.returncode == 0 and v.stdout.strip() == f"depthcheck {__version__}", v.stderr
    m = subprocess.run([str(py), "-m", "depthcheck", "--version"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert m.stdout.strip() == f"depthcheck {__version__}", m.stderr
