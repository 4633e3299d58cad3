"""The Gradio app: Search, Upload videos, Trends, Creators and Model tabs.

:func:`build_app` lays the tabs out and wires each event (every one has an ``api_name``,
so the whole app is also an HTTP API); the work happens in :mod:`app.handlers`, the
formatting in :mod:`app.views`. A user's mistake becomes a ``gr.Error`` with the message
written for them; anything unexpected is logged with its traceback on the server and
shown as a short message, never as a stack trace. :func:`launch` serves the app offline
(analytics off, no CDN, bundled fonts), on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import pandas as pd

import configs
from app import format as fmt
from app import handlers, views
from app.services import Services
from core.errors import StylescopeError
from inference.trends.attributes import ATTRIBUTES
from inference.trends.glossary import glossary_markdown
from inference.types import GARMENT_KINDS, TIERS

logger = logging.getLogger(__name__)

CSS = """
table.results { width: 100%; border-collapse: collapse; font-size: 0.9em; }
table.results th, table.results td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; }
"""
TIER_CHOICES = list(TIERS)
KIND_CHOICES = list(GARMENT_KINDS)


# -- errors ------------------------------------------------------------------------------------------
def _as_user_error(exc: Exception) -> gr.Error:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, StylescopeError | configs.ConfigError):
        return gr.Error(str(exc), print_exception=False)
    logger.exception("app event failed")
    return gr.Error("something went wrong; the server log has the details", print_exception=False)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an event handler so errors reach the user as messages, not stack traces."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise _as_user_error(exc) from None

        return generator

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _as_user_error(exc) from None

    return plain


def query_image(**kwargs: Any) -> gr.Image:
    """An image input that reports a file that is not an image as a user error.

    Gradio decodes the upload before the handler runs; its own error for a non-image is
    a bare "Error". (Wrapping the instance's ``preprocess`` rather than subclassing keeps
    gradio from writing a ``.pyi`` stub next to this module.)
    """
    component = gr.Image(**kwargs)
    decode = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return decode(payload)
        except Exception:  # PIL raises several types for non-images
            raise gr.Error("the uploaded file is not an image (PNG, JPEG, WebP ...)", print_exception=False) from None

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


# -- the app -----------------------------------------------------------------------------------------
def build_app(services: Services) -> gr.Blocks:
    """Build the app on ``services`` (nothing is loaded until an event needs it)."""
    max_age = round(services.config.upload_cache_hours * 3600)
    with gr.Blocks(title="stylescope", analytics_enabled=False,
                   delete_cache=(min(3600, max_age), max_age)) as blocks:  # uploads older than max_age go
        header = gr.Markdown("# stylescope", elem_id="header")
        with gr.Tabs():
            with gr.Tab("Search", id="search"):
                search_ui = _search_tab(services)
            with gr.Tab("Upload videos", id="upload"):
                upload_ui = _upload_tab(services)
            with gr.Tab("Trends", id="trends") as trends_tab:
                trends_ui = _trends_tab(services)
            with gr.Tab("Creators", id="creators") as creators_tab:
                creators_ui = _creators_tab(services)
            with gr.Tab("Model", id="model") as model_tab:
                model_ui = _model_tab(services)
        pickers = [header, search_ui["styles"], trends_ui["picker"], creators_ui["picker"], model_ui["picker"]]
        status = user_errors(functools.partial(_status, services))
        blocks.load(status, outputs=pickers, api_name="status")
        upload_ui["event"].then(status, outputs=pickers, api_name="status_after_upload")
        trends_tab.select(trends_ui["open"], inputs=trends_ui["inputs"], outputs=trends_ui["outputs"],
                          api_name="trends_tab")
        creators_tab.select(creators_ui["open"], inputs=creators_ui["inputs"], outputs=creators_ui["outputs"],
                            api_name="creators_tab")
        model_tab.select(model_ui["open"], outputs=model_ui["outputs"], api_name="model_tab")
    return blocks


def _status(services: Services) -> tuple[Any, ...]:
    info = services.describe()
    header = (f"# stylescope\n{info['creators']} creators · {info['videos_done']} videos · "
              f"{info['garments']} garments · {info['styles']} styles")
    styles = handlers.style_choices(services)
    creators = handlers.creator_choices(services)
    models = ["default", *[m["version"] for m in handlers.model_overview(services)["models"]]]
    return (header, gr.update(choices=styles), gr.update(choices=styles), gr.update(choices=creators),
            gr.update(choices=models))


def _sources(services: Services, video_ids: Sequence[int]) -> dict[int, str]:
    sources = {}
    for video_id in set(video_ids):
        video = services.catalog.video(int(video_id))
        if video is not None:
            sources[int(video_id)] = video.source_path
    return sources


# -- search -----------------------------------------------------------------------------------------
def _search_tab(services: Services) -> dict[str, Any]:
    config = services.config
    with gr.Row():
        with gr.Column(scale=1):
            image = query_image(label="Image (upload or paste)", type="filepath", image_mode=None,
                               sources=["upload", "clipboard"], height=260, elem_id="query-image")
            text = gr.Textbox(label="Text", placeholder="red plaid mini skirt", elem_id="query-text")
            with gr.Accordion("Filters", open=False):
                with gr.Row():
                    date_from = gr.Textbox(label="Posted from", placeholder="YYYY-MM-DD")
                    date_to = gr.Textbox(label="Posted to", placeholder="YYYY-MM-DD")
                tiers = gr.CheckboxGroup(TIER_CHOICES, label="Follower tier")
                kinds = gr.CheckboxGroup(KIND_CHOICES, label="Garment kind")
                styles = gr.Dropdown([], multiselect=True, label="Style", allow_custom_value=True)
            with gr.Row():
                k = gr.Slider(1, config.max_k, value=config.results_k, step=1, label="Results")
                by_creator = gr.Checkbox(label="Who wears this? (group by creator)")
            set_aside = gr.Checkbox(label="Include crops set aside as no garment (walls, title cards, blurs)",
                                    elem_id="search-set-aside")
            button = gr.Button("Search", variant="primary", elem_id="search-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="search-status")
            gallery = gr.Gallery(label="Results", columns=4, height=420, object_fit="contain",
                                 elem_id="search-gallery")
            groups = gr.Markdown()
            table = gr.HTML(elem_id="search-table")

    @user_errors
    def run(image: Any, text: str, date_from: str, date_to: str, tiers: list[str], kinds: list[str],
            styles: list[str], k: float, by_creator: bool, set_aside: bool = False) -> tuple[Any, ...]:
        started = time.perf_counter()
        filters = handlers.search_filters(date_from, date_to, tiers, kinds, styles, set_aside=set_aside)
        result = handlers.search(services, image, text, filters, int(k), by_creator)
        return (views.search_status(result, time.perf_counter() - started), views.gallery_items(result.hits),
                views.groups_markdown(result.groups), views.results_html(result.hits, services.moment_links()))

    inputs = [image, text, date_from, date_to, tiers, kinds, styles, k, by_creator, set_aside]
    outputs = [status, gallery, groups, table]
    button.click(run, inputs, outputs, api_name="search", concurrency_limit=config.search_concurrency,
                 concurrency_id="search")
    text.submit(run, inputs, outputs, api_name="search_submit", concurrency_id="search")
    return {"styles": styles}


# -- upload -----------------------------------------------------------------------------------------
def _upload_tab(services: Services) -> dict[str, Any]:
    gr.Markdown("Upload one or many outfit videos with their creator, or a manifest "
                "(CSV `path,creator,followers,posted_at` or JSONL) naming each uploaded file. "
                f"Files are checked by content; {services.config.max_upload_mb:.0f} MB at most each.")
    with gr.Row():
        with gr.Column():
            files = gr.File(label="Videos", file_count="multiple", type="filepath", elem_id="upload-files")
            with gr.Row():
                creator = gr.Textbox(label="Creator handle", placeholder="@mia.fits", elem_id="upload-creator")
                followers = gr.Textbox(label="Followers", placeholder="24k", elem_id="upload-followers")
                posted_at = gr.Textbox(label="Posted on", placeholder="YYYY-MM-DD", elem_id="upload-posted")
            manifest = gr.File(label="…or a manifest", file_count="single", type="filepath")
            button = gr.Button("Add to the catalog", variant="primary", elem_id="upload-button")
        with gr.Column():
            summary = gr.Markdown(elem_id="upload-summary")
            table = gr.Dataframe(headers=views.UPLOAD_HEADERS, label="Videos", interactive=False,
                                 wrap=True, elem_id="upload-table")

    @user_errors
    def run(files: list[str] | None, creator: str, followers: str, posted_at: str, manifest: str | None,
            progress: gr.Progress = gr.Progress()) -> Any:
        plan = handlers.plan_upload(services, files, creator, followers, posted_at, manifest)
        names = [v.name for v in plan.videos]
        handles = [f"@{v.submission.creator}" if v.submission else "" for v in plan.videos]
        outcomes: list[Any] = [None] * len(names)
        stage: dict[int, str] = {}

        def on_stage(i: int, text: str) -> None:
            stage[i] = text
            done = 0.6 if text.startswith("embedding") else 0.1
            progress((i + done) / max(1, len(names)), desc=f"{names[i]}: {text}")

        yield f"Ingesting {len(names)} files…", views.upload_rows(names, handles, outcomes, stage)
        for i, outcome in handlers.ingest_plan(services, plan, on_stage):
            outcomes[i] = outcome
            yield (f"{i + 1} of {len(names)} done…", views.upload_rows(names, handles, outcomes, stage))
        summary = views.upload_summary(outcomes, plan.warnings, handlers.next_steps(services, "upload"))
        yield summary, views.upload_rows(names, handles, outcomes, stage)

    event = button.click(run, [files, creator, followers, posted_at, manifest], [summary, table],
                         api_name="upload", concurrency_limit=1, concurrency_id="ingest")
    return {"event": event}


# -- trends -----------------------------------------------------------------------------------------
def _trends_tab(services: Services) -> dict[str, Any]:
    config = services.config
    with gr.Row():
        kind = gr.Dropdown(["any", "top", "bottom", "full", "outfit"], value="any", label="Garment kind")
        weeks = gr.Number(value=0, precision=0, label="Last N weeks (0: all)")
        refresh = gr.Button("Refresh", elem_id="trends-refresh")
        update = gr.Button("Update styles", elem_id="trends-update")
        full = gr.Checkbox(label="Full re-clustering")
    status = gr.Markdown(elem_id="trends-status")
    with gr.Accordion("Glossary: what the states and columns mean", open=False, elem_id="trends-glossary"):
        gr.Markdown(glossary_markdown())
    plot = gr.Plot(label="Rising and fading styles", elem_id="trends-plot")
    cards = gr.Gallery(label="Styles (most typical garment)", columns=6, height=220, object_fit="contain")
    table = gr.Dataframe(headers=views.STYLE_HEADERS, label="Styles", interactive=False, elem_id="trends-table")
    with gr.Row():
        picker = gr.Dropdown([], label="Style", allow_custom_value=True, elem_id="style-picker")
    with gr.Row():
        detail = gr.Markdown()
        garments = gr.Gallery(label="Its garments", columns=6, height=300, object_fit="contain")

    def overview(kind: str, weeks: float | None) -> tuple[Any, ...]:
        report = handlers.trends_overview(services, None if kind == "any" else kind, int(weeks or 0))
        return (views.trends_status(report), views.trends_figure(report, config.plotted_styles),
                views.style_cards(report, services.data_dir, config.style_cards), views.style_rows(report))

    @user_errors
    def on_open(kind: str, weeks: float | None) -> tuple[Any, ...]:
        try:
            return overview(kind, weeks)
        except StylescopeError as exc:
            return str(exc), None, [], []

    @user_errors
    def restyle(full: bool, progress: gr.Progress = gr.Progress()) -> str:
        progress(0.1, desc="clustering garments into styles")
        update = handlers.update_styles(services, full)
        advice = " ".join(handlers.next_steps(services, "update"))
        if update.recluster is not None:
            run = update.recluster
            return f"Clustered into {len(run.styles)} styles ({run.assigned} garments assigned). {advice}".strip()
        assign = update.assign
        assert assign is not None  # an update is a full run or an assignment
        return (f"Assigned {assign.assigned} of {assign.considered} garments without a style "
                f"(new or left out) to existing styles. {advice}").strip()

    @user_errors
    def show_style(choice: str | None) -> tuple[Any, ...]:
        if not choice:
            return "", []
        try:
            style_id = int(str(choice).partition(":")[0])
        except ValueError:
            raise handlers.BadInputError(f"not a style: {choice!r}") from None
        detail, garments = handlers.style_detail(services, style_id)
        ids = [a.adoption.video_id for a in detail.adopters]
        if detail.origin:
            ids.append(detail.origin.originator.video_id)
        markdown = views.style_markdown(detail, _sources(services, ids), services.moment_links())
        return markdown, views.crop_gallery(garments, services.data_dir)

    def pick_from_table(event: gr.SelectData) -> Any:
        row = event.row_value if event.row_value else None
        return gr.update(value=f"{row[0]}: {row[1]}") if row else gr.update()

    outputs = [status, plot, cards, table]
    refresh.click(user_errors(overview), [kind, weeks], outputs, api_name="trends")
    update.click(restyle, [full], [status], api_name="update_styles", concurrency_id="ingest").then(
        on_open, [kind, weeks], outputs, api_name="trends_after_update")
    picker.change(show_style, [picker], [detail, garments], api_name="style")
    table.select(pick_from_table, None, [picker], api_name="style_from_table")
    _attribute_view(services, kind, weeks)
    return {"picker": picker, "open": on_open, "inputs": [kind, weeks], "outputs": outputs}


def _attribute_view(services: Services, kind: gr.Dropdown, weeks: gr.Number) -> None:
    """Colours, patterns, garment types and silhouettes as trends of their own, from the style names."""
    config = services.config
    with gr.Accordion("Trends by colour, pattern, garment type or silhouette", open=True, elem_id="trends-attributes"):
        with gr.Row():
            by = gr.Radio(list(ATTRIBUTES), value="colour", label="Follow trends by", elem_id="attribute-by")
            show = gr.Button("Show", elem_id="attribute-show")
        status = gr.Markdown("Each colour, pattern, garment type or silhouette the style names carry, followed "
                             "across every style that has it: its share of posts, state, forecast and who wore it "
                             "first. Press “Show”.", elem_id="attribute-status")
        plot = gr.Plot(label="Rising and fading", elem_id="attribute-plot")
        cards = gr.Gallery(label="Most typical garments", columns=6, height=220, object_fit="contain")
        table = gr.Dataframe(headers=views.unit_headers("colour"), interactive=False, elem_id="attribute-table")

    @user_errors
    def attribute_view(by: str, kind: str, weeks: float | None) -> tuple[Any, ...]:
        report = handlers.attribute_overview(services, by, None if kind == "any" else kind, int(weeks or 0))
        unit = fmt.UNIT_WORDS[by]
        return (views.attribute_status(report), views.trends_figure(report, config.plotted_styles, unit),
                views.style_cards(report, services.data_dir, config.style_cards),
                pd.DataFrame(views.unit_rows(report), columns=views.unit_headers(by)))  # headers follow ``by``

    show.click(attribute_view, [by, kind, weeks], [status, plot, cards, table], api_name="attribute_trends")


# -- creators ---------------------------------------------------------------------------------------
def _creators_tab(services: Services) -> dict[str, Any]:
    with gr.Row():
        tier = gr.Dropdown(["all", *TIER_CHOICES], value="all", label="Follower tier")
        top = gr.Number(value=services.config.leaderboard_top, precision=0, label="Rows")
        refresh = gr.Button("Refresh", elem_id="creators-refresh")
    status = gr.Markdown()
    board = gr.Dataframe(headers=views.LEADERBOARD_HEADERS, label="Trendsetters", interactive=False,
                         elem_id="leaderboard")
    origins = gr.Dataframe(headers=views.ORIGINATOR_HEADERS, label="Who started each style",
                           datatype=views.ORIGINATOR_TYPES, interactive=False)
    picker = gr.Dropdown([], label="Creator", allow_custom_value=True, elem_id="creator-picker")
    with gr.Row():
        page = gr.Markdown(elem_id="creator-page")
        evidence = gr.Gallery(label="Evidence", columns=4, height=300, object_fit="contain")

    def leaderboard(tier: str, top: float | None) -> tuple[Any, ...]:
        report = handlers.leaderboard(services, None if tier == "all" else tier, int(top or 0))
        sources = _sources(services, [o.origin.originator.video_id for o in report.originators])
        return (views.leaderboard_status(report), views.leaderboard_rows(report),
                views.originator_rows(report, services.moment_links(), sources))

    @user_errors
    def on_open(tier: str, top: float | None) -> tuple[Any, ...]:
        try:
            return leaderboard(tier, top)
        except StylescopeError as exc:
            return str(exc), [], []

    @user_errors
    def show_creator(handle: str | None) -> tuple[Any, ...]:
        if not handle:
            return "", []
        page = handlers.creator_page(services, handle)
        adoptions = [e.adoption for e in page.started + page.adopted]
        sources = _sources(services, [a.video_id for a in adoptions])
        return (views.creator_markdown(page, sources, services.moment_links()),
                views.crop_gallery(adoptions, services.data_dir))

    def pick_from_table(event: gr.SelectData) -> Any:
        row = event.row_value
        return gr.update(value=row[1]) if row else gr.update()

    outputs = [status, board, origins]
    refresh.click(user_errors(leaderboard), [tier, top], outputs, api_name="leaderboard")
    picker.change(show_creator, [picker], [page, evidence], api_name="creator")
    board.select(pick_from_table, None, [picker], api_name="creator_from_table")
    return {"picker": picker, "open": on_open, "inputs": [tier, top], "outputs": outputs}


# -- model ------------------------------------------------------------------------------------------
def _model_tab(services: Services) -> dict[str, Any]:
    overview = gr.Markdown(elem_id="model-overview")
    with gr.Row():
        picker = gr.Dropdown(["default"], value="default", label="Model version", allow_custom_value=True)
        show = gr.Button("Show eval report")
        switch = gr.Button("Switch to this version")
    report = gr.Markdown()
    gr.Markdown("### Season retraining\nA zip of the new season's images with `captions.csv` "
                "(columns `image,caption`) or `captions.jsonl`.")
    with gr.Row():
        season = gr.File(label="Season zip", file_count="single", type="filepath")
        reindex = gr.Checkbox(value=True, label="Re-embed the catalog and switch the index when done")
    retrain = gr.Button("Start retraining", variant="primary")
    result = gr.Markdown()

    @user_errors
    def info() -> str:
        return views.model_markdown(handlers.model_overview(services))

    @user_errors
    def eval_report(version: str | None) -> str:
        if not version or version == "default":
            return "The packaged default's eval numbers are in its model card (models/weights/MODEL_CARD.md)."
        return handlers.eval_report(services, version)

    @user_errors
    def switch_to(version: str | None, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        progress(0.1, desc="loading the model; re-embedding the catalog if it has no index yet")
        done = handlers.switch_model(services, version)
        index = ("the catalog was re-embedded with it" if done["rebuilt"]
                 else "searches use the index it built before" if done["index_version"]
                 else "there are no garments to index yet")
        text = f"Model **{done['model']}** is current (encoder `{done['encoder']['name']}`); {index}."
        return text, views.model_markdown(handlers.model_overview(services))

    @user_errors
    def start(season: str | None, reindex: bool, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, str]:
        progress(0.0, desc="unpacking the season and training")
        run = handlers.retrain(services, season, reindex)
        return views.retrain_markdown(run), views.model_markdown(handlers.model_overview(services))

    show.click(eval_report, [picker], [report], api_name="eval_report")
    switch.click(switch_to, [picker], [report, overview], api_name="switch_model", concurrency_id="ingest")
    retrain.click(start, [season, reindex], [result, overview], api_name="retrain", concurrency_id="ingest")
    overview_button = gr.Button("Refresh", size="sm")
    overview_button.click(info, None, [overview], api_name="model_info")
    return {"picker": picker, "open": info, "outputs": [overview]}


# -- serving ------------------------------------------------------------------------------------------
def launch(
    blocks: gr.Blocks,
    services: Services,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: list[tuple[str, str]] | None = None,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Serve the app; returns its local URL (with ``block=False`` the call returns at once).

    Offline by construction: analytics off, no share link, no server-side rendering (no
    Node), bundled fonts only. Files are served only from the crops, uploads and demo world
    folders of the data directory.
    """
    services.tidy_upload_cache(force=True)  # what earlier runs left in gradio's upload cache
    blocks.queue(default_concurrency_limit=1, max_size=256)
    _, url, _ = blocks.launch(
        server_name=host,
        server_port=port,
        auth=auth or None,
        prevent_thread_lock=not block,
        show_error=False,
        share=False,
        quiet=quiet,
        allowed_paths=services.allowed_paths(),
        max_file_size=f"{services.config.max_upload_mb:.0f}mb",
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        footer_links=["api"],
        css=CSS,
    )
    return str(url)
