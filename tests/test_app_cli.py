"""``stylescope demo`` and ``stylescope app``: the demo end to end on the tiny world preset,
and the rules for serving beyond this machine (authentication or refusal)."""

from __future__ import annotations

import json
import os

import pytest

from app.cli import main
from app.commands.serve import PASSWORD_ENV, USER_ENV, check_binding, read_auth
from core.errors import BadInputError


@pytest.mark.slow
def test_demo_builds_world_ingests_reports_and_reruns_quickly(tmp_path, capsys):
    data_dir = tmp_path / "demo"
    argv = ["demo", "--data-dir", str(data_dir), "--preset", "tiny", "--encoder", "tiny:32", "--no-serve", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["world"]["generated"] and (data_dir / "world" / "manifest.csv").is_file()
    assert report["ingest"]["ingested"] == report["counts"]["videos_done"] > 0
    assert report["counts"]["garments"] > 0 and report["styles"]["mode"] == "recluster"
    assert report["top_styles"] and all(s["originator"] for s in report["top_styles"])
    assert main(argv) == 0  # a rerun keeps the world and skips videos already in
    again = json.loads(capsys.readouterr().out)
    assert not again["world"]["generated"] and again["ingest"]["ingested"] == 0
    assert again["ingest"]["skipped"] == report["ingest"]["ingested"]
    assert again["counts"] == report["counts"]
    # An upgrade brings a new version of the same encoder (new default heads): the demo
    # re-embeds the catalog into a new index version and clusters styles afresh.
    from inference.catalog import Catalog
    from inference.index import index_root, read_current
    from inference.trends import STATE_KEY

    assert again["reembedded"] is None
    live = read_current(data_dir)
    meta_path = index_root(data_dir) / live / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["encoder"]["version"] = "an-older-version"
    meta_path.write_text(json.dumps(meta))
    with Catalog(data_dir) as catalog:
        state = json.loads(catalog.get_meta(STATE_KEY))
        assert state["encoder_version"] != "an-older-version"
        catalog.set_meta(STATE_KEY, json.dumps({**state, "encoder_version": "an-older-version"}))
    assert main(argv) == 0
    upgraded = json.loads(capsys.readouterr().out)
    assert upgraded["reembedded"] not in (None, live) and read_current(data_dir) == upgraded["reembedded"]
    assert upgraded["styles"]["mode"] == "recluster" and upgraded["counts"] == report["counts"]
    assert main(["search", "--data-dir", str(data_dir), "--text", "a red dress", "--json"]) == 0


def test_serving_off_loopback_needs_authentication(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert main(["app", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]) == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in capsys.readouterr().err
    check_binding("127.0.0.1", [])  # loopback needs none
    with pytest.raises(BadInputError, match="refusing"):
        check_binding("192.168.1.20", [])
    check_binding("0.0.0.0", [("ana", "s3cret")])


def test_credentials_from_environment_or_file(tmp_path):
    assert read_auth(None, {USER_ENV: "ana", PASSWORD_ENV: "s3cret"}) == [("ana", "s3cret")]
    assert read_auth(None, {}) == []
    with pytest.raises(BadInputError, match="both"):
        read_auth(None, {USER_ENV: "ana"})
    good = tmp_path / "auth.txt"
    good.write_text("# who may log in\nana:s3cret\nbo:pa:ss\n")
    os.chmod(good, 0o600)
    assert read_auth(good, {}) == [("ana", "s3cret"), ("bo", "pa:ss")]
    bad = tmp_path / "bad.txt"
    bad.write_text("ana\n")
    with pytest.raises(BadInputError, match="line 1: expected user:password"):
        read_auth(bad, {})
    with pytest.raises(BadInputError, match="cannot read the auth file"):
        read_auth(tmp_path / "missing.txt", {})


@pytest.mark.slow
def test_app_with_auth_refuses_anonymous_clients(tmp_path):
    pytest.importorskip("gradio")
    from gradio_client import Client

    from app.services import Services
    from app.ui import build_app, launch
    from tests.app_fixtures import free_port

    services = Services.open(tmp_path / "data", "tiny:32")
    blocks = build_app(services)
    url = launch(blocks, services, "127.0.0.1", free_port(), auth=[("ana", "s3cret")], block=False, quiet=True)
    try:
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain ValueError/HTTP error
            Client(url, verbose=False)
        with pytest.raises(Exception):  # noqa: B017
            Client(url, auth=("ana", "wrong"), verbose=False)
        client = Client(url, auth=("ana", "s3cret"), verbose=False)
        header = client.predict(api_name="/status")[0]
        assert "0 creators · 0 videos" in header
        client.close()
    finally:
        blocks.close()
        services.close()


@pytest.mark.parametrize("command", ["trends", "creators"])
@pytest.mark.parametrize("text, message", [
    ("cluster:\n  noise_mads: -1\n", "cluster.noise_mads must be >= 0"),
    ("cluster:\n  nosie: 1\n", "unknown ClusterConfig settings: nosie"),
    ("cluster: [\n", "is not valid YAML"),
])
def test_a_bad_config_file_is_a_one_line_error(tmp_path, capsys, command, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    code = main([command, "--data-dir", str(tmp_path / "data"), "--config", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"stylescope {command}: error:") and message in err


def test_a_bad_creators_setting_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("creators:\n  min_frames: 0\n")
    assert main(["creators", "--data-dir", str(tmp_path / "data"), "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("stylescope creators: error: creators.min_frames must be >= 1")


def test_app_without_the_app_extra_names_the_install_command(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gradio", None)  # as if gradio were not installed
    monkeypatch.delitem(sys.modules, "app.ui", raising=False)
    assert main(["app", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylescope app: error: the app needs gradio") and "pip install 'stylescope[app]'" in err
    assert len(err.strip().splitlines()) == 1


def test_the_app_warms_its_encoder_in_the_background(tmp_path):
    from app.services import Services

    services = Services.open(tmp_path / "data", "tiny:32")
    services.warm_up().join(timeout=120)
    assert services._encoder is not None  # loaded before any query asked for it
    services.close()


def test_the_page_is_served_once_the_encoder_is_warm(tmp_path, monkeypatch):
    import time

    pytest.importorskip("gradio")
    import app.ui
    import inference.encoders

    resolve = inference.encoders.resolve_encoder

    def slow_resolve(*args, **kwargs):  # an encoder that takes longer to load than the page to build
        time.sleep(3)
        return resolve(*args, **kwargs)

    monkeypatch.setattr(inference.encoders, "resolve_encoder", slow_resolve)
    seen = {}

    def launch(blocks, services, *args, **kwargs):  # what the real launch would serve
        seen["warm"] = services._encoder is not None
        return "http://127.0.0.1:0/"

    monkeypatch.setattr(app.ui, "launch", launch)
    assert main(["app", "--data-dir", str(tmp_path / "data"), "--encoder", "tiny:32"]) == 0
    assert seen == {"warm": True}


def test_warm_up_tidies_the_upload_cache_so_the_first_image_search_need_not(tmp_path, monkeypatch):
    import os
    import time

    pytest.importorskip("gradio")
    from app.services import AppConfig, Services

    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    old = cache / "abc" / "old.jpg"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    services = Services.open(tmp_path / "data", "tiny:32", AppConfig(upload_cache_hours=1))
    services.warm_up().join(timeout=120)
    assert not old.exists()  # tidied in the background at start
    fresh = cache / "def" / "query.jpg"
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(b"x" * 10)
    os.utime(fresh, (two_hours_ago, two_hours_ago))
    services.tidy_upload_cache()  # what the first image search calls: no second walk within the minute
    assert fresh.exists()
    services.close()
