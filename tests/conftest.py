"""Shared fixtures: a fresh data directory, and a guard that fails tests which log errors."""

from __future__ import annotations

import logging
import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
