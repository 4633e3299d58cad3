"""The app through its HTTP API (gradio_client) on a tiny real catalog: every api_name,
good inputs and bad ones (which must come back as a clear message, not a stack trace)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.app_fixtures import START, build_tiny_catalog, launch_app, make_clip

pytestmark = pytest.mark.slow

ENDPOINTS = {
    "/search", "/search_submit", "/upload", "/status", "/status_after_upload", "/trends", "/trends_tab",
    "/update_styles", "/trends_after_update", "/style", "/style_from_table", "/leaderboard",
    "/creators_tab", "/creator", "/creator_from_table", "/model_info", "/model_tab", "/eval_report",
    "/switch_model", "/retrain", "/attribute_trends",
}
NO_FILTERS: tuple[str, str, list[str], list[str], list[str]] = ("", "", [], [], [])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("app_api")
    catalog = build_tiny_catalog(root)
    blocks, services, url = launch_app(catalog.data_dir, catalog.config_file)
    client = Client(url, verbose=False)
    yield {"catalog": catalog, "services": services, "client": client, "root": root, "url": url}
    client.close()
    blocks.close()
    services.close()


def search(client: Client, image=None, text="", filters=NO_FILTERS, k=10, by_creator=False):
    return client.predict(image, text, *filters, k, by_creator, api_name="/search")


def rows(table_html: str) -> list[str]:
    return re.findall(r"<tr><td>.*?</tr>", table_html)


def expect_error(call, pattern: str) -> str:
    with pytest.raises(AppError) as caught:
        call()
    message = str(caught.value)
    assert re.search(pattern, message), message
    assert "Traceback" not in message and 'File "' not in message
    return message


# -- the API surface ------------------------------------------------------------------------------
def test_every_event_has_an_api_name(app):
    info = app["client"].view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == ENDPOINTS
    assert not info["unnamed_endpoints"]


def test_status_reports_catalog_counts_and_choices(app):
    header, styles, _, creators, models = app["client"].predict(api_name="/status")
    counts = app["services"].catalog.counts()
    assert f"{counts['garments']} garments" in header
    # handles are shown with "@" everywhere (they were bare in the creator picker)
    assert {c[0] for c in creators["choices"]} == {"@mia.fits", "@noa.style", "@kai.wears", "@lu.looks"}
    assert styles["choices"] and all(re.match(r"\d+: .+", c[0]) for c in styles["choices"])
    assert [c[0] for c in models["choices"]] == ["default"]


# -- search -----------------------------------------------------------------------------------------
def test_text_search_returns_garments_with_creator_date_style_and_moment(app):
    status, gallery, groups, table = search(app["client"], text="red top", k=6, by_creator=True)
    assert "6 results" in status and "mode: text" in status
    assert len(gallery) == 6
    for item in gallery:
        assert Path(item["image"]).is_file()
        assert re.match(r"@[\w.]+ · 2026-\d\d-\d\d · .+ · \d+:\d\d\.\d", item["caption"])
    assert len(rows(table)) == 6
    # the moment in the video is a link the app serves (the clips live in DATA_DIR/uploads)
    link = re.search(r'href="(/gradio_api/file=[^"]+)#t=([\d.]+)"', table)
    assert link is not None
    assert "Who wears this?" in groups


def test_moment_link_serves_the_video(app):
    _, _, _, table = search(app["client"], text="denim", k=1)
    path = re.search(r'href="(/gradio_api/file=[^"#]+)', table).group(1)
    import httpx

    assert "/proxies/" in path  # the video's browser proxy (H.264, faststart), kept by ingest
    response = httpx.get(app["url"].rstrip("/") + path, timeout=30)
    assert response.status_code == 200
    assert response.content[4:8] == b"ftyp" and response.headers["content-type"] == "video/mp4"


def test_image_and_image_plus_text_search(app, tmp_path):
    import cv2

    from world.clips import walking_clip

    frame = walking_clip(n=3, seed=5, top_colour=(200, 30, 30))[1]
    query = tmp_path / "look.png"
    cv2.imwrite(str(query), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    status, gallery, _, _ = search(app["client"], image=handle_file(str(query)), k=5)
    assert "mode: image" in status and len(gallery) == 5
    status, gallery, _, _ = search(app["client"], image=handle_file(str(query)), text="but in denim", k=5)
    assert "mode: image+text" in status and len(gallery) == 5


def test_filters_apply_inside_the_search(app):
    day = (START + dt.timedelta(days=12)).isoformat()  # lu.looks' only post that day
    _, gallery, _, table = search(app["client"], text="jacket", filters=(day, day, [], [], []), k=50)
    assert gallery and all(f"· {day} ·" in item["caption"] for item in gallery)
    assert all("@lu.looks" in item["caption"] for item in gallery)
    _, _, _, table = search(app["client"], text="jacket", filters=("", "", ["micro"], ["top"], []), k=50)
    assert rows(table) and all("(micro)" in r and "<td>top</td>" in r for r in rows(table))
    styles = app["client"].predict(api_name="/status")[1]["choices"]
    style = styles[0][0]
    _, gallery, _, _ = search(app["client"], text="jacket", filters=("", "", [], [], [style]), k=50)
    name = style.partition(": ")[2]
    assert gallery and all(f"· {name} ·" in item["caption"] for item in gallery)


def test_search_bad_inputs_are_clear_messages(app, tmp_path):
    client = app["client"]
    expect_error(lambda: search(client), "give an image, a text, or both")
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture\n")
    expect_error(lambda: search(client, image=handle_file(str(not_image))), "not an image")
    expect_error(lambda: search(client, text="red", filters=("2026-05-01", "2026-03-01", [], [], [])),
                 "date range is reversed")
    expect_error(lambda: search(client, text="red", filters=("May 1st", "", [], [], [])), "must look like")
    expect_error(lambda: search(client, text="red", filters=("", "", [], [], ["999"])), "unknown style 999")
    expect_error(lambda: search(client, text="red", k=0), "less than minimum value 1")


# -- upload -----------------------------------------------------------------------------------------
def upload(client: Client, files, creator="@new.face", followers="31k", posted="2026-04-20", manifest=None):
    return client.predict([handle_file(str(f)) for f in files], creator, followers, posted,
                          handle_file(str(manifest)) if manifest else None, api_name="/upload")


def test_upload_adds_a_video_that_becomes_searchable(app):
    client, services = app["client"], app["services"]
    before = services.catalog.counts()
    summary, table = upload(client, [app["catalog"].spare_video])
    assert "**1 added**" in summary and "**0 failed**" in summary
    assert table["data"][0][:3] == ["spare.mp4", "@new.face", "ingested"]
    assert "have no style yet: press “Update styles” in the Trends tab" in summary  # what to do next
    after = services.catalog.counts()
    assert after["videos_done"] == before["videos_done"] + 1
    stored = [Path(v.source_path) for v in services.catalog.videos(status="done")][-1]
    assert stored.parent == services.data_dir / "uploads" and stored.name != "spare.mp4"
    assert re.fullmatch(r"[0-9a-f]{24}\.mp4", stored.name)  # a generated name, never the user's
    deadline = time.monotonic() + 10
    while True:  # the searcher picks the new garments up within its reload interval
        _, gallery, _, _ = search(client, text="top", filters=("2026-04-20", "2026-04-20", [], [], []), k=5)
        if gallery or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert gallery and all("@new.face" in item["caption"] for item in gallery)
    # the same file again is recognised by content
    summary, table = upload(client, [app["catalog"].spare_video], creator="@someone.else")
    assert "1 already in the catalog" in summary and table["data"][0][2] == "duplicate"


def test_upload_refuses_bad_files_with_reasons(app, tmp_path):
    corrupt = tmp_path / "broken.mp4"
    good = app["catalog"].videos[0].read_bytes()
    corrupt.write_bytes(good[:64] + bytes(range(256)) * 40)  # an MP4 header, then garbage
    text = tmp_path / "holiday.mp4"
    text.write_text("not a video at all\n" * 20)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    summary, table = upload(app["client"], [corrupt, text, empty])
    assert "**0 added**" in summary and "**3 failed**" in summary
    reasons = {row[0]: (row[2], row[5]) for row in table["data"]}
    assert reasons["broken.mp4"][0] == "failed" and reasons["broken.mp4"][1]
    assert "not a video" in reasons["holiday.mp4"][1]
    assert "empty" in reasons["empty.mov"][1]
    assert "Traceback" not in summary
    assert not app["services"].catalog.integrity_problems()


def test_upload_bad_metadata_and_no_files(app):
    client, clip = app["client"], app["catalog"].spare_video
    expect_error(lambda: client.predict([], "@a", "1k", "2026-04-01", None, api_name="/upload"),
                 "choose one or more video files")
    expect_error(lambda: upload(client, [clip], creator="not a handle!"), "bad creator handle")
    expect_error(lambda: upload(client, [clip], followers="lots"), "bad follower count")
    expect_error(lambda: upload(client, [clip], posted="2999-01-01"), "in the future")


def test_upload_with_a_manifest(app, tmp_path):
    first = make_clip(tmp_path / "look1.mp4", seed=41, look=((10, 120, 200), (200, 200, 200)))
    manifest = tmp_path / "batch.csv"
    manifest.write_text(
        "path,creator,followers,posted_at\n"
        "look1.mp4,@ana.daily,12k,2026-04-02\n"
        "missing.mp4,@ana.daily,12k,2026-04-03\n"
        "look1.mp4,@ana.daily,lots,2026-04-03\n"
    )
    summary, table = upload(app["client"], [first], creator="", followers="", posted="", manifest=manifest)
    outcomes = {row[0]: row for row in table["data"]}
    assert outcomes["look1.mp4"][1:3] == ["@ana.daily", "ingested"]
    assert outcomes["missing.mp4"][5] == "named in the manifest but not uploaded"
    assert any("bad follower count" in row[5] for row in table["data"])
    assert "**1 added**" in summary


def test_two_uploads_at_once_and_searches_during_ingest(app, tmp_path):
    client, services = app["client"], app["services"]
    batches = [[make_clip(tmp_path / f"c{b}{i}.mp4", seed=60 + 3 * b + i, look=((30 * i, 90, 200 - 40 * b), (250, 250, 0)),
                          n=30) for i in range(3)] for b in range(2)]
    args = [([handle_file(str(f)) for f in batch], f"@twin.{b}", "15k", "2026-04-15", None)
            for b, batch in enumerate(batches)]
    jobs = [client.submit(*a, api_name="/upload") for a in args]
    results: list[str] = []

    def searching() -> None:
        while not all(job.done() for job in jobs):
            status = search(client, text="red", k=3)[0]
            results.append(status)
            time.sleep(0.2)

    thread = threading.Thread(target=searching)
    thread.start()
    outputs = [job.result(timeout=240) for job in jobs]
    thread.join(timeout=60)
    assert len(results) >= 2 and all("3 results" in r for r in results)
    for summary, _ in outputs:
        assert "**3 added**" in summary
    assert not services.catalog.integrity_problems()
    handles = [h for h, _ in services.catalog.creators()]
    assert {"twin.0", "twin.1"} <= set(handles)
    from inference.index import load_embeddings

    catalogued = sorted(g.id for g in services.catalog.garments())
    indexed = load_embeddings(services.data_dir)[0]
    assert np.array_equal(np.sort(indexed), catalogued)  # every garment embedded exactly once


# -- trends and creators -------------------------------------------------------------------------------
def test_trends_plot_table_and_style_detail(app):
    client = app["client"]
    status, plot, cards, table = client.predict("any", 0, api_name="/trends")
    assert "styles" in status and "posts" in status
    assert plot is not None and plot.get("plot")  # a rendered matplotlib figure
    assert cards and all(Path(c["image"]).is_file() for c in cards)
    assert table["data"] and table["headers"][:4] == ["id", "style", "kind", "state"]
    style_id = table["data"][0][0]
    detail, garments = client.predict(f"{style_id}: x", api_name="/style")
    assert f"Style {style_id}" in detail and "**Originator:** @" in detail
    assert garments and all(Path(g["image"]).is_file() for g in garments)
    kind = table["data"][0][2]  # "outfit" with the default grouping, a garment kind otherwise
    opened = client.predict(kind, 2, api_name="/trends_tab")
    assert opened[3]["data"] and all(row[2] == kind for row in opened[3]["data"])
    other = "top" if kind != "top" else "outfit"
    filtered = client.predict(other, 2, api_name="/trends_tab")[3]["data"]
    assert all(row[2] == other for row in filtered)
    expect_error(lambda: client.predict("12345", api_name="/style"), "no style 12345")


def test_attribute_trends_view(app):
    import dataclasses

    from inference.catalog import Catalog
    from inference.trends import STATE_KEY

    client = app["client"]
    # every style's top named butter yellow (whatever the tiny encoder named), its bottom's colour left out
    with Catalog(app["catalog"].data_dir) as catalog:
        styles = catalog.styles()
        garments = catalog.styled_garments()
        ids = np.asarray([g.garment_id for g in garments])
        style_ids, distances = np.asarray([g.style_id for g in garments]), np.asarray([g.distance for g in garments])
        slots = {"top": {"text": "", "garments": 1, "facets": {"colour": {"value": "butter yellow", "evidence": 1.0}}},
                 "bottom": {"text": "", "garments": 1, "facets": {"colour": {"absent": True}}}}
        named = [dataclasses.replace(s, facets={"text": s.name, "slots": slots, "aesthetic": None}) for s in styles]
        state = catalog.get_meta(STATE_KEY) or "{}"
        catalog.replace_styles(named, ids, style_ids, distances, STATE_KEY, state)
        try:
            status, plot, cards, table = client.predict("colour", "any", 0, api_name="/attribute_trends")
        finally:
            catalog.replace_styles(styles, ids, style_ids, distances, STATE_KEY, state)
    assert status.startswith("1 colours:") and "posts" in status
    assert plot is not None and plot.get("plot") and cards
    assert table["headers"][:3] == ["id", "colour", "worn as"]
    [row] = table["data"]
    assert row[1] == "butter yellow" and row[-2].startswith("@")  # its originator
    assert [int(s) for s in row[-1].split(", ")] == sorted({s.id for s in styles})  # every style's tops


def test_update_styles_assigns_new_garments(app):
    message = app["client"].predict(False, api_name="/update_styles")
    assert re.match(r"(Assigned \d+ of \d+ garments without a style|Clustered into \d+ styles)", message)
    status = app["client"].predict("any", 0, api_name="/trends_after_update")[0]
    assert "styles" in status


def test_leaderboard_originators_and_creator_page(app):
    client = app["client"]
    status, board, origins = client.predict("all", 20, api_name="/leaderboard")
    assert "Trendsetters as of" in status
    assert origins["data"] and {row[2] for row in origins["data"]} <= {  # handles with "@", as everywhere
        "@mia.fits", "@noa.style", "@kai.wears", "@lu.looks"}
    assert all(row[1].startswith("@") for row in board["data"])
    assert all(re.fullmatch(r"\[▶ \d+:\d\d\.\d\]\(/gradio_api/file=\S+/proxies/\d+\.mp4#t=[\d.]+\)", row[6])
               for row in origins["data"])  # the moment plays
    _, board, _ = client.predict("micro", 20, api_name="/leaderboard")
    assert all(row[3] == "micro" for row in board["data"])
    assert client.predict("all", 5, api_name="/creators_tab")[0].startswith("Trendsetters")
    page, evidence = client.predict("mia.fits", api_name="/creator")
    assert "### @mia.fits" in page and "Styles started" in page and "Styles adopted" in page
    assert evidence and all(Path(e["image"]).is_file() for e in evidence)
    expect_error(lambda: client.predict("nobody.here", api_name="/creator"), "unknown creator @nobody.here")


def test_table_selection_endpoints_exist_for_the_ui(app):
    # These two fire on a click in a table; through the API they take no input and
    # leave the picker as it is.
    info = app["client"].view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert info["/style_from_table"]["parameters"] == []
    assert info["/creator_from_table"]["parameters"] == []


# -- model -----------------------------------------------------------------------------------------------
def test_model_info_eval_report_and_switching_versions(app):
    from training.versions import VersionWriter

    client, services = app["client"], app["services"]
    info = client.predict(api_name="/model_info")
    assert "tiny:32" in info and "IDMap2,Flat" in info and "packaged default" in info
    assert client.predict(api_name="/model_tab") == info
    versions = []
    for spec in ("tiny:16", "tiny:32"):
        writer = VersionWriter(services.data_dir)
        writer.path("eval.md").write_text(f"| set | recall@10 |\n|---|---|\n| season | 0.{len(versions) + 5} |\n")
        versions.append(writer.commit({"encoder": spec, "kind": "test"}, activate=False)[0])
    assert "| season | 0.5 |" in client.predict(versions[0], api_name="/eval_report")
    expect_error(lambda: client.predict("v9999", api_name="/eval_report"), "no model version 'v9999'")

    report, overview = client.predict(versions[0], api_name="/switch_model")
    # the message says what happened without the internal index version id (it used to name it)
    assert "re-embedded with it" in report and "tiny:16" in overview
    from inference.index import read_current

    assert read_current(services.data_dir) not in report
    gallery = search(client, text="red", k=3)[1]
    assert len(gallery) == 3 and services.searcher.index.version().dim == 16
    report, overview = client.predict(versions[1], api_name="/switch_model")
    assert "the index it built before" in report  # the tiny:32 index still exists: no re-embedding
    assert f"Current: **{versions[1]}**" in overview
    assert len(search(client, text="red", k=3)[1]) == 3
    expect_error(lambda: client.predict("v9999", api_name="/switch_model"), "no model version")


def test_retrain_refuses_bad_season_zips(app, tmp_path):
    client = app["client"]
    expect_error(lambda: client.predict(None, True, api_name="/retrain"), "choose a zip")
    not_zip = tmp_path / "season.zip"
    not_zip.write_text("images and captions, honest\n")
    expect_error(lambda: client.predict(handle_file(str(not_zip)), True, api_name="/retrain"), "not a zip file")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../escape.txt", "gotcha")
    expect_error(lambda: client.predict(handle_file(str(evil)), True, api_name="/retrain"), "unsafe path")
    assert not (app["services"].data_dir / "escape.txt").exists()
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(bare, "w") as archive:
        archive.writestr("season/a.png", b"\x89PNG")
    expect_error(lambda: client.predict(handle_file(str(bare)), True, api_name="/retrain"), "no captions file")


# -- match strength ---------------------------------------------------------------------------------------
def test_search_shows_match_strength_and_the_no_close_match_notice(app, tmp_path):
    import cv2

    from training.versions import VersionWriter
    from world.clips import walking_clip

    client, services = app["client"], app["services"]
    cutoffs = {"derived_by": "test", "text": {"fair": 0.999, "strong": 0.9995},  # tiny:32 text: always weak
               "image": {"fair": -1.0, "strong": -1.0}}  # and images always strong
    version = VersionWriter(services.data_dir).commit(
        {"encoder": "tiny:32", "kind": "test", "match_strength": cutoffs}, activate=False)[0]
    client.predict(version, api_name="/switch_model")  # the searcher now reads this version's cut-offs
    status, gallery, groups, table = search(client, text="red plaid mini skirt", k=4, by_creator=True)
    assert status.startswith("**No close match in the catalog: even the best result is a weak match")
    assert "strong from 1.00" in status and "fair from 1.00" in status
    assert all(item["caption"].endswith(" · weak match") for item in gallery)
    assert all("<td>weak</td>" in r for r in rows(table)) and "| match |" in groups

    frame = walking_clip(n=3, seed=5, top_colour=(200, 30, 30))[1]
    query = tmp_path / "look.png"
    cv2.imwrite(str(query), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    status, gallery, _, table = search(client, image=handle_file(str(query)), k=3)
    assert "No close match" not in status and "mode: image" in status
    assert all(item["caption"].endswith(" · strong match") for item in gallery)
    assert all("<td>strong</td>" in r for r in rows(table))


def test_warm_up_loads_the_index_and_the_catalog_facts_before_any_query(app):
    from app.services import Services

    services = Services.open(app["catalog"].data_dir, "tiny:32")
    try:
        services.warm_up().join(timeout=120)
        searcher = services._searcher
        assert searcher is not None
        assert len(searcher.metadata._garments) > app["catalog"].garments  # every garment's facts, then the unknown row
    finally:
        services.close()
