"""Forecast each style's share of posts over the next weeks, and check it against naive baselines.

Three forecasters of a weekly share series:

- ``last_value``: the last observed share, flat (naive baseline);
- ``linear_trend``: a least-squares line through the last ``trend_weeks`` weeks (baseline);
- ``damped_trend``: Holt's linear exponential smoothing with a damped trend, its smoothing
  constants fitted per series on one-step-ahead errors.

:func:`backtest` hides the last ``backtest_weeks`` weeks (from ``backtest_origins`` successive
origins, each one where the style would have been forecast), forecasts them from what came
before, and reports MAE and MAPE per method. With
``method: auto`` the shipped forecaster is the one with the lowest backtest MAE, so a model
is only used when it beats both baselines on this data. Intervals come from the backtest's
absolute errors at each horizon (their ``interval`` quantile), so they are as wide as the
method has actually been wrong.

Each forecast carries the backtest error of its method on that style's own hidden weeks
next to the best naive baseline's on the same weeks (or, for a style too short to backtest,
the errors over all styles), so a reader can judge it. A style first seen fewer than
``min_forecast_weeks`` weeks ago gets no forecast: too little history; nor does any style when
no series is long enough to backtest.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from inference.trends.settings import ForecastConfig

BASELINES = ("last_value", "linear_trend")


# --------------------------------------------------------------------------------------
# forecasters: history (T,) -> next ``horizon`` values
# --------------------------------------------------------------------------------------
def last_value(history: np.ndarray, horizon: int, config: ForecastConfig) -> np.ndarray:
    """Naive baseline: the last observed value, repeated."""
    return np.full(horizon, float(history[-1]) if len(history) else 0.0)


def linear_trend(history: np.ndarray, horizon: int, config: ForecastConfig) -> np.ndarray:
    """Baseline: least-squares line through the last ``trend_weeks`` values, extended."""
    recent = history[-config.trend_weeks :]
    if len(recent) < 2:
        return last_value(history, horizon, config)
    x = np.arange(len(recent), dtype=float)
    slope, intercept = np.polyfit(x, recent, 1)
    ahead = np.arange(len(recent), len(recent) + horizon, dtype=float)
    return intercept + slope * ahead


def _holt(history: np.ndarray, alpha: float, beta: float, phi: float) -> tuple[float, float, float]:
    """Run damped Holt over ``history``; returns (level, trend, sum of squared 1-step errors)."""
    level, trend, sse = float(history[0]), float(history[1] - history[0]) if len(history) > 1 else 0.0, 0.0
    for value in history[1:]:
        predicted = level + phi * trend
        sse += (value - predicted) ** 2
        new_level = alpha * value + (1 - alpha) * predicted
        trend = beta * (new_level - level) + (1 - beta) * phi * trend
        level = new_level
    return level, trend, sse


_HOLT_GRID = list(itertools.product((0.2, 0.4, 0.6, 0.8, 1.0), (0.05, 0.2, 0.5), (0.8, 0.9, 0.98)))


def damped_trend(history: np.ndarray, horizon: int, config: ForecastConfig) -> np.ndarray:
    """Holt's damped-trend smoothing, constants picked on a grid by one-step SSE."""
    if len(history) < 3:
        return last_value(history, horizon, config)
    best = min(_HOLT_GRID, key=lambda params: _holt(history, *params)[2])
    level, trend, _ = _holt(history, *best)
    phi = best[2]
    damping = np.cumsum(phi ** np.arange(1, horizon + 1))
    return level + damping * trend


Forecaster = Callable[[np.ndarray, int, ForecastConfig], np.ndarray]
FORECASTERS: dict[str, Forecaster] = {
    "last_value": last_value,
    "linear_trend": linear_trend,
    "damped_trend": damped_trend,
}


def weeks_seen(values: np.ndarray) -> int:
    """Weeks from a style's first non-zero share to the end of its series (0: never seen)."""
    seen = np.flatnonzero(np.asarray(values) > 0)
    return int(len(values) - seen[0]) if len(seen) else 0


# --------------------------------------------------------------------------------------
# backtest
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class MethodError:
    """Backtest error of one forecaster."""

    method: str
    mae: float  # mean absolute error of the share (fraction of posts)
    mape: float | None  # mean absolute percentage error over points with a non-zero actual, in %
    points: int  # forecast points compared
    abs_error_quantile: list[float]  # per horizon: the ``interval`` quantile of absolute errors


