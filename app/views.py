"""Turn search results, ingest outcomes and reports into what the app's components show.

Pure functions of plain data: gallery items (image path, caption), table rows, Markdown,
HTML and matplotlib figures. No gradio here, so they are cheap to test and reuse.
"""

from __future__ import annotations

import dataclasses
import html
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import numpy as np
from matplotlib.figure import Figure

from app import format as fmt
from inference.catalog import StyleGarment
from inference.proxies import proxy_path
from inference.trends import Adoption

if TYPE_CHECKING:
    from inference.search import CreatorGroup, SearchHit, SearchResult
    from inference.trends import (
        AttributeTrendsReport,
        CreatorPage,
        CreatorsReport,
        StyleAdopters,
        StyleReport,
        TrendsReport,
    )

UPLOAD_HEADERS = ["file", "creator", "status", "frames", "garments", "reason"]
STYLE_HEADERS = fmt.STYLE_HEADERS
LEADERBOARD_HEADERS = fmt.LEADERBOARD_HEADERS
ORIGINATOR_HEADERS = ["style", "name", "originator", "tier", "date", "video", "moment", "runners-up"]


def moment(t_s: float) -> str:
    """Seconds as ``m:ss.s``."""
    minutes, seconds = divmod(max(0.0, float(t_s)), 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def video_link(source_path: str, t_s: float, allowed: Sequence[str]) -> str | None:
    """URL of the moment in a video the app may serve (media fragment ``#t=``), else None."""
    path = Path(source_path).resolve()
    if not any(path.is_relative_to(Path(root).resolve()) for root in allowed):
        return None
    return f"/gradio_api/file={quote(str(path))}#t={float(t_s):.1f}"


@dataclasses.dataclass(frozen=True)
class MomentLinks:
    """What a moment may link to: the video's proxy in the data directory when it has one,
    else the original when it lies in a folder the app serves."""

    allowed: Sequence[str]  # folders the app serves files from
    data_dir: Path | None = None  # where the proxies live (None: originals only)


def moment_url(links: MomentLinks, video_id: int | None, source_path: str | None, t_s: float) -> str | None:
    """URL that plays a video from ``t_s``: its proxy, else its original, else None."""
    if links.data_dir is not None and video_id is not None:
        proxy = proxy_path(links.data_dir, video_id)
        if proxy.is_file():
            url = video_link(str(proxy), t_s, links.allowed)
            if url:
                return url
    return video_link(source_path, t_s, links.allowed) if source_path else None


def _moment_cell(links: MomentLinks, video_id: int | None, source_path: str | None, t_s: float) -> str:
    url = moment_url(links, video_id, source_path, t_s)
    text = html.escape(moment(t_s))
    return f'<a href="{html.escape(url)}" target="_blank">▶ {text}</a>' if url else text


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]#|~])")  # the rest is inert once these are escaped


def text(value: object) -> str:
    """User-given text (handles, file names, reasons) for a Markdown component: shown as
    typed, never read as HTML or Markdown (``<b>`` stays ``<b>``, ``**x**`` stays ``**x**``)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(str(value)))


def handle(creator: str | None) -> str:
    """A creator handle, with "@", as Markdown text."""
    return text(fmt.handle(creator))


# -- search -----------------------------------------------------------------------------------------
def hit_caption(hit: SearchHit) -> str:
    """One result's caption: creator, date, style, moment, then how close a match it is."""
    style = hit.style or "no style yet"
    caption = f"{fmt.handle(hit.creator)} · {fmt.day(hit.posted_at)} · {style} · {moment(hit.t_s)}"
    return f"{caption} · {hit.strength} match" if hit.strength else caption


def gallery_items(hits: Sequence[SearchHit]) -> list[tuple[str, str]]:
    """(crop path, caption) per hit, best first."""
    return [(hit.crop_path, hit_caption(hit)) for hit in hits]


def results_html(hits: Sequence[SearchHit], links: MomentLinks) -> str:
    """A table of hits with a link to the moment in each video."""
    if not hits:
        return "<p>No garment matches these filters.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{n}</td><td>{html.escape(fmt.handle(h.creator))}</td><td>{fmt.count(h.followers)} ({h.tier})</td>"
        f"<td>{html.escape(fmt.day(h.posted_at))}</td><td>{html.escape(h.style or (f'set aside: {h.set_aside}' if h.set_aside else '-'))}</td>"
        f"<td>{h.kind}</td><td>{_moment_cell(links, h.video_id, h.source_path, h.t_s)}</td>"
        f"<td>{h.score:.3f}</td><td>{h.strength or '-'}</td>"
        f"<td>{html.escape(', '.join(h.shared_words)) or '-'}</td></tr>"
        for n, h in enumerate(hits, start=1)
    )
    head = "".join(f"<th>{c}</th>" for c in ("#", "creator", "followers", "posted", "style", "garment",
                                            "moment", "score", "match", "shared words"))
    return f'<table class="results"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def groups_markdown(groups: Sequence[CreatorGroup] | None) -> str:
    """The "who wears this?" grouping: creators by their best match."""
    if not groups:
        return ""
    lines = ["### Who wears this?", "", "| creator | followers | tier | best score | match | matches |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {handle(g.creator)} | {fmt.count(g.followers)} | {g.tier} | {g.best_score:.3f} "
              f"| {g.hits[0].strength or '-'} | {len(g.hits)} |" for g in groups]
    return "\n".join(lines)


