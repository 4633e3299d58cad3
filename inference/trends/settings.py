"""The trends stage's settings: sections of ``configs/trends.yaml`` as typed dataclasses.

Each setting declares the values it accepts next to its default (:func:`configs.setting`);
:func:`configs.from_dict` checks them all in one place when a config is loaded, with one
message naming the setting.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from configs import from_dict, load, setting
from inference.rising_detectors import SpreadConfig

METHODS = ("kmeans", "density")
GROUPINGS = ("kind", "outfit", "all")
WEIGHTS = ("none", "followers", "log_followers")
PERIODS = ("day", "week")
FORECAST_METHODS = ("last_value", "linear_trend", "damped_trend")  # the forecasters' registry keys
GARMENT_KINDS = ("top", "bottom", "full")
RISING_DETECTORS = ("spread", "window")


@dataclasses.dataclass
class ClusterConfig:
    """How garments are clustered into styles."""

    method: str = setting("kmeans", choices=METHODS)  # kmeans (spherical, k by silhouette) or density (HDBSCAN, noise unassigned)
    group_by: str = setting("outfit", choices=GROUPINGS)  # outfit: one vector per frame; kind: styles per garment kind; all: pooled
    # garments averaged into a frame's outfit vector ([]: all; a frame with none of them keeps all of
    # its garments); the full-body crop also holds the room and the creator, which pulls frames
    # together by who posted them rather than by what they wear
    outfit_kinds: list[str] = setting(factory=lambda: ["top", "bottom"], each_in=GARMENT_KINDS)
    k_min: int = setting(8, low=1)  # fewest styles k-means may choose per group (below it, silhouette rewards
    # coarse splits such as full-body shots vs close-ups rather than styles)
    k_max: int = 80  # most styles k-means may choose per group
    k_tolerance: float = 0.1  # take the largest k whose silhouette is within this of the best
    # (a split style costs less than a rising style merged into a background one)
    selection_sample: int = 4000  # vectors sampled to choose k (silhouette) and to fit HDBSCAN
    kmeans_iterations: int = 25  # Lloyd iterations of each k-means
    kmeans_restarts: int = 3  # k-means restarts; the best objective is kept
    split_separation: float = 4.0  # split a k-means cluster whose members fall in two groups this many
    # pooled SDs apart along its main axis (held-out half; one Gaussian style gives ~2.7); 0: never
    merge_separation: float = 3.3  # merge neighbouring k-means clusters whose union scores below this
    # (pieces of one style); below the split threshold, so noise alone does not merge lookalikes; 0: never
    # facet twins (inference/trends/facet_twins.py): merge clusters whose garments the facet probe reads
    # alike (pieces of one style that k-means cut by video): every facet of every kind closer than this
    # share of the run's median distance between two clusters; 0: never. Needs the encoder's facet probe
    twin_share: float = setting(0.35, low=0, high=1)
    twin_min_garments: int = setting(3, low=1)  # garments of a kind a cluster needs for that kind to count
    # co-worn clusters (inference/trends/co_worn.py): merge two clusters when the videos they share are at
    # least co_worn_videos and this share of the smaller one's videos (one outfit's frames split); 0: never
    co_worn_share: float = setting(0.5, low=0, high=1)
    co_worn_videos: int = setting(2, low=1)
    # ...or when they share one video and the facet probe reads them closer than this share of the run's
    # median distance between two clusters (looser than twin_share: the video corroborates); 0: never
    co_worn_twin_share: float = setting(0.6, low=0, high=1)
    # lookalikes (inference/trends/lookalikes.py): split a style whose garments of one slot fall in two
    # measured-colour groups this many pooled SDs apart, at least lookalike_delta_e (CIEDE2000) apart,
    # each worn by lookalike_creators creators or more (off by default: on 4 demo worlds it lowered
    # rising precision for no originator gain; docs/BENCHMARKS.md "Originators from near garments")
    lookalikes: bool = False
    lookalike_separation: float = setting(3.0, low=0)
    lookalike_delta_e: float = setting(8.0, low=0)
    lookalike_other_delta_e: float = setting(4.0, low=0)  # most the other garment of the same frames may change
    # colour between the two groups (CIEDE2000): a lookalike changes one garment, the light changes all
    lookalike_other_share: float = setting(0.25, low=0, high=1)  # ...or this share of the split garment's own
    # change, when larger: a small style of another colour altogether (yellow vs black skirts) whose
    # top differs a little too is no scene change (light moves both garments alike)
    lookalike_creators: int = setting(4, low=1)
    lookalike_sample: int = setting(40, low=8)  # garments per style and slot whose colour is measured
    lookalike_agreement: float = setting(0.9, low=0, high=1)  # share of the measured frames the two new
    # centroids, fitted on the other half, sort as the pixels did (else new garments could not be kept apart)
    min_cluster_size: int = 8  # HDBSCAN's smallest cluster
    density_selection: str = "leaf"  # HDBSCAN cluster selection: leaf (fine styles) or eom (coarse groups)
    min_style_size: int = 3  # clusters with fewer garments are dissolved (their garments get no style)
    # k-means: garments farther from their centroid than the typical style's median distance plus
    # this many typical robust deviations (but never within a cluster's own median) get no style:
    # mostly strays k-means had to put somewhere; 0: assign all
    noise_mads: float = setting(3.0, low=0)
    # k-means: strays that gather among themselves (at least min_cluster_size within twice the run's
    # median member distance of one another) as tight as a typical style (median distance to their
    # centre at most this times that median) become a style of their own: a small new look k-means
    # had no centroid left for; 0: never
    stray_styles: float = setting(1.0, low=0)
    # garments left without a style but within the typical style's median distance plus this many
    # typical robust deviations of the style they lie nearest (measured on the styles' members) are
    # kept as near it: a new look's first video often lands just outside, and originators look
    # there (inference/trends/creators.py); 0: none
    near_mads: float = setting(8.0, low=0)
    # garments whose person box came from these localisers get no style (they stay searchable): the
    # centred fallback fires where no detector saw a person, on title cards and empty rooms, and
    # those crops gather into junk styles and pollute real ones
    skip_methods: list[str] = dataclasses.field(default_factory=lambda: ["fallback_center"])
    # check each crop with the garment check (inference/garment_check.py) before clustering: walls,
    # title cards, blurs and slivers of people get no style (they stay searchable); false: skip it
    garment_check: bool = False
    # only garments make styles (inference/trends/style_check.py): a cluster where at least
    # style_check_share of the checked crops (those of its style_check_nearest frames nearest the
    # centroid and style_check_sample frames drawn at random) fail the garment check is no style,
    # and crops of skip_methods join a style when inside its radius and the check passes them
    style_check: bool = True
    style_check_nearest: int = setting(4, low=1)
    style_check_sample: int = setting(8, low=0)
    style_check_share: float = setting(0.5, low=0, low_open=True, high=1)
    # a checked crop that passes but that no detector or face vouched for, with less clothing
    # evidence than this (twice the garment check's min_clothing), counts against its cluster too
    style_check_unvouched: float = setting(0.1, low=0, high=1)
    # a skip_methods crop joins a style within this many times its radius (the centred fallback's box
    # sits off the person, so its crops hold more room: on the development worlds, real garments it
    # cut lay up to ~1.7 radii from their own style's centroid, the next style farther)
    admit_slack: float = setting(1.5, low=0)
    assign_quantile: float = setting(0.99, low=0, low_open=True, high=1)  # quantile of member distances
    # that sets a style's radius
    assign_slack: float = 1.25  # radius multiplier when assigning garments outside the fit sample
    match_similarity: float = 0.8  # centroid cosine similarity needed to carry a style id over
    recluster_share: float = setting(0.1, low=0, high=1)  # advise a full re-clustering when garments that
    # fit no style, beyond those the last full run left out, reach this share of all garments
    seed: int = 0  # random seed of sampling and k-means
    threads: int = 1  # OpenMP threads faiss k-means may use (0: faiss default); 1 is fastest on a busy box

    def problems(self) -> list[str]:
        """Rules between settings, and the shape of ``skip_methods``."""
        found = []
        if self.k_min > self.k_max:
            found.append(f"k_min must be <= k_max, got {self.k_min} > {self.k_max}")
        if not (isinstance(self.skip_methods, list) and all(isinstance(m, str) for m in self.skip_methods)):
            found.append("skip_methods must be a list of localiser names, e.g. [fallback_center] or []")
        return found


@dataclasses.dataclass
class NamingConfig:
    """How styles get their names."""

    vocabulary: str | None = None  # YAML vocabulary file; None: packaged fashion_vocabulary.yaml
    top_words: int = 6  # words with scores kept per style
    center: bool = True  # subtract each word's similarity to the mean garment (drops generic words)
    facets: bool = True  # name styles slot by slot from facets with evidence (needs a text tower)
    facet_vocabulary: str | None = None  # facet YAML file; None: packaged facets.yaml
    facet_garments: int = setting(60, low=1)  # garments per kind per style read for facet naming
    facet_probe: str | None = None  # facet probe file (.npz); None: the packaged one of the encoder, if any
    two_colours: bool = False  # name a print whose two colours tie by both ("black and white checks"); off:
    # left out (10 unseen demo worlds: colour accuracy 0.72 -> 0.75, names with a wrong facet 27% -> 31%,
    # only 8 of 16 two-colour names right; docs/BENCHMARKS.md "Two-colour names")


@dataclasses.dataclass
class SeriesConfig:
    """How style time series are counted."""

    period: str = setting("week", choices=PERIODS)  # day or week (weeks start on Monday)
    weight: str = setting("none", choices=WEIGHTS)  # none, followers or log_followers: how much one post counts
    min_frames_per_video: int = 1  # frames a video must show a style in to count as a sighting


@dataclasses.dataclass
class RisingConfig:
    """Rising and fading: which detector flags rising, and the window burst statistics.

    ``detector: spread`` (the default) flags a style rising when creators wearing it for the
    first time outnumber its own past rate (``spread``'s settings,
    :class:`inference.rising_detectors.SpreadConfig`); ``window`` uses the z-score test below.
    Fading, the score, growth and "emerging" always come from the window statistics.
    """

    detector: str = setting("spread", choices=RISING_DETECTORS)  # what flags rising: spread or window
    spread: SpreadConfig = dataclasses.field(default_factory=SpreadConfig)  # the spread detector's settings
    recent_days: int = setting(14, low=1)  # length of the recent window (down to half of it in the data's
    # first weeks)
    history_days: int = 56  # length of the history window before it
    min_history_days: int = 14  # days of data needed before the recent window to judge at all
    min_creators: int = 3  # distinct creators in the recent window (one creator is not a trend)
    min_new_creators: int = 3  # of those, creators wearing the style for the first time (a trend spreads
    # to new people; fans wearing a staple more often for a while do not make it one)
    min_new_share: float = setting(0.5, low=0, high=1)  # share of the recent window's creators who wear it
    # for the first time
    min_videos: int = 4  # style videos in the recent window
    min_growth: float = 2.0  # recent share over historical share, at least
    z_threshold: float = 3.0  # Poisson z-score of recent videos against the historical share (the
    # window detector's rising test; fading always)
    emerging_z: float = setting(1.5, low=0)  # "emerging": not rising, never risen, but this z-score and
    # min_growth already (gaining share without the evidence to rise yet)
    prior_videos: float = 1.0  # pseudo-count added to history (a style never seen is not infinitely rare)


@dataclasses.dataclass
class TrendsConfig:
    """Styles, naming, series and rising score (sections of configs/trends.yaml)."""

    cluster: ClusterConfig = dataclasses.field(default_factory=ClusterConfig)  # clustering
    naming: NamingConfig = dataclasses.field(default_factory=NamingConfig)  # naming
    series: SeriesConfig = dataclasses.field(default_factory=SeriesConfig)  # time series
    rising: RisingConfig = dataclasses.field(default_factory=RisingConfig)  # rising / fading


@dataclasses.dataclass
class CreatorsConfig:
    """Originators, influence and trendsetters (section ``creators`` of configs/trends.yaml)."""

    min_frames: int = setting(2, low=1)  # frames a video must show a style in to count (unless the creator
    # wears it again)
    min_frame_share: float = setting(0.5, low=0)  # ...or this share of the video's frames (one kept frame
    # of a one-shot video counts; above 1 turns the share rule off)
    distance_mads: float = setting(6.0, low=0, low_open=True)  # sightings farther than median + this many
    # MADs of the style's distances don't count (gross outliers only: on a 1,000-video bench world
    # slice, 3 MADs dropped 2.3 true sightings per stray)
    far_worn_again: bool = True  # a sighting beyond distance_mads counts when the creator wears the
    # style, close to its centroid, in another video
    near_garments: bool = True  # garments a full clustering left near a style (cluster.near_mads) count
    # for its originators and adopters (never for its size, series or rising score)
    runners_up: int = setting(3, low=0)  # adopters shown after the originator
    influence_days: int = setting(14, low=1)  # B adopting within this many days after A counts for A -> B
    influence_min_styles: int = 3  # styles an influence edge must rest on
    influence_min_lift: float = 2.0  # observed / expected, at least
    influence_max_p: float = 0.05  # false discovery rate of influence edges (Benjamini-Hochberg)


@dataclasses.dataclass
class ForecastConfig:
    """Share forecasts and their backtest (section ``forecast`` of configs/trends.yaml)."""

    method: str = setting("auto", choices=("auto", *FORECAST_METHODS))  # auto (lowest backtest MAE),
    # last_value, linear_trend or damped_trend
    horizon_weeks: int = setting(4, low=1)  # weeks ahead to forecast
    backtest_weeks: int = setting(4, low=1)  # weeks hidden at each backtest origin
    backtest_origins: int = setting(3, low=1)  # successive origins (each one week earlier) averaged in the backtest
    trend_weeks: int = 6  # weeks the linear-trend baseline is fitted on
    interval: float = 0.9  # coverage of the forecast interval
    min_history_weeks: int = 4  # weeks a series needs before the hidden ones to be backtested
    min_forecast_weeks: int = setting(3, low=1)  # weeks since a style was first seen before it is forecast
    # (younger styles: "too little history to forecast")


def load_config(user_file: str | Path | None = None) -> TrendsConfig:
    """The packaged trends config with the user's file merged over it."""
    raw = load("trends", user_file)
    sections: dict[str, Any] = {k: raw[k] for k in ("cluster", "naming", "series", "rising") if k in raw}
    return from_dict(TrendsConfig, sections)


def load_creators_config(user_file: str | Path | None = None) -> CreatorsConfig:
    """The ``creators`` section of the packaged trends config, with the user's file over it."""
    return from_dict(CreatorsConfig, load("trends", user_file).get("creators"), prefix="creators.")


def load_forecast_config(user_file: str | Path | None = None) -> ForecastConfig:
    """The ``forecast`` section of the packaged trends config, with the user's file over it."""
    return from_dict(ForecastConfig, load("trends", user_file).get("forecast"), prefix="forecast.")
