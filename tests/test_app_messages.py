"""The app's messages speak the app's language: form fields and tabs, never a CLI command or
flag, an exception class name, a temporary path or an internal index version id."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app import handlers
from app.services import AppConfig, Services
from core.errors import StylescopeError
from inference.catalog import Catalog
from inference.trends import ClusterConfig, TrendsConfig, recluster
from tests.trends_helpers import WorldBuilder

CLI_WORDS = re.compile(r"(?<![\w-])--[a-z]|`stylescope|stylescope (ingest|trends|index|search)")
CLASS_NAMES = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


def assert_app_language(message: str, *leaks: str) -> None:
    assert not CLI_WORDS.search(message), message
    assert not CLASS_NAMES.search(message), message
    for leak in leaks:
        assert leak not in message, message


def message_of(call: Callable[[], Any]) -> str:
    with pytest.raises(StylescopeError) as caught:
        call()
    return str(caught.value)


@pytest.fixture
def services(data_dir):
    opened = Services(data_dir, Catalog(data_dir), AppConfig())
    yield opened
    opened.close()


def test_messages_on_an_empty_deployment_name_tabs_and_fields(services):
    expected = {
        "update_styles": (lambda: handlers.update_styles(services), "Upload videos tab"),
        "trends": (lambda: handlers.trends_overview(services), "“Update styles”"),
        "leaderboard": (lambda: handlers.leaderboard(services), "“Update styles”"),
        "style": (lambda: handlers.style_detail(services, 3), "“Update styles”"),
        "search": (lambda: handlers.search(services, None, "red", handlers.search_filters("", "", [], [], []), 5,
                                           False), "Upload videos tab"),
        "creator": (lambda: handlers.creator_page(services, "@nobody"), "unknown creator @nobody"),
        "eval": (lambda: handlers.eval_report(services, "v0042"), "Model version list"),
        "switch": (lambda: handlers.switch_model(services, "v0042"), "Model version list"),
        "retrain": (lambda: handlers.retrain(services, None, True), "choose a zip"),
    }
    for name, (call, words) in expected.items():
        message = message_of(call)
        assert words in message, (name, message)
        assert_app_language(message, str(services.data_dir))


def test_search_form_errors_name_the_form_fields():
    bad_date = message_of(lambda: handlers.search_filters("May 1st", "", [], [], []))
    assert bad_date.startswith("Posted from must look like 2024-05-31"), bad_date
    assert message_of(lambda: handlers.search_filters("", "31/05", [], [], [])).startswith("Posted to must look like")
    for call in (lambda: handlers.search_filters("2026-05-01", "2026-03-01", [], [], []),
                 lambda: handlers.search_filters("", "", ["giant"], [], []),
                 lambda: handlers.search_filters("", "", [], ["hat"], []),
                 lambda: handlers.search_filters("", "", [], [], ["red: a style"])):
        assert_app_language(message_of(call))


def test_the_cli_keeps_its_flags_in_the_same_message():
    from core.errors import BadInputError
    from inference.search import SearchFilters

    with pytest.raises(BadInputError, match=r"^--from date must look like 2024-05-31"):
        SearchFilters.build("May 1st", date_labels={"from": "--from date", "to": "--to date"})


def test_an_unknown_style_on_a_catalog_with_styles(services):
    world = WorldBuilder(services.catalog)
    for i in range(6):
        world.post(f"c{i}", i, "a")
        world.post(f"d{i}", i, "b")
    config = TrendsConfig(cluster=ClusterConfig(group_by="kind", k_min=2, k_max=4, noise_mads=0.0))
    recluster(services.catalog, *world.arrays(), config)
    message = message_of(lambda: handlers.style_detail(services, 999))
    assert message.startswith("there is no style 999: the Trends tab"), message
    assert_app_language(message)


def test_upload_messages_name_the_users_files(services, tmp_path):
    manifest = tmp_path / "my batch.csv"
    manifest.write_text("file,who\nlook1.mp4,@ana\n")
    clip = tmp_path / "look1.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(600))
    message = message_of(lambda: handlers.plan_upload(services, [clip], manifest=manifest))
    assert "my batch.csv" in message and "lacks column" in message, message
    assert_app_language(message, "/tmp", "stylescope-manifest")
    for bad in ({"creator": "not a handle!"}, {"followers": "lots"}, {"posted_at": "2999-01-01"}):
        values = {"creator": "@ana", "followers": "1k", "posted_at": "2026-04-01", **bad}
        assert_app_language(message_of(lambda v=values: handlers.plan_upload(services, [clip], **v)))


def test_ingest_outcomes_in_app_words():
    from inference.ingest import VideoOutcome

    unindexed = handlers._in_app_words(VideoOutcome("a.mp4", "x", "unindexed",
                                                     "catalogued but not indexed (boom); run `stylescope index sync`"))
    duplicate = handlers._in_app_words(VideoOutcome("b.mp4", "x", "duplicate",
                                                     "already in the catalog as video 7 (/data/uploads/ab12.mp4)"))
    assert_app_language(unindexed.reason)
    assert_app_language(duplicate.reason, "/data/uploads", "video 7")
    assert unindexed.failed and duplicate.status == "duplicate"


@pytest.mark.allow_error_logs  # an unexpected error is logged with its traceback on the server
def test_unexpected_errors_and_non_images_name_no_exception_class(tmp_path):
    pytest.importorskip("gradio")
    from app import ui

    error = ui._as_user_error(KeyError("garment 12"))
    assert_app_language(error.message)
    image = ui.query_image(type="filepath")
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture\n")
    from gradio.data_classes import FileData

    with pytest.raises(Exception) as caught:
        image.preprocess(FileData(path=str(not_image)))
    assert "not an image" in str(caught.value.message)  # type: ignore[attr-defined]
    assert_app_language(str(caught.value.message))  # type: ignore[attr-defined]


def test_the_app_sources_hold_no_cli_flags_in_messages():
    # every string the app shows is written in app/; none names a CLI flag or command
    for path in (Path(__file__).resolve().parents[1] / "app").glob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if "Error(" in line or "return f\"" in line:
                assert not CLI_WORDS.search(line), f"{path}:{n}: {line.strip()}"
