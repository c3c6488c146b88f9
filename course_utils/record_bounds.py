"""What an older record still says about an interval it did not store.

The recorded ``full`` run of the transfer chapter (``course_utils/results/full_budget.json``) predates the
two-way model × sample analysis (:func:`course_utils.transfer.summarize_crossed`): it stores only the 95 %
interval that treats every run as independent and the one over the per-model-A means. Together those fix the
total and model A's sums of squares, and the rest may split any way between the sample and the interaction;
:func:`crossed_bound` scans the splits and returns the widest two-way interval they allow. The transfer chapter
and the full-budget page both read the record through it, so the bound is computed once, never typed.

Analysis only: no module of the package imports it, and it is not part of any cached run's key.

>>> lo, hi, se = crossed_bound(1.0, 0.9, 1.1, 0.7, 1.3, a=5, s=100, confidence=0.95)
>>> lo < 0.7 < 1.3 < hi and se > 0
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["crossed_bound"]


def crossed_bound(mean: float, naive_lo: float, naive_hi: float, over_lo: float, over_hi: float, a: int, s: int,
                  confidence: float = 0.95, *, n_splits: int = 2001) -> tuple[float, float, float]:
    """The widest two-way interval (``summarize_crossed``'s) that the 95 % naive and over-model-A intervals allow.

    Args:
        mean: the mean paired difference over the ``a * s`` runs.
        naive_lo, naive_hi: its 95 % t-interval with every run independent (``summarize_runs``).
        over_lo, over_hi: the 95 % t-interval over the ``a`` per-model-A means (``summarize_over_models``).
        a, s: model A's and samples (every model A ran every sample once).
        confidence: the level of the two-way interval to bound.

    Returns:
        The lowest lower end, the highest upper end and the largest standard error over the splits of the
        sum of squares that is not model A's between the sample and the interaction.
    """
    from scipy import stats as st

    if a < 2 or s < 2:
        raise ValueError(f"crossed_bound: needs at least two model A's and two samples, got a={a}, s={s}")
    n = a * s
    sd = (naive_hi - naive_lo) / 2 / st.t.ppf(0.975, n - 1) * np.sqrt(n)  # of the n differences
    ms_a = a * s * ((over_hi - over_lo) / 2 / st.t.ppf(0.975, a - 1)) ** 2  # a s SE_over²
    rest = max((n - 1) * sd ** 2 - (a - 1) * ms_a, 0.0)
    lo, hi, se_max = np.inf, -np.inf, 0.0
    for f in np.linspace(0, 1, n_splits):  # the share of `rest` that is SS_S
        ms_s, ms_e = f * rest / (s - 1), (1 - f) * rest / ((a - 1) * (s - 1))
        c_a = 1 / (a * s) if ms_a > ms_e else 0.0  # summarize_crossed's terms, negative components set to 0
        c_s = 1 / (a * s) if ms_s > ms_e else 0.0
        c_e = 1 / (a * s) - c_a - c_s
        var = c_a * ms_a + c_s * ms_s + c_e * ms_e
        terms = (c_a * ms_a) ** 2 / (a - 1) + (c_s * ms_s) ** 2 / (s - 1) + (c_e * ms_e) ** 2 / ((a - 1) * (s - 1))
        q = st.t.ppf((1 + confidence) / 2, var ** 2 / terms if terms > 0 else (a - 1) * (s - 1))
        lo, hi = min(lo, mean - q * np.sqrt(var)), max(hi, mean + q * np.sqrt(var))
        se_max = max(se_max, float(np.sqrt(var)))
    return float(lo), float(hi), se_max
