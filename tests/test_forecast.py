"""Share forecasts: the forecasters, the backtest against naive baselines, intervals."""

from __future__ import annotations

import numpy as np
import pytest

from configs import ConfigError
from inference.trends import ForecastConfig
from inference.trends import load_forecast_config as load_config
from inference.trends.forecast import (
    FORECASTERS,
    backtest,
    damped_trend,
    forecast_shares,
    last_value,
    linear_trend,
)
from inference.trends.settings import FORECAST_METHODS

CONFIG = ForecastConfig()


def test_baselines_on_known_series():
    history = np.array([0.1, 0.2, 0.3, 0.4])
    assert last_value(history, 2, CONFIG).tolist() == [0.4, 0.4]
    assert linear_trend(history, 3, CONFIG) == pytest.approx([0.5, 0.6, 0.7])
    assert linear_trend(np.array([0.3]), 2, CONFIG).tolist() == [0.3, 0.3]
    assert last_value(np.array([]), 1, CONFIG).tolist() == [0.0]


def test_damped_trend_follows_a_trend_but_flattens():
    history = np.linspace(0.0, 0.2, 12)
    ahead = damped_trend(history, 4, CONFIG)
    assert np.all(np.diff(ahead) > 0) and ahead[0] == pytest.approx(0.2 + 0.2 / 11, rel=0.2)
    assert ahead[-1] - ahead[-2] <= ahead[1] - ahead[0] + 1e-12
    assert damped_trend(np.array([0.1, 0.2]), 2, CONFIG).tolist() == [0.2, 0.2]


def test_backtest_hides_the_last_weeks_and_scores_every_method():
    rising = {1: np.linspace(0.0, 0.3, 16)}
    result = backtest(rising, CONFIG)
    assert result.series == 1
    assert result.errors["linear_trend"].mae == pytest.approx(0.0, abs=1e-9)
    assert result.errors["last_value"].mae == pytest.approx(np.mean([0.02, 0.04, 0.06, 0.08]))
    assert result.errors["last_value"].points == CONFIG.backtest_weeks * CONFIG.backtest_origins
    assert result.chosen == "linear_trend" and not result.beats_baselines
    # MAPE skips zero actuals and is in percent
    assert result.errors["last_value"].mape == pytest.approx(
        np.mean([abs(p - a) / a * 100 for p, a in _last_value_pairs(rising[1])]))


def _last_value_pairs(values):
    h, pairs = CONFIG.backtest_weeks, []
    for o in range(CONFIG.backtest_origins):
        origin = len(values) - h - o
        pairs += [(values[origin - 1], a) for a in values[origin : origin + h] if a > 0]
    return pairs


def test_auto_keeps_a_baseline_unless_a_model_beats_both():
    flat = {i: np.full(12, 0.1) for i in range(3)}
    result = backtest(flat, CONFIG)
    assert result.chosen in ("last_value", "linear_trend") and not result.beats_baselines
    rng = np.random.default_rng(0)
    # a noisy level with no trend: smoothing beats both last value and a line through noise
    noisy = {i: np.clip(0.1 + 0.03 * rng.normal(size=30), 0, 1) for i in range(20)}
    result = backtest(noisy, CONFIG)
    best = min(result.errors.values(), key=lambda e: e.mae)
    assert result.chosen == best.method
    assert result.beats_baselines == (best.method == "damped_trend")
    fixed = backtest(noisy, ForecastConfig(method="last_value"))
    assert fixed.chosen == "last_value"


def test_forecast_intervals_come_from_backtest_errors():
    rng = np.random.default_rng(1)
    series = {i: np.clip(0.2 + 0.05 * rng.normal(size=20), 0, 1) for i in range(10)}
    forecasts, result = forecast_shares(series, ForecastConfig(horizon_weeks=6))
    fc = forecasts[3]
    assert fc.method == result.chosen and len(fc.share) == len(fc.low) == len(fc.high) == 6
    assert all(lo <= s <= hi for lo, s, hi in zip(fc.low, fc.share, fc.high, strict=True))
    spread = result.errors[result.chosen].abs_error_quantile
    assert fc.high[0] - fc.share[0] == pytest.approx(spread[0], abs=1e-5)
    assert fc.high[5] - fc.share[5] == pytest.approx(spread[-1], abs=1e-5)  # reused past the backtest
    assert all(0.0 <= v <= 1.0 for v in fc.low + fc.high)


def test_too_little_history_is_not_forecast():
    # nothing long enough to backtest: no forecast could be judged, so there is none (a
    # one-week series used to get a flat last-value forecast)
    young = np.array([0.0] * 2 + [0.05] * (CONFIG.min_forecast_weeks - 1))
    seasoned = np.array([0.05] * CONFIG.min_forecast_weeks)
    forecasts, result = forecast_shares({6: young, 7: seasoned, 8: np.array([]), 9: np.zeros(5)}, CONFIG)
    assert result.series == 0 and result.chosen == "last_value" and forecasts == {}
    # with a backtest behind it, a style first seen fewer than min_forecast_weeks weeks ago
    # still gets none; one seen long enough does
    long = np.full(12, 0.05)
    young = np.array([0.0] * 10 + [0.05] * (CONFIG.min_forecast_weeks - 1))
    seasoned = np.array([0.0] * (12 - CONFIG.min_forecast_weeks) + [0.05] * CONFIG.min_forecast_weeks)
    forecasts, result = forecast_shares({5: long, 6: young, 7: seasoned}, CONFIG)
    assert result.series == 1 and set(forecasts) == {5, 7}
    assert forecasts[7].share == [0.05] * CONFIG.horizon_weeks


def test_each_forecast_carries_its_backtest_error_next_to_the_baselines():
    rng = np.random.default_rng(3)
    series = {1: np.linspace(0.0, 0.3, 16), 2: np.clip(0.1 + 0.02 * rng.normal(size=16), 0, 1),
              3: np.array([0.0] * 12 + [0.1] * 4)}  # 3: seen 4 weeks, too short to backtest alone
    forecasts, result = forecast_shares(series, CONFIG)
    assert set(result.by_series) == {1, 2}
    own = forecasts[1].error
    assert own is not None and own.scope == "style"
    assert own.mae == pytest.approx(result.by_series[1][result.chosen], abs=1e-6)
    assert own.baseline in ("last_value", "linear_trend") and own.baseline != result.chosen
    assert own.baseline_mae == pytest.approx(result.by_series[1][own.baseline], abs=1e-6)
    pooled = forecasts[3].error
    assert pooled is not None and pooled.scope == "all styles"
    assert pooled.mae == pytest.approx(result.errors[result.chosen].mae, abs=1e-6)
    others = [b for b in ("last_value", "linear_trend") if b != result.chosen]
    assert pooled.baseline_mae == pytest.approx(min(result.errors[b].mae for b in others), abs=1e-6)
    assert pooled.baseline != result.chosen  # a naive method is compared with the other naive one
    assert "by_series" not in result.to_dict()


def test_config_checks(tmp_path):
    assert load_config().method == "auto"
    bad = tmp_path / "bad.yaml"
    bad.write_text("forecast:\n  method: prophet\n")
    with pytest.raises(ConfigError, match=r"forecast\.method"):
        load_config(bad)


def test_the_method_setting_names_every_forecaster():
    assert tuple(FORECASTERS) == FORECAST_METHODS