def search_status(result: SearchResult, seconds: float) -> str:
    """One line about the search that ran; before it the "no close match" notice, after it
    what the match strengths mean (when the encoder has cut-offs recorded)."""
    query = result.query
    parts = [f"{len(result.hits)} results", f"mode: {query.mode or '?'}", f"{seconds * 1000:.0f} ms"]
    if result.matched is not None:
        parts.insert(1, f"{result.matched} garments pass the filters")
    if query.garment is not None:
        parts.append(f"searched with the {query.garment.kind} garment found in the image")
    line = " · ".join(parts)
    if result.cutoffs is not None:
        line += (f"\n\nMatch: strong from {result.cutoffs.strong:.2f} (almost always what you asked for), "
                 f"fair from {result.cutoffs.fair:.2f} (related), weak below (not it).")
    return f"**{result.notice}**\n\n{line}" if result.notice else line


# -- upload ------------------------------------------------------------------------------------------
def upload_rows(names: Sequence[str], creators: Sequence[str], outcomes: Sequence[Any | None],
                stage: dict[int, str]) -> list[list[Any]]:
    """One row per uploaded file: waiting, what it is doing now, or its outcome."""
    rows = []
    for i, (name, creator) in enumerate(zip(names, creators, strict=True)):
        outcome = outcomes[i]
        if outcome is None:
            rows.append([name, creator, stage.get(i, "waiting"), "", "", ""])
        else:
            rows.append([name, creator, outcome.status, outcome.frames, outcome.garments, outcome.reason])
    return rows


def upload_summary(outcomes: Sequence[Any], warnings: Sequence[str] = (), next_steps: Sequence[str] = ()) -> str:
    """What was added and what failed, and why; then what to do next."""
    added = [o for o in outcomes if o.status == "ingested"]
    failed = [o for o in outcomes if o.failed]
    duplicates = [o for o in outcomes if o.status in ("duplicate", "skipped")]
    lines = [f"**{len(added)} added** ({sum(o.garments for o in added)} garments), "
             f"**{len(failed)} failed**, {len(duplicates)} already in the catalog."]
    lines += [f"- failed: {text(o.source)}: {text(o.reason)}" for o in failed]  # upload:<file name>
    lines += [f"- warning: {text(w)}" for w in warnings]
    if added:
        lines += ["", *next_steps]
    return "\n".join(lines)


# -- trends --------------------------------------------------------------------------------------------
def trends_status(report: TrendsReport, unit: str = "style") -> str:
    """The Trends tab's summary line: styles (or colours, patterns ...) per state (the glossary
    names them), posts, forecaster."""
    return (f"{fmt.trends_summary(report, unit)}; over {fmt.count(report.posts)} posts "
            f"{fmt.day(report.first_day)} … {fmt.day(report.as_of)}. "
            f"Forecast: {fmt.backtest(report.backtest, unit)}. "
            "The glossary below says what each state and column means.")


def style_rows(report: TrendsReport) -> list[list[Any]]:
    """The styles table: rising first, as the report orders them."""
    return [fmt.style_row(s) for s in report.styles]


def unit_headers(by: str) -> list[str]:
    """The attribute table's headers (``by``: colour, pattern, garment or silhouette)."""
    return fmt.unit_headers(by)


def unit_rows(report: AttributeTrendsReport) -> list[list[Any]]:
    """The attribute table: one row per colour (pattern ...), rising first, with its originator."""
    return [fmt.unit_row(u) for u in report.units()]


def attribute_status(report: AttributeTrendsReport) -> str:
    """The attribute view's summary line, in the Trends tab's words."""
    return trends_status(report, fmt.UNIT_WORDS[report.by])


def plotted_styles(report: TrendsReport, count: int) -> list[StyleReport]:
    """Rising styles first, then fading ones, then the rest (in the report's order), ``count`` at most."""
    order = {"rising": 0, "fading": 1}
    return sorted(report.styles, key=lambda s: order.get(s.state, 2))[:count]


def style_caption(style: StyleReport) -> str:
    """How a style is captioned in the Trends tab's chart and cards: id, whole name, state."""
    return f"{style.id}: {style.name} ({style.state})"


