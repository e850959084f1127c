"""The README's "Add your own claim" example runs as printed: its claim PASSes, its control FAILs."""
import json
import re
from pathlib import Path

import pytest

from depthcheck.validation.run import cli, registry

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^## Add your own claim\n(.*?)^## ", text, re.S | re.M)
    assert m, "README.md has no '## Add your own claim' section"
    return m.group(1)


def test_readme_example_runs_through_the_runner(tmp_path, monkeypatch, capsys):
    section = _section()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    command = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip()
    module = re.search(r"^# (\w+)\.py$", code, re.M).group(1)
    assert 8 <= len([line for line in code.splitlines() if line.strip()]) <= 30
    argv = command.split()
    assert argv[:4] == ["PYTHONPATH=.", "python", "-m", "depthcheck"]
    assert argv[argv.index("--module") + 1] == module
    (tmp_path / f"{module}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "CLAIM_MODULES", [])          # only the README's claim
    monkeypatch.setattr(registry, "plugin_modules", lambda: [])
    args = argv[4:]
    args[args.index("--out") + 1] = str(tmp_path / "out")
    assert cli.main(args + ["--no-progress", "--no-figures"]) == 0
    capsys.readouterr()
    recs = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["id"], r["control"], r["verdict"], r["status"]) for r in recs] == [
        ("dice.mean", False, "PASS", "OK"), ("dice.mean", True, "FAIL", "OK")]
    assert recs[0]["prediction"] == pytest.approx(3.5)
    assert recs[1]["statistic"] == pytest.approx(4.5, abs=0.05)
