import os

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles: "ci" keeps the suite inside its time budget on 2 cores; "dev" digs deeper.
# "ci" is derandomised so that a CI run is reproducible from the commit alone.
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    # Our workloads are stacks of small matrices: BLAS threads only oversubscribe the 2 cores
    # that pytest-xdist already fills (a batched 128x128 matmul measured 7 ms single-threaded
    # against 120-330 ms threaded under load).
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    config._blas_limit = threadpool_limits(limits=1)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow (long Monte Carlo runs)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: opt in with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
