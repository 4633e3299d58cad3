"""Styles and trends: cluster garment embeddings into styles, name them, keep their ids, follow
them over time, forecast them, and find who started them.

One module per step, each over plain records:

- :mod:`~inference.trends.settings` the config sections of ``configs/trends.yaml``;
- :mod:`~inference.trends.kmeans` spherical k-means, k by silhouette, split / merge refinement;
- :mod:`~inference.trends.clustering` garments (or outfits) into clusters, strays left out;
- :mod:`~inference.trends.naming` names from a fashion vocabulary, through the text tower;
- :mod:`~inference.trends.identity` style ids kept across runs, new garments assigned;
- :mod:`~inference.trends.series` sightings, posts and per-period series;
- :mod:`~inference.trends.rising` rising / fading verdicts and take-off days;
- :mod:`~inference.trends.states` and :mod:`~inference.trends.glossary` the states a style can
  be in (rising, emerging, peaked, new, steady, fading) and what every word of the reports means;
- :mod:`~inference.trends.forecast` next weeks' share, backtested against naive baselines;
- :mod:`~inference.trends.creators` originators, influence and trendsetters;
- :mod:`~inference.trends.coverage` garments with and without a style, and when to re-cluster;
- :mod:`~inference.trends.reports` the reports behind ``stylescope trends`` / ``creators``;
- :mod:`~inference.trends.attributes` colours, patterns, garment types and silhouettes followed
  as trends of their own (``stylescope trends --by``).

>>> from inference import trends
>>> config = trends.load_config()
"""

from inference.trends.attributes import (
    ATTRIBUTES,
    AttributeReport,
    AttributeTrendsReport,
    AttributeUnit,
    attribute_report,
    attribute_units,
)
from inference.trends.clustering import NOISE, Cluster, Clustering, cluster_garments
from inference.trends.coverage import StyleCoverage, style_coverage
from inference.trends.creators import (
    Adoption,
    Influence,
    Origin,
    Trendsetter,
    adoptions_by_style,
    influence,
    leaderboard,
    originators,
    trendsetters,
)
from inference.trends.forecast import Backtest, ForecastError, ShareForecast, forecast_shares
from inference.trends.glossary import GLOSSARY, STATES, glossary_markdown
from inference.trends.identity import (
    STATE_KEY,
    AssignResult,
    ReclusterResult,
    Style,
    StylesUpdate,
    assign_new_garments,
    load_styles,
    recluster,
    update_styles,
)
from inference.trends.naming import Vocabulary, load_vocabulary, name_styles
from inference.trends.reports import (
    TOO_LITTLE_HISTORY,
    Adopter,
    CreatorPage,
    CreatorsReport,
    CreatorStyle,
    NamedOrigin,
    SeriesCounts,
    SkippedVideos,
    StyleAdopters,
    StyleReport,
    TrendsReport,
    creator_styles,
    creators_report,
    medoids,
    plot_rising,
    trends_report,
)
from inference.trends.rising import StyleTrend, rising_styles
from inference.trends.series import (
    Post,
    SeriesSet,
    Sighting,
    StyleSeries,
    TrendData,
    load_trend_data,
    style_series,
)
from inference.trends.settings import (
    ClusterConfig,
    CreatorsConfig,
    ForecastConfig,
    NamingConfig,
    RisingConfig,
    SeriesConfig,
    TrendsConfig,
    load_config,
    load_creators_config,
    load_forecast_config,
)
from inference.trends.states import trend_state

__all__ = [
    "ATTRIBUTES",
    "GLOSSARY",
    "NOISE",
    "STATES",
    "STATE_KEY",
    "TOO_LITTLE_HISTORY",
    "Adopter",
    "Adoption",
    "AssignResult",
    "AttributeReport",
    "AttributeTrendsReport",
    "AttributeUnit",
    "Backtest",
    "Cluster",
    "ClusterConfig",
    "Clustering",
    "CreatorPage",
    "CreatorStyle",
    "CreatorsConfig",
    "CreatorsReport",
    "ForecastConfig",
    "ForecastError",
    "Influence",
    "NamedOrigin",
    "NamingConfig",
    "Origin",
    "Post",
    "ReclusterResult",
    "RisingConfig",
    "SeriesConfig",
    "SeriesCounts",
    "SeriesSet",
    "ShareForecast",
    "Sighting",
    "SkippedVideos",
    "Style",
    "StyleAdopters",
    "StyleCoverage",
    "StyleReport",
    "StyleSeries",
    "StyleTrend",
    "StylesUpdate",
    "TrendData",
    "TrendsConfig",
    "TrendsReport",
    "Trendsetter",
    "Vocabulary",
    "adoptions_by_style",
    "assign_new_garments",
    "attribute_report",
    "attribute_units",
    "cluster_garments",
    "creator_styles",
    "creators_report",
    "forecast_shares",
    "glossary_markdown",
    "influence",
    "leaderboard",
    "load_config",
    "load_creators_config",
    "load_forecast_config",
    "load_styles",
    "load_trend_data",
    "load_vocabulary",
    "medoids",
    "name_styles",
    "originators",
    "plot_rising",
    "recluster",
    "rising_styles",
    "style_coverage",
    "style_series",
    "trend_state",
    "trends_report",
    "trendsetters",
    "update_styles",
]