def legend_label(style: StyleReport, width: int = 36) -> str:
    """:func:`style_caption` wrapped to ``width`` characters a line, for the chart's legend."""
    return textwrap.fill(style_caption(style), width, subsequent_indent="   ")


def trends_figure(report: TrendsReport, count: int, unit: str = "style") -> Figure:
    """Share of posts per period of the top styles (or colours ...), with next weeks' forecast and interval."""
    figure = Figure(figsize=(12, 4.4), dpi=100)
    ax = figure.add_subplot(1, 1, 1)
    periods = np.array(report.periods, dtype="datetime64[D]")
    ahead = np.array(report.forecast_weeks, dtype="datetime64[D]")
    for style in plotted_styles(report, count):
        share = style.series.share
        (line,) = ax.plot(periods, share, marker="o", markersize=3,
                          label=legend_label(style))
        forecast = style.forecast
        if forecast and report.period == "week" and len(periods):
            ax.plot(np.concatenate([periods[-1:], ahead]), [share[-1], *forecast.share], linestyle="--",
                    color=line.get_color())
            ax.fill_between(ahead, forecast.low, forecast.high, color=line.get_color(), alpha=0.15)
    ax.set_title(f"{unit}s' share of posts per {report.period}, as of {report.as_of} "
                 "(dashed: forecast with interval)", fontsize=10)
    ax.set_ylabel("share of posts")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    if ax.lines:  # beside the plot, so whole names fit without covering the lines
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def style_cards(report: TrendsReport, data_dir: Path, count: int) -> list[tuple[str, str]]:
    """One medoid crop per style (the most typical garment), rising styles first."""
    cards = []
    for style in plotted_styles(report, count):
        if style.medoids:
            crop = str(data_dir / style.medoids[0].crop_path)
            cards.append((crop, style_caption(style)))
    return cards


def _adoption_line(a: Adoption, links: MomentLinks, source: str | None) -> str:
    link = _moment_cell(links, a.video_id, source, a.t_s)
    return (f"{handle(a.creator)} ({a.tier}, {fmt.count(a.followers)} followers) on {fmt.day(a.day)}: "
            f"video {a.video_id} at {link}, {a.frames} frames"
            + (f" ({a.near_frames} left out of the style, near it)" if a.near_frames else "")
            + f", distance {a.distance:.3f}")


def facet_lines(facets: dict[str, Any] | None) -> list[str]:
    """One line per garment slot of a facet-named style: each facet with the share of garments
    agreeing ("colour: butter yellow (82% agree)"), and the facets left out for too little agreement."""
    if not facets:
        return []
    lines = []
    for slot, named in facets.get("slots", {}).items():
        said = [f"{facet}: {text(f['value'])}{' and ' + text(f['second']) if f.get('second') else ''} ({f['evidence']:.0%} agree)"
                for facet, f in named.get("facets", {}).items() if not f.get("absent")]
        absent = [facet + (f" (the probe leans {text(f['probe_leading'])}, {f['probability']:.0%})"
                           if f.get("probe_leading") else "")
                  for facet, f in named.get("facets", {}).items() if f.get("absent")]
        line = f"**{slot.capitalize()}** ({named.get('garments', 0)} garments): {'; '.join(said) or 'no facet agreed on'}"
        if absent:
            line += f". Not named, too little agreement: {', '.join(absent)}"
        lines.append(f"- {line}")
    aesthetic = facets.get("aesthetic")
    if aesthetic:
        lines.append(f"- **Look**: {text(aesthetic['value'])} ({aesthetic['evidence']:.0%} agree)")
    return lines


def style_markdown(detail: StyleAdopters, sources: dict[int, str], links: MomentLinks) -> str:
    """A style's originator, runners-up and adopters with the evidence."""
    lines = [f"### Style {detail.id}: {text(detail.name)}", *facet_lines(detail.facets)]
    origin = detail.origin
    if not origin:
        return "\n".join([*lines, "No confident sightings yet."])
    first = origin.originator
    lines.append(f"**Originator:** {_adoption_line(first, links, sources.get(first.video_id))}")
    if origin.tied_with:
        lines.append(f"Tied on the first day with: {', '.join(handle(c) for c in origin.tied_with)}")
    if origin.strays_skipped:
        lines.append(f"{origin.strays_skipped} earlier stray sightings were not counted.")
    lines.append(f"\n**Adopters, in order** ({len(detail.adopters)}):\n")
    lines += [f"{n}. {_adoption_line(a.adoption, links, sources.get(a.adoption.video_id))} (+{a.days_after} days)"
              for n, a in enumerate(detail.adopters[:30], start=1)]
    return "\n".join(lines)