@dataclasses.dataclass
class Backtest:
    """Errors of every forecaster on hidden weeks, and the one chosen."""

    errors: dict[str, MethodError]
    chosen: str  # forecaster used for the forecasts
    beats_baselines: bool  # chosen is not a baseline and has lower MAE than both
    series: int  # series that had enough history to be backtested
    # series key -> forecaster -> MAE on that series' hidden weeks (series long enough only)
    by_series: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` (the per-series errors travel with each forecast instead)."""
        return {"errors": {name: dataclasses.asdict(e) for name, e in self.errors.items()}, "chosen": self.chosen,
                "beats_baselines": self.beats_baselines, "series": self.series}


def backtest(series: Mapping[int, np.ndarray], config: ForecastConfig) -> Backtest:
    """Hide the last weeks of every series, forecast them, and measure each forecaster.

    Args:
        series: style id -> weekly share (oldest first).
        config: forecast settings.

    Returns:
        A :class:`Backtest`; ``chosen`` is ``config.method``, or with ``auto`` the lowest-MAE
        forecaster (a baseline unless a model beats both baselines).
    """
    h = config.backtest_weeks
    abs_errors: dict[str, list[list[float]]] = {m: [[] for _ in range(h)] for m in FORECASTERS}
    pct_errors: dict[str, list[float]] = {m: [] for m in FORECASTERS}
    by_series: dict[int, dict[str, float]] = {}
    for key, values in series.items():
        values = np.asarray(values, float)
        origins = [len(values) - h - o for o in range(config.backtest_origins)]
        # only origins where the style would have been forecast: enough weeks, and seen long enough
        origins = [o for o in origins
                   if o >= config.min_history_weeks and weeks_seen(values[:o]) >= config.min_forecast_weeks]
        own: dict[str, list[float]] = {m: [] for m in FORECASTERS}
        for origin in origins:
            actual = values[origin : origin + h]
            for name, forecaster in FORECASTERS.items():
                predicted = np.clip(forecaster(values[:origin], h, config), 0.0, 1.0)
                for step, (p, a) in enumerate(zip(predicted, actual, strict=True)):
                    abs_errors[name][step].append(abs(p - a))
                    own[name].append(abs(p - a))
                    if a > 0:
                        pct_errors[name].append(abs(p - a) / a * 100.0)
        if origins:
            by_series[key] = {name: float(np.mean(e)) for name, e in own.items()}
    used = len(by_series)
    errors = {name: _method_error(name, abs_errors[name], pct_errors[name], config) for name in FORECASTERS}
    chosen = _choose(errors, config) if used else (config.method if config.method != "auto" else "last_value")
    baseline_mae = min(errors[b].mae for b in BASELINES)
    beats = chosen not in BASELINES and used > 0 and errors[chosen].mae < baseline_mae
    return Backtest(errors, chosen, beats, used, by_series)


def _method_error(name: str, abs_errors: list[list[float]], pct: list[float], config: ForecastConfig) -> MethodError:
    flat = [e for step in abs_errors for e in step]
    quantiles = [float(np.quantile(step, config.interval)) if step else 0.0 for step in abs_errors]
    return MethodError(
        name,
        float(np.mean(flat)) if flat else float("nan"),
        float(np.mean(pct)) if pct else None,
        len(flat),
        quantiles,
    )


def _choose(errors: dict[str, MethodError], config: ForecastConfig) -> str:
    if config.method != "auto":
        return config.method
    return min(errors, key=lambda m: (errors[m].mae, m not in BASELINES))


# --------------------------------------------------------------------------------------
# forecasts
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class ForecastError:
    """How wrong a forecast's method was in the backtest, next to the naive baselines."""

    mae: float  # the method's mean absolute error of the share on the hidden weeks
    baseline: str  # the naive baseline (other than the method) with the lower error on the same weeks
    baseline_mae: float  # that baseline's mean absolute error
    scope: str  # "style": this style's hidden weeks; "all styles": too short alone, pooled errors


@dataclasses.dataclass
class ShareForecast:
    """Next weeks' share of one style, with an interval and the backtest error behind it."""

    style_id: int
    method: str
    share: list[float]  # forecast share per week ahead
    low: list[float]  # interval low per week ahead
    high: list[float]  # interval high per week ahead
    error: ForecastError | None = None  # None: nothing could be backtested


def _error(style_id: int, result: Backtest) -> ForecastError | None:
    own = result.by_series.get(style_id)
    if own is not None:
        errors, scope = own, "style"
    elif result.series:
        errors, scope = {name: e.mae for name, e in result.errors.items()}, "all styles"
    else:
        return None
    others = [b for b in BASELINES if b != result.chosen]  # a naive method is compared with the other one
    baseline = min(others, key=lambda b: errors[b])
    return ForecastError(round(errors[result.chosen], 6), baseline, round(errors[baseline], 6), scope)


def forecast_shares(series: Mapping[int, np.ndarray], config: ForecastConfig,
                    result: Backtest | None = None) -> tuple[dict[int, ShareForecast], Backtest]:
    """Forecast every series ``horizon_weeks`` ahead with the backtest's chosen method.

    Intervals are the forecast plus/minus the backtest's absolute-error quantile at each
    horizon (the last one reused past the backtested horizon), clipped to [0, 1]. A
    series first non-zero fewer than ``min_forecast_weeks`` weeks before its end is not
    forecast (too little history); nothing is forecast when no series could be backtested.
    """
    result = result or backtest(series, config)
    if result.series == 0:  # no series long enough to backtest: no forecast could be judged
        return {}, result
    method = result.chosen
    spread = result.errors[method].abs_error_quantile or [0.0]
    forecasts = {}
    for style_id, values in series.items():
        values = np.asarray(values, float)
        if weeks_seen(values) < config.min_forecast_weeks:
            continue
        predicted = np.clip(FORECASTERS[method](values, config.horizon_weeks, config), 0.0, 1.0)
        width = np.asarray([spread[min(i, len(spread) - 1)] for i in range(config.horizon_weeks)])
        forecasts[style_id] = ShareForecast(
            style_id, method, predicted.round(6).tolist(),
            np.clip(predicted - width, 0.0, 1.0).round(6).tolist(),
            np.clip(predicted + width, 0.0, 1.0).round(6).tolist(),
            _error(style_id, result),
        )
    return forecasts, result
