"""Two runs into one ``--out`` at once: the directory is locked, the second run refuses naming
the holder, and every finished directory comes from one run (manifest, results.json and
report.md agree; every file is valid JSON; no temporary file is left)."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from depthcheck.validation.run import registry, runner
from depthcheck.validation.run.lock import LOCK_NAME

TOY = "tests.validation.toyclaims"
ROOT = Path(__file__).resolve().parents[2]
PAIRS = 20
AT_ONCE = 4         # pairs started together (each into its own directory)

#: one contender: import everything, say so, wait for the starting gun, run; a refused run
#: prints its message and exits 2, as the command line does
CONTENDER = """
import sys, time
from pathlib import Path
from depthcheck.validation.run import registry, runner
registry.CLAIM_MODULES[:] = []
registry.plugin_modules = lambda: []
ready, go, out, seed = sys.argv[1:5]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
try:
    res = runner.run(["toy.mean"], out=out, seed=int(seed), modules=[sys.argv[5]],
                     progress=False, figures=False)
except (ValueError, RuntimeError) as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
sys.exit(res.exit_code)
"""


@pytest.fixture(scope="module", autouse=True)
def _only_toy_claims():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "CLAIM_MODULES", [])
        mp.setattr(registry, "plugin_modules", lambda: [])
        yield


def _start_pair(base: Path, k: int):
    d = base / f"pair{k}"
    d.mkdir()
    out, go = d / "out", d / "go"
    procs = []
    for seed in (1, 2):
        ready = d / f"ready{seed}"
        procs.append((seed, ready, subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(ready), str(go), str(out), str(seed), TOY],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    return out, go, procs


def test_concurrent_runs_into_one_directory(tmp_path):
    refs = {}
    for seed in (1, 2):
        refs[seed] = runner.run(["toy.mean"], out=tmp_path / f"ref{seed}", seed=seed,
                                modules=[TOY], progress=False, figures=False)
    assert refs[1].exit_code == 0 and (tmp_path / "ref1/results.json").read_bytes() != (
        tmp_path / "ref2/results.json").read_bytes()
    contended, outcomes = 0, []
    for batch in range(0, PAIRS, AT_ONCE):
        pairs = [_start_pair(tmp_path, k) for k in range(batch, min(PAIRS, batch + AT_ONCE))]
        deadline = time.monotonic() + 120
        for _, _, procs in pairs:
            while not all(r.exists() for _, r, _ in procs):
                assert all(p.poll() is None for _, _, p in procs), [
                    p.communicate() for _, _, p in procs]
                assert time.monotonic() < deadline
                time.sleep(0.01)
        for _, go, _ in pairs:
            go.touch()
        for out, _, procs in pairs:
            done = {seed: (p.wait(timeout=120), *p.communicate(), p.pid) for seed, _, p in procs}
            codes = sorted(c for c, *_ in done.values())
            outcomes.append(codes)
            assert codes in ([0, 0], [0, 2]), done
            if codes == [0, 2]:
                contended += 1
                loser = next(s for s, v in done.items() if v[0] == 2)
                winner_pid = done[3 - loser][3]
                msg = done[loser][2]
                assert (f"is in use by another depthcheck run: pid {winner_pid} on host" in msg
                        and "choose another --out" in msg), msg
                assert "Traceback" not in msg
            # the directory comes from one run
            manifest = json.loads((out / "manifest.json").read_text())
            seed = manifest["seed"]
            assert (out / "results.json").read_bytes() == (
                tmp_path / f"ref{seed}/results.json").read_bytes()
            json.loads((out / "timings.json").read_text())
            assert f"seed {seed}," in (out / "report.md").read_text()
            leftovers = [p.name for p in out.iterdir()
                         if p.name.endswith(".tmp") or p.name == LOCK_NAME]
            assert leftovers == []
    # the starting gun makes the runs overlap: most pairs must have met the lock
    assert contended >= PAIRS // 2, outcomes