def crop_gallery(entries: Sequence[Adoption | StyleGarment], data_dir: Path, caption: str = "") -> list[tuple[str, str]]:
    """(crop path, caption) for adoptions (captioned by creator and day) or a style's garments."""
    items = []
    for e in entries:
        text = caption or (f"{fmt.handle(e.creator)} · {fmt.day(e.day)}" if isinstance(e, Adoption)
                           else f"garment {e.garment_id}")
        items.append((str(data_dir / e.crop_path), text))
    return items


# -- creators ------------------------------------------------------------------------------------------
def leaderboard_status(report: CreatorsReport) -> str:
    """The Creators tab's summary line, in the Trends tab's words."""
    return f"Trendsetters as of {fmt.day(report.as_of)}: {fmt.risen_summary(report)}."


def leaderboard_rows(report: CreatorsReport) -> list[list[Any]]:
    """The trendsetter leaderboard."""
    return [fmt.leaderboard_row(n, t) for n, t in enumerate(report.leaderboard, start=1)]


ORIGINATOR_TYPES: list[Literal["number", "str", "markdown"]] = [  # the moment column holds links
    "number", "str", "str", "str", "str", "number", "markdown", "str"]


def originator_rows(report: CreatorsReport, links: MomentLinks | None = None,
                    sources: dict[int, str] | None = None) -> list[list[Any]]:
    """Who started each style, with the evidence and the runners-up; with ``links``, the moment
    is a Markdown link that plays it."""
    rows = []
    for named in report.originators:
        o, a = named.origin, named.origin.originator
        url = moment_url(links, a.video_id, (sources or {}).get(a.video_id), a.t_s) if links else None
        rows.append([o.style_id, named.style_name, fmt.handle(a.creator), a.tier, fmt.day(a.day), a.video_id,
                     f"[▶ {moment(a.t_s)}]({url})" if url else moment(a.t_s), fmt.runners_up(o)])
    return rows


def creator_markdown(page: CreatorPage, sources: dict[int, str], links: MomentLinks) -> str:
    """A creator's page: their standing, the styles they started and those they adopted."""
    lines = [f"### {handle(page.creator)}",
             f"{fmt.count(page.followers)} followers · {fmt.count(page.videos)} videos in the catalog"]
    board = page.trendsetter
    if board:
        lines.append(f"Trendsetter score **{fmt.trendsetter_score(board.score)}** over {board.styles} styles "
                     f"that have risen ({board.originated} originated; median {fmt.days(board.days_before_takeoff)} "
                     "days before take-off)")
    for title, entries in (("Styles started", page.started), ("Styles adopted", page.adopted)):
        lines.append(f"\n**{title}** ({len(entries)})\n")
        lines += [f"- style {e.adoption.style_id} *{text(e.style_name)}*: adopter {e.rank} of "
                  f"{e.adopters}, {_adoption_line(e.adoption, links, sources.get(e.adoption.video_id))}"
                  for e in entries] or ["- none"]
    return "\n".join(lines)


# -- model --------------------------------------------------------------------------------------------
def model_markdown(overview: dict[str, Any]) -> str:
    """Live index, current model and every model version."""
    index = overview["index"]
    lines = ["### Search index"]
    if index is None:
        lines.append("No index yet: upload videos to build one.")
    else:
        encoder = index["encoder"]
        lines.append(f"Live version **{index['version']}**: {index['count']} garments, FAISS "
                     f"`{index['factory']}`, built {index['created_at']}; encoder `{encoder['name']}` "
                     f"(version {encoder['version']}, dim {encoder['dim']})")
    lines += ["", "### Model versions",
              f"Current: **{overview['current_model'] or 'packaged default'}**", ""]
    if overview["models"]:
        lines += ["| version | parent | kind | created | WiSE-FT ratio | encoder |", "|---|---|---|---|---|---|"]
        lines += [f"| {m['version']} | {m['parent'] or '-'} | {m['kind'] or '-'} | {m['created_at']} | "
                  f"{m['wise_ratio'] if m['wise_ratio'] is not None else '-'} | `{m['encoder']}` |"
                  for m in overview["models"]]
    else:
        lines.append("No trained versions in this data directory yet.")
    return "\n".join(lines)


def retrain_markdown(result: Any) -> str:
    """A retrain run: the new version, its WiSE-FT ratio, before/after table, the index switch."""
    lines = [f"New model version **{result.version}** (`{result.encoder}`) is current."]
    if result.wise_ratio is not None:
        lines.append(f"WiSE-FT mixing ratio chosen on held-out season pairs: {result.wise_ratio:.2f}")
    lines.append("Re-indexed: the catalog was re-embedded with it and searches use it now." if result.reindexed
                 else "Not re-indexed: searches keep using the previous index until you switch.")
    return "\n\n".join([*lines, result.markdown])
