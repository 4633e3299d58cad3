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
