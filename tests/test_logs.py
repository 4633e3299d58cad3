"""Quiet logs: at the default level stylescope's own INFO lines and everyone's warnings show;
libraries' INFO chatter and Python warnings only with -v; -q keeps warnings and errors."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from app.logs import report_only_stdout, setup_logging
from world.clips import walking_clip, write_video

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("py.warnings", "faiss.loader")}
    yield
    logging.captureWarnings(False)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def _emit_everything() -> None:
    logging.getLogger("inference.ingest").info("ours: ingested 3 videos")
    logging.getLogger("faiss.loader").info("Could not load library with AVX512 support")
    logging.getLogger("open_clip").info("Loaded ViT-B-32 model config.")
    logging.getLogger("somelib").warning("somelib: disk almost full")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Detected pickle protocol 4 in the checkpoint", UserWarning, stacklevel=1)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("verbosity, quiet, shown, hidden", [
    (0, False, ["ours", "disk almost full"], ["AVX512", "model config", "pickle protocol"]),
    (1, False, ["ours", "disk almost full", "model config", "pickle protocol"], ["AVX512"]),
    (2, False, ["ours", "disk almost full", "model config", "pickle protocol", "AVX512"], []),
    (0, True, ["disk almost full"], ["ours", "AVX512", "model config", "pickle protocol"]),
])
def test_log_levels(capsys, verbosity, quiet, shown, hidden):
    setup_logging(verbosity, quiet)
    _emit_everything()
    err = capsys.readouterr().err
    assert all(text in err for text in shown), err
    assert not any(text in err for text in hidden), err


@pytest.mark.slow
def test_an_ingest_prints_no_library_chatter(tmp_path):
    clip = write_video(tmp_path / "fit-check.mp4", walking_clip(n=15))
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", str(clip), "--creator", "@mia", "--followers", "12k",
         "--posted-at", "2026-05-01", "--encoder", "tiny:32", "--data-dir", str(tmp_path / "data")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for chatter in ("faiss.loader", "AVX", "ModuleNotFoundError", "0 garments", "Warning"):
        assert chatter not in done.stderr, done.stderr


def test_stdout_carries_only_the_report(capsys):
    # Ray's driver prints raylet notices to sys.stdout from a background thread; during a
    # command they must go to stderr, or they break `--json` (seen once in CI).
    def library_thread() -> None:
        print("(raylet) WARNING: 12 PYTHON worker processes have been started")

    real = sys.stdout
    with report_only_stdout():
        print('{"styles": []}')
        chatter = threading.Thread(target=library_thread)
        chatter.start()
        chatter.join()
        assert sys.stdout.isatty() is False  # the rest of the real stream's API is there
    assert sys.stdout is real  # put back
    with pytest.raises(RuntimeError), report_only_stdout():
        raise RuntimeError("the command failed")
    assert sys.stdout is real  # put back after an error too
    captured = capsys.readouterr()
    assert captured.out == '{"styles": []}\n'
    assert "(raylet) WARNING" in captured.err


def test_a_command_run_from_a_worker_thread_still_reports_on_stdout(capsys, monkeypatch):
    # main() wraps every command: what the command's own thread prints is the report, even
    # when that thread is not the process's main thread; another thread's print is not
    from app import cli

    def command(args) -> int:
        print("the report")
        noise = threading.Thread(target=print, args=("library chatter",))
        noise.start()
        noise.join()
        return 0

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands.choices["check"].set_defaults(func=command)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    codes = []
    runner = threading.Thread(target=lambda: codes.append(cli.main(["check", "--data-dir", "."])))
    runner.start()
    runner.join()
    captured = capsys.readouterr()
    assert codes == [0] and captured.out == "the report\n" and "library chatter" in captured.err
