"""Fast commands: help, bad arguments and commands that need no model import no heavy library.

Each case runs ``main(argv)`` in a fresh interpreter (the modules a test process already
imported would hide an import) and reports which heavy libraries ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "transformers", "open_clip", "gradio", "ray", "sklearn", "matplotlib")
PROBE = """
import contextlib, io, json, sys
from app.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "err": err.getvalue(),
                  "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
""".replace("HEAVY", repr(HEAVY))


def run_cli(*argv: str) -> dict:
    """Exit code, stderr and the heavy modules imported by ``stylescope argv`` in a new process."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["search", "--help"],
    ["index", "--help"],
    ["app", "--help"],
    ["ingest", "--help"],
    ["train", "--help"],
    ["world", "--help"],
])
def test_help_imports_no_heavy_library(argv):
    probed = run_cli(*argv)
    assert probed["code"] == 0 and probed["heavy"] == []


@pytest.mark.parametrize("argv, message", [
    (["search", "--text", "red", "--k", "0"], "k must be at least 1"),
    (["search", "--text", "   "], "the text query is empty"),
    (["search", "--text", "red", "--from", "2024-13-01"], "--from date must look like"),
    (["search", "--image", "no-such-look.jpg"], "image file not found"),
    (["search", "--text", "red"], "there is no index"),
    (["index", "info"], "there is no index"),
    (["creators"], "there are no styles yet"),
])
def test_bad_arguments_and_reads_fail_before_any_model_loads(tmp_path, argv, message):
    probed = run_cli(*argv, "--data-dir", str(tmp_path))
    assert probed["code"] == 2 and message in probed["err"]
    assert probed["heavy"] == []


@pytest.mark.slow
def test_a_text_query_loads_only_the_text_side_of_the_default_encoder():
    code = ("import sys; from models import create_encoder; create_encoder().encode_text(['a red skirt']); "
            "print(sorted(m for m in ('transformers', 'efficientnet_lite_pytorch', 'cv2') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --------------------------------------------------------------------------- data-dir mistakes
READ_COMMANDS = [["search", "--text", "red"], ["trends"], ["creators"], ["index", "info"]]
INGEST = ["ingest", "clip.mp4", "--creator", "@mia", "--followers", "10", "--posted-at", "2026-01-01"]


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"stylescope {command}: error: ") and "data dir" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize("argv", [*READ_COMMANDS, INGEST, ["index", "rebuild"], ["app"], ["demo"]])
def test_a_file_as_data_dir_is_a_one_line_error(tmp_path, capsys, argv):
    from app.cli import main

    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("not a deployment")
    assert main([*argv, "--data-dir", str(not_a_folder)]) == 2
    assert "is a file, not a folder" in one_line_error(capsys, argv[0])


@pytest.mark.parametrize("argv", READ_COMMANDS)
def test_a_missing_data_dir_is_an_error_for_commands_that_read_it(tmp_path, capsys, argv):
    from app.cli import main

    typo = tmp_path / "stylescoep"
    assert main([*argv, "--data-dir", str(typo)]) == 2
    assert "does not exist" in one_line_error(capsys, argv[0])
    assert not typo.exists()  # no empty deployment left behind


def test_a_data_dir_that_cannot_be_written_or_read(tmp_path, capsys, monkeypatch):
    import core.storage
    from app.cli import main

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    denied = {os.W_OK}
    monkeypatch.setattr(core.storage.os, "access", lambda path, mode: not any(mode & m for m in denied))
    assert main([*INGEST, "--data-dir", str(data_dir)]) == 2
    assert "is not writable (permission denied)" in one_line_error(capsys, "ingest")
    assert main(["index", "info", "--data-dir", str(data_dir)]) == 2  # reading is allowed
    assert "there is no index" in capsys.readouterr().err
    denied.add(os.R_OK)
    assert main(["creators", "--data-dir", str(data_dir)]) == 2
    assert "is not readable (permission denied)" in one_line_error(capsys, "creators")
    monkeypatch.undo()
    (tmp_path / "a.txt").write_text("a file where a parent folder should be")
    assert main([*INGEST, "--data-dir", str(tmp_path / "a.txt" / "data")]) == 2
    assert "cannot create data dir" in one_line_error(capsys, "ingest")


@pytest.mark.parametrize("argv", [*READ_COMMANDS, INGEST])
def test_a_data_dir_from_a_newer_stylescope_is_a_one_line_error(tmp_path, capsys, argv):
    import sqlite3

    from app.cli import main
    from inference.catalog import CATALOG_FILE

    with sqlite3.connect(tmp_path / CATALOG_FILE) as conn:
        conn.execute("PRAGMA user_version = 999")
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "schema version 999, newer than this" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
