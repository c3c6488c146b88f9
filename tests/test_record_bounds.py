"""course_utils.record_bounds: the bound on the two-way interval from a record's two 95 % intervals holds."""
import numpy as np
import pandas as pd
import pytest

from course_utils import transfer
from course_utils.record_bounds import crossed_bound


def _crossed(a, s, sd_a, sd_s, sd_e, seed):
    rng = np.random.default_rng(seed)
    d = 0.01 + sd_a * rng.normal(size=(a, 1)) + sd_s * rng.normal(size=(1, s)) + sd_e * rng.normal(size=(a, s))
    return pd.DataFrame([{"model_a_seed": i, "seed": j, "scratch": 0.8, "unfrozen": 0.8 + d[i, j]}
                         for i in range(a) for j in range(s)])


@pytest.mark.parametrize("a,s,sds,seed", [(5, 100, (0.003, 0.01, 0.01), 0), (3, 30, (0.0, 0.02, 0.005), 1),
                                          (5, 40, (0.01, 0.0, 0.02), 2), (4, 12, (0.005, 0.005, 0.005), 3)])
@pytest.mark.parametrize("level", [0.95, 1 - 0.05 / 4])
def test_bound_contains_the_two_way_interval(a, s, sds, seed, level):
    df = _crossed(a, s, *sds, seed)
    cx = transfer.summarize_crossed(df, confidence=level)
    naive = transfer.summarize_runs(df)
    over = transfer.summarize_over_models(df)
    lo, hi, se = crossed_bound(naive["diff_mean"], naive["diff_lo"], naive["diff_hi"], over["diff_lo"],
                               over["diff_hi"], a, s, level)
    assert lo <= cx["diff_lo"] + 1e-9 and cx["diff_hi"] <= hi + 1e-9 and cx["se"] <= se + 1e-9


def test_bound_is_tight_at_some_split_and_rejects_too_few():
    df = _crossed(5, 20, 0.004, 0.01, 0.01, 4)
    cx = transfer.summarize_crossed(df)
    naive, over = transfer.summarize_runs(df), transfer.summarize_over_models(df)
    lo, hi, se = crossed_bound(naive["diff_mean"], naive["diff_lo"], naive["diff_hi"], over["diff_lo"],
                               over["diff_hi"], 5, 20)
    assert hi - lo < 4 * (cx["diff_hi"] - cx["diff_lo"])  # a bound, not an unbounded interval
    with pytest.raises(ValueError):
        crossed_bound(0.0, -1, 1, -1, 1, a=1, s=10)
