"""Shared fixtures: a fresh data directory, and a guard that fails tests which log errors."""

from __future__ import annotations

import logging
import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it (core.process.passive_openmp_waits)


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_logs_gte_error(request):
    """Fail any test that logs at ERROR or above, unless marked ``allow_error_logs``."""
    collector = _ErrorCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    yield
    root.removeHandler(collector)
    if collector.records and not request.node.get_closest_marker("allow_error_logs"):
        messages = "\n".join(f"{r.name}: {r.getMessage()}" for r in collector.records)
        pytest.fail(f"test logged at ERROR or above:\n{messages}")


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_error_logs: the test expects ERROR log records")


@pytest.fixture
def data_dir(tmp_path):
    """An empty data directory for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray node for every Ray test: 2 CPUs, loopback, no dashboard, no usage stats,
    no memory monitor (the machine is shared; its other users are not Ray's to kill for)."""
    ray = pytest.importorskip("ray", reason="the scale extra is not installed (pip install 'stylescope[scale]')")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_memory_monitor_refresh_ms"] = "0"  # noqa: SIM112 - Ray spells it so
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()
