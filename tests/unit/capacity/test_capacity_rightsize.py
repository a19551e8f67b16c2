"""Rightsizing: KRR's and VPA's formulas, the peak floor, the OOM bump, the history gate, replay and savings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubebook.capacity import rightsize, schema, synthetic
from kubebook.capacity.cost import HOURS_PER_MONTH, Price, Prices
from kubebook.errors import ParameterError


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return schema.validate_samples(synthetic.samples_frame(workloads=12, days=4, seed=5))


@pytest.fixture(scope="module", params=rightsize.STRATEGIES)
def recommendations(request, samples) -> list[rightsize.Recommendation]:
    return rightsize.recommend(samples, rightsize.Settings(strategy=request.param))


def _of(samples: pd.DataFrame, workload: str) -> pd.DataFrame:
    return samples[samples["workload"] == workload]


def test_memory_recommendations_never_go_below_the_observed_peak(recommendations, samples):
    assert all(r.status == "ok" for r in recommendations)
    for rec in recommendations:
        peak = _of(samples, rec.workload)["memory_bytes"].max()
        assert rec.memory_request >= peak and rec.memory_limit >= peak


def test_the_vpa_floor_matters_a_p90_of_daily_peaks_alone_would_sit_under_a_single_spike():
    times = pd.date_range("2026-11-01", periods=2016, freq="5min", tz="UTC")
    memory = np.full(len(times), 1e9)
    memory[100] = 5e9  # one real spike, old enough to have decayed
    frame = schema.validate_samples(pd.DataFrame({"timestamp": times, "namespace": "a", "workload": "w",
                                                  "container": "c", "pod": "w-1", "cpu_cores": 0.1,
                                                  "memory_bytes": memory}))
    settings = rightsize.Settings(strategy="vpa")
    rec = rightsize.recommend(frame, settings)[0]
    group = rightsize.Group({"seconds": schema.epoch_seconds(frame["timestamp"]), "cpu": frame["cpu_cores"].to_numpy(),
                             "memory": memory, "cpu_request": frame["cpu_request"].to_numpy(),
                             "memory_request": frame["memory_request"].to_numpy(),
                             "memory_limit": frame["memory_limit"].to_numpy(), "oom": np.zeros(len(frame), bool),
                             "pod": np.zeros(len(frame), int)}, np.arange(len(frame)))
    unfloored = rightsize._vpa(group, settings, oom_memory=0.0)["memory_request"]
    assert unfloored < 2e9  # the decayed histogram forgot the spike ...
    assert rec.memory_request == 5e9  # ... the floor did not


def test_krr_simple_is_the_highest_per_pod_cpu_percentile_and_the_peak_plus_15_percent(samples):
    one = _of(samples, "app-000")
    frame = pd.concat([one, one.assign(pod="app-000-other", cpu_cores=one["cpu_cores"][::-1].to_numpy() * 1.1)])
    rec = rightsize.recommend(frame, rightsize.Settings(strategy="simple", cpu_percentile=90))[0]
    expected = max(np.percentile(g, 90) for _, g in frame.groupby("pod")["cpu_cores"])
    assert rec.cpu_request == pytest.approx(expected)
    assert rec.memory_request == pytest.approx(frame["memory_bytes"].max() * 1.15)
    assert rec.memory_limit == rec.memory_request and rec.replicas == 2


def test_an_oom_killed_container_gets_its_kill_limit_plus_25_percent(samples):
    leaker = max(samples["workload"].unique())
    frame = _of(samples, leaker)
    assert frame["oom_killed"].sum() >= 1
    for strategy in rightsize.STRATEGIES:
        rec = rightsize.recommend(frame, rightsize.Settings(strategy=strategy))[0]
        limit = frame["memory_limit"].iloc[-1]
        assert rec.oom_bumped and rec.oom_kills == frame["oom_killed"].sum()
        assert rec.memory_request >= limit * (1.2 if strategy == "vpa" else 1.25) - 1
    plain = rightsize.recommend(frame.assign(oom_killed=False), rightsize.Settings(strategy="simple"))[0]
    assert not plain.oom_bumped and plain.memory_request < limit * 1.25


def test_short_history_gives_insufficient_history_and_no_number(samples):
    short = samples[samples["timestamp"] < samples["timestamp"].min() + pd.Timedelta(hours=2)]
    for strategy in rightsize.STRATEGIES:
        recs = rightsize.recommend(short, rightsize.Settings(strategy=strategy))
        assert {r.status for r in recs} == {"insufficient_history"}
        assert all(r.cpu_request is None and r.memory_request is None and r.savings_cores == 0 for r in recs)
    few = rightsize.recommend(samples, rightsize.Settings(min_points=10_000))
    assert rightsize.totals(few)["insufficient_history"] == len(few)


def test_the_replay_counts_the_samples_above_the_recommendation(recommendations, samples):
    for rec in recommendations[:4]:
        frame = _of(samples, rec.workload)
        assert rec.cpu_over_request == int((frame["cpu_cores"] > rec.cpu_request).sum())
        assert rec.memory_over_limit == int((frame["memory_bytes"] > rec.memory_limit).sum()) == 0
        assert rec.cpu_over_request_now == int((frame["cpu_cores"] > frame["cpu_request"]).sum())


def test_savings_are_request_minus_recommendation_times_replicas_at_the_pool_price(samples):
    prices = Prices(pools={"workload": Price(cpu_core_hour=0.05, memory_gib_hour=0.01)})
    rec = rightsize.recommend(_of(samples, "app-001"), prices=prices)[0]
    cores = rec.cpu_request_now - rec.cpu_request
    gib = (rec.memory_request_now - rec.memory_request) / 2**30
    assert rec.savings_cores == pytest.approx(cores) and rec.savings_gib == pytest.approx(gib)
    assert rec.savings_per_month == pytest.approx((cores * 0.05 + gib * 0.01) * HOURS_PER_MONTH)
    assert cores > 0  # the synthetic requests are 1.5-4x typical usage


def test_bad_settings_are_one_error():
    with pytest.raises(ParameterError, match="strategy must be one of simple, vpa"):
        rightsize.Settings(strategy="magic").check()
    with pytest.raises(ParameterError, match="cpu_percentile"):
        rightsize.recommend(pd.DataFrame(), rightsize.Settings(cpu_percentile=0))
