"""Is A better than B? Statistics over seeds: intervals, paired tests, Holm's correction, verdicts.

:func:`mean_ci` (a t-interval of the mean over seeds), :func:`paired_table` (the paired comparison of
configurations run on the same seeds: each seed's difference, its interval, a paired t-test, Holm's correction
and the smallest difference the experiment could have detected), :func:`verdict` (the sentence a page glues,
computed from that table, so prose can never contradict the numbers; :func:`null_reading` reads a
non-significant interval against the minimum effect that matters), :func:`welch_table` (Welch's test, for
unpaired runs) and :func:`holm` (the correction for several comparisons). The last section reads a chapter's
recorded ``full`` run back into the same table (:func:`recorded_family`, :func:`recorded_verdict`).

The book reaches these through :mod:`course_utils.compare` (``compare.verdict``, ``compare.paired_table``), which
runs the experiments whose results they judge; this module is their one home.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .train import TrainResult

__all__ = ["mean_ci", "seed_table", "holm", "welch_table", "MIN_SEEDS", "sign_flip_p", "detectable_difference",
           "paired_table", "pairing_table", "paired_display", "null_reading", "NULL_PHRASES", "row_sentences", "verdict", "family_record",
           "recorded_family", "recorded_verdict"]

def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sample std and a Student-t confidence interval of the mean.

    Returns:
        ``{"mean", "std", "lo", "hi", "n"}``; with one value the interval is ``[mean, mean]``
        and ``std`` is 0.
    """
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    mean = float(v.mean())
    if v.size == 1:
        return {"mean": mean, "std": 0.0, "lo": mean, "hi": mean, "n": 1}
    from scipy import stats as st

    std = float(v.std(ddof=1))
    half = float(st.t.ppf(0.5 + confidence / 2, df=v.size - 1)) * std / math.sqrt(v.size)
    return {"mean": mean, "std": std, "lo": mean - half, "hi": mean + half, "n": int(v.size)}


def seed_table(results: Mapping[str, Sequence[TrainResult]], *, references: Mapping[str, Mapping[str, float]]
               | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Test accuracy (%) over seeds per optimizer: mean, std, a t-interval, and reference columns.

    Args:
        results: ``{optimizer: [TrainResult per seed]}``.
        references: ``{column name: {optimizer: accuracy in %}}``, e.g. the sources' single runs.
    """
    rows = []
    for name, runs in results.items():
        accs = [100 * r.test_acc for r in runs]
        ci = mean_ci(accs, confidence)
        row = {"optimizer": name, "seeds": ci["n"], "mean (%)": ci["mean"], "std (%)": ci["std"],
               f"{int(confidence * 100)}% CI low": ci["lo"], f"{int(confidence * 100)}% CI high": ci["hi"],
               "best epoch (mean)": float(np.mean([r.best_epoch for r in runs]))}
        for col, ref in (references or {}).items():
            row[col] = ref.get(name, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("optimizer")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of p-values for multiple comparisons (NaNs are kept and not counted).

    Compare the adjusted values with the level (e.g. 0.05): this controls the chance of *any* false
    "significant" among the comparisons, unlike the raw p-values of several tests read one by one.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def welch_table(results: Mapping[str, Sequence[TrainResult]]) -> pd.DataFrame:
    """Welch's t-test on test accuracy for every pair of optimizers (or of any configurations).

    Returns:
        DataFrame with the pair, the difference of means (percentage points), the two-sided p-value and
        the Holm-adjusted p-value over all the pairs of the table (read significance from that one).
        With a single seed per configuration the p-values are NaN (no variance to test against).
    """
    from scipy import stats as st

    rows = []
    for a, b in itertools.combinations(results, 2):
        xa = np.array([100 * r.test_acc for r in results[a]])
        xb = np.array([100 * r.test_acc for r in results[b]])
        p = float(st.ttest_ind(xa, xb, equal_var=False).pvalue) if min(len(xa), len(xb)) > 1 else np.nan
        rows.append({"A": a, "B": b, "mean A − mean B (pp)": xa.mean() - xb.mean(), "p-value (Welch)": p})
    table = pd.DataFrame(rows, columns=["A", "B", "mean A − mean B (pp)", "p-value (Welch)"])
    table["p (Holm)"] = holm(table["p-value (Welch)"].to_numpy())
    return table


def _accuracies(runs) -> tuple[np.ndarray, list]:
    """Test accuracies in percent of a list of TrainResults (or the numbers themselves), and their seeds."""
    runs = list(runs)
    if all(isinstance(r, TrainResult) for r in runs):
        return np.array([100 * r.test_acc for r in runs], dtype=float), [r.seed for r in runs]
    try:
        return np.array([float(v) for v in runs], dtype=float), [None] * len(runs)
    except (TypeError, ValueError) as e:
        raise TypeError("paired_table needs, per configuration, a list of TrainResults or of numbers "
                        f"(accuracies in %); got {[type(r).__name__ for r in runs][:3]}.") from e


#: The fewest paired seeds from which :func:`paired_table` and :func:`verdict` call a difference significant.
#: With 3 pairs the exact sign-flip test cannot go below p = 0.25 and the t-test's answer rests on its
#: assumption of normal differences alone (t quantile 4.30 on 2 degrees of freedom); 5 is the number of
#: seeds of the book's ``full`` budget, the smallest run this book lets decide (its sign-flip floor, 0.0625,
#: is still above 5 %: the verdicts lean on the t-test, and say so through the estimated detectable size).
MIN_SEEDS = 5


def sign_flip_p(differences: Sequence[float]) -> float:
    r"""Two-sided p-value of the exact sign-flip (paired permutation) test of a zero mean difference.

    Under the null hypothesis each paired difference :math:`d_i` is as likely to be :math:`-d_i`, so the
    p-value is the share of the :math:`2^n` sign patterns whose :math:`|\bar d|` is at least the observed one.
    Its smallest possible value is :math:`2/2^n` (0.25 for 3 pairs, 0.0625 for 5): few pairs cannot be
    significant without leaning on a model of the noise. Exact up to 16 pairs; above, 2**16 random
    patterns (fixed generator), counted with the observed one.
    """
    d = np.asarray(list(differences), dtype=float)
    if d.size == 0 or np.isnan(d).any():
        raise ValueError(f"sign_flip_p needs at least one finite paired difference, got {d.tolist()}.")
    obs = abs(d.mean())
    if d.size <= 16:
        signs = 1 - 2 * ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1)  # (2^n, n) of ±1
        return float(np.mean(np.abs(signs @ d) / d.size >= obs - 1e-12 * max(1.0, obs)))
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=(2 ** 16, d.size))
    return float((1 + np.sum(np.abs(signs @ d) / d.size >= obs - 1e-12 * max(1.0, obs))) / (2 ** 16 + 1))


def detectable_difference(sd: float, n: int, alpha: float, power: float = 0.8) -> float:
    r"""The true mean paired difference that a two-sided paired t-test at level ``alpha`` detects with
    probability ``power``, for ``n`` pairs whose differences have standard deviation ``sd``.

    Exact for normal differences: the t statistic is noncentral t with :math:`n-1` degrees of freedom and
    noncentrality :math:`\delta\sqrt n/\mathrm{sd}`; its power is one integral over the chi-square
    variable (scipy's ``nct`` returns NaN in the far tail), solved for :math:`\delta`.  Fed with the *observed*
    standard deviation it is an estimate, as uncertain as that spread.  For a family of :math:`k` tests
    pass Holm's first (strictest) level :math:`\alpha/k`: a smaller difference can be significant, but not
    reliably.  (Cohen 1988, ch. 2; what ``statsmodels``' ``TTestPower`` solves.)
    """
    from scipy import integrate, optimize, stats as st

    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha} and {power}.")
    if n < 2 or not np.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    df, tc = n - 1, float(st.t.ppf(1 - alpha / 2, n - 1))

    def hit(nc):  # P(|T| > tc) - power, T = (Z + nc) / sqrt(V / df), V ~ chi2(df): one integral over V
        f = lambda v: (st.norm.sf(tc * math.sqrt(v / df) - nc) + st.norm.cdf(-tc * math.sqrt(v / df) - nc)) \
            * st.chi2.pdf(v, df)  # noqa: E731
        return integrate.quad(f, 0, np.inf, epsabs=1e-12, limit=200)[0] - power

    hi = 1.0
    while hit(hi) < 0:
        hi *= 2
    return float(optimize.brentq(hit, 0.0, hi, xtol=1e-10)) * sd / math.sqrt(n)


_COLS = ["A", "B", "n", "k", "A − B (pp)", "sd (pp)", "level", "CI low", "CI high", "p (paired t)",
         "p (sign-flip)", "p (Holm)", "significant", "detectable (pp)", "differences (pp)"]


def _family_table(diffs: Sequence[tuple[str, str, np.ndarray]], confidence: float, power: float,
                  min_seeds: int) -> pd.DataFrame:
    """paired_table's rows from the per-seed differences of each pair of one Holm family."""
    from scipy import stats as st

    alpha, k = 1 - confidence, len(diffs)
    level = 1 - alpha / max(k, 1)  # Bonferroni: the interval that matches Holm's strictest step
    rows = []
    for a, b, d in diffs:
        d = np.asarray(d, dtype=float)
        n = len(d)
        mean = float(d.mean()) if n else math.nan
        row = {"A": a, "B": b, "n": n, "k": k, "A − B (pp)": mean, "sd (pp)": math.nan, "level": level,
               "CI low": math.nan, "CI high": math.nan, "p (paired t)": math.nan, "p (sign-flip)": math.nan,
               "detectable (pp)": math.nan, "differences (pp)": tuple(float(x) for x in d)}
        if n > 1:
            sd = float(d.std(ddof=1))
            half = float(st.t.ppf(1 - alpha / (2 * k), df=n - 1)) * sd / math.sqrt(n)
            row.update({"sd (pp)": sd, "CI low": mean - half, "CI high": mean + half,
                        "p (sign-flip)": sign_flip_p(d),
                        "detectable (pp)": detectable_difference(sd, n, alpha / k, power)})
            if sd == 0:  # every seed gives the same difference: exact, no noise to test against
                row["p (paired t)"] = 0.0 if mean != 0 else 1.0
            else:
                row["p (paired t)"] = float(st.ttest_1samp(d, 0.0).pvalue)
        rows.append(row)
    table = pd.DataFrame(rows, columns=[c for c in _COLS if c not in ("p (Holm)", "significant")])
    table["p (Holm)"] = holm(table["p (paired t)"].to_numpy()) if len(table) else []
    table["significant"] = ((table["p (Holm)"] < alpha).fillna(False) & (table["n"] >= min_seeds)).astype(bool)
    table.attrs.update(confidence=confidence, power=power, min_seeds=min_seeds)
    return table[_COLS]


def paired_table(results: Mapping[str, Sequence], pairs: Sequence[tuple[str, str]] | None = None, *,
                 confidence: float = 0.95, power: float = 0.8, min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    r"""Paired comparison of configurations trained on the same seeds (same initial weights, batch order).

    Seed ``i`` of configuration A is compared with seed ``i`` of B: the differences A − B remove what
    the two runs share, so a paired test sees effects that a two-sample test over the same runs misses.
    The ``k`` pairs form one family: Holm's correction keeps the chance of any false "significant" among
    them at :math:`\alpha = 1 -` ``confidence``.

    Args:
        results: ``{name: [TrainResult per seed]}`` (test accuracy) or ``{name: [value in % per seed]}``.
        pairs: the family of comparisons ``(A, B)`` tested together; default every pair, in the order of
            ``results``.
        confidence: ``1 − α``, the family's level.
        power: for the *detectable* column (see below).
        min_seeds: fewer paired seeds than this are never called significant (:data:`MIN_SEEDS`).

    Returns:
        One row per pair: ``A``, ``B``, ``n`` (paired seeds), ``k`` (pairs in the family), ``A − B (pp)``
        (mean difference), ``sd (pp)`` (of the per-seed differences), ``level`` and ``CI low``/``CI high``
        (the interval at level :math:`1-\alpha/k`, Bonferroni's width: together the ``k`` intervals cover
        with probability ``confidence``, and they are the ones to show next to Holm's p), ``p (paired t)``,
        ``p (sign-flip)`` (exact, :func:`sign_flip_p`), ``p (Holm)``, ``significant`` (Holm's p below α
        *and* at least ``min_seeds`` seeds), ``detectable (pp)`` (the true difference that a test at
        Holm's first level :math:`\alpha/k` finds with probability ``power``, estimated from the observed
        spread, :func:`detectable_difference`) and ``differences (pp)`` (the per-seed values).
        With one seed the test columns are NaN and nothing is significant.

    Raises:
        KeyError: a pair names a configuration that ``results`` lacks.
        ValueError: the two sides of a pair have different numbers of seeds, or different seeds.
    """
    if not 0 < confidence < 1 or not 0 < power < 1:
        raise ValueError(f"confidence and power must be in (0, 1), got {confidence} and {power}.")
    if not isinstance(min_seeds, int) or min_seeds < 2:
        raise ValueError(f"min_seeds must be an integer of at least 2, got {min_seeds!r}.")
    names = list(results)
    pairs = list(itertools.combinations(names, 2)) if pairs is None else [tuple(p) for p in pairs]
    diffs = []
    for a, b in pairs:
        for n_ in (a, b):
            if n_ not in results:
                raise KeyError(f"paired_table: no results for {n_!r}; the configurations are {names}.")
        xa, sa = _accuracies(results[a])
        xb, sb = _accuracies(results[b])
        if len(xa) != len(xb):
            raise ValueError(f"{a!r} has {len(xa)} seeds and {b!r} {len(xb)}: a paired comparison needs the same "
                             f"seeds on both sides (use welch_table for unpaired runs).")
        if any(x is not None and y is not None and x != y for x, y in zip(sa, sb)):
            raise ValueError(f"{a!r} and {b!r} were run on different seeds ({sa} vs {sb}); pair seed i with seed i.")
        diffs.append((a, b, xa - xb))
    return _family_table(diffs, confidence, power, min_seeds)


def pairing_table(results: Mapping[str, Sequence], pairs: Sequence[tuple[str, str]] | None = None,
                  *, unit: str = "pp") -> pd.DataFrame:
    r"""How much pairing seeds helped each comparison of :func:`paired_table` (same arguments).

    The variance of a per-seed difference is :math:`\sigma_A^2 + \sigma_B^2 - 2\rho\,\sigma_A\sigma_B`: pairing
    removes noise exactly as far as the runs of one seed resemble each other across the two configurations
    (correlation :math:`\rho > 0`), and adds noise when they move apart (:math:`\rho < 0`). One row per pair,
    indexed ``"A − B"``: ``correlation over seeds``, ``sd paired (unit)`` (of the per-seed differences),
    ``sd unpaired (unit)`` (:math:`\sqrt{\sigma_A^2 + \sigma_B^2}`, what the differences of unpaired runs would
    spread) and ``noise removed (%)`` (:math:`1 -` their ratio, in percent; negative where pairing cost
    precision). With fewer than 3 seeds, or a side that does not vary, the correlation is NaN.

    Raises:
        KeyError, ValueError: as :func:`paired_table` (an unknown name; different seeds on the two sides).
    """
    table = paired_table(results, pairs)  # the same checks of names and seeds
    rows = {}
    for a, b in table[["A", "B"]].itertuples(index=False):
        xa, _ = _accuracies(results[a])
        xb, _ = _accuracies(results[b])
        n = len(xa)
        sd_a, sd_b = (float(np.std(x, ddof=1)) if n > 1 else math.nan for x in (xa, xb))
        rho = float(np.corrcoef(xa, xb)[0, 1]) if n >= 3 and sd_a > 0 and sd_b > 0 else math.nan
        paired_sd = float(np.std(xa - xb, ddof=1)) if n > 1 else math.nan
        unpaired_sd = math.hypot(sd_a, sd_b)
        rows[f"{a} − {b}"] = {"correlation over seeds": rho, f"sd paired ({unit})": paired_sd,
                              f"sd unpaired ({unit})": unpaired_sd,
                              "noise removed (%)": 100 * (1 - paired_sd / unpaired_sd) if unpaired_sd > 0
                              else math.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _pct(level: float) -> str:
    return f"{100 * level:.1f}".rstrip("0").rstrip(".") + " %"


def paired_display(paired: pd.DataFrame, *, min_effect: float | None = None, digits: int = 2, unit: str = "pp"):
    """A :func:`paired_table` as a page shows it, narrow enough for the book's column: the difference,
    its joint (Bonferroni-width) interval in one column ("+0.17 to +0.43"), Holm's p, the verdict and the
    detectable difference (the raw p and the number of seeds, the same in every row, are left to the prose).

    With ``min_effect`` the verdict column also says whether a significant difference reaches it; ``unit`` names
    the unit of the differences in the headers (default percentage points; e.g. ``"nats"`` for an NLL). p prints as
    the verdict sentence prints it ("< 0.001" below 0.001). A table of one comparison has nothing to correct:
    its columns are the plain 95 % interval and p.
    Returns a pandas ``Styler``.
    """
    need = {"A", "B", "n", "A − B (pp)", "CI low", "CI high", "p (Holm)", "significant", "detectable (pp)"}
    missing = need - set(paired.columns)
    if missing:
        raise ValueError(f"paired_display expects the table of compare.paired_table; missing columns {sorted(missing)}.")
    signed = lambda v: _signed(v, digits)  # never "-0.00"
    min_seeds = paired.attrs.get("min_seeds", MIN_SEEDS)
    conf = paired.attrs.get("confidence", 0.95)
    single = "k" in paired.columns and len(paired) and (paired["k"] == 1).all()  # one test: nothing to correct
    joint, p_col = ("", "p") if single else ("joint ", "p (Holm)")

    def word(r):
        if r["n"] < min_seeds:
            return f"too few seeds ({r['n']})"
        if not r["significant"]:
            if min_effect is not None and null_reading(r["CI low"], r["CI high"], r["detectable (pp)"],
                                                       min_effect) == "ruled out":
                return f"no, within ±{min_effect:g}"
            return "no"
        if min_effect is None:
            return "yes"
        return f"yes, ≥ {min_effect:g}" if abs(r["A − B (pp)"]) >= min_effect else f"yes, < {min_effect:g}"

    show = pd.DataFrame({
        "A": paired["A"], "B": paired["B"],
        f"A − B ({unit})": [signed(v) for v in paired["A − B (pp)"]],
        f"{joint}{_pct(conf)} interval ({unit})": [f"{signed(lo)} to {signed(hi)}"
                                                 for lo, hi in zip(paired["CI low"], paired["CI high"])],
        p_col: [_p_text(p).removeprefix("= ") for p in paired["p (Holm)"]],
        "significant": [word(r) for _, r in paired.iterrows()],
        f"detectable ({unit})": [f"{d:.{digits}f}" for d in paired["detectable (pp)"]]})
    return show.style.hide(axis="index").format(escape="html")  # "< 0.001" as text, not markup


def _signed(v: float, digits: int) -> str:
    """A signed difference that never prints as "+0.00" or "-0.00"."""
    return f"{v:+.{digits}f}" if round(v, digits) != 0 else f"{0:.{digits}f}"


#: How a non-significant comparison reads, by :func:`null_reading`'s answer.
NULL_PHRASES = {"ruled out": "a difference that matters is ruled out",
                "seen": "a difference that matters would probably have been seen, though the interval does not rule one out",
                "missed": "a difference that matters could have been missed"}


def null_reading(low: float, high: float, detectable: float, min_effect: float) -> str:
    """What a non-significant comparison says about a difference of at least ``min_effect``.

    * ``"ruled out"``: its interval ``[low, high]`` lies inside ``(-min_effect, +min_effect)``: every difference
      the data leave possible is smaller than one that matters (the interval test of equivalence; with a joint,
      Bonferroni-width interval it holds for the whole family at once).
    * ``"seen"``: the interval still reaches ``min_effect``, but the detectable difference (at the test's level,
      80 % power, from the observed spread) is below it: a difference that matters would probably have shown.
    * ``"missed"``: neither: the seeds could have missed a difference that matters.
    """
    m = _check_min_effect(min_effect)
    if not all(np.isfinite([low, high])):
        return "missed"
    if -m < low and high < m:
        return "ruled out"
    return "seen" if detectable < m else "missed"


def row_sentences(table: pd.DataFrame, *, min_effect: float, unit: str = "points", digits: int = 2) -> list[str]:
    """Each row of a :func:`paired_table` in words, as :func:`paired_display` reads it with the same ``min_effect``.

    A row gives its difference, joint interval and Holm p, then its reading: significant and at least (or below)
    the minimum effect; or, not significant, what :func:`null_reading` says of it: a difference that matters is
    ruled out (the interval lies within ±``min_effect``: the display's "no, within ±m"), would probably have
    been seen (the detectable difference is below it) or could have been missed. Each row has its own spread
    between seeds and so its own detectable difference; one number for the whole table would misstate some.

    Args:
        table: the output of :func:`paired_table`.
        min_effect: the smallest difference that matters, in ``unit``.
        unit: the unit of the differences, plural (``"points"``, ``"epochs"``); singular for a minimum of 1.
        digits: decimals of the numbers.

    Returns:
        One clause per row, e.g. ``"SELU against SiLU + BN, +0.2 epochs (joint interval -0.6 to +1.0, Holm p =
        0.610; not significant, and its joint interval lies within ±1 epoch, the minimum effect, so a difference
        that matters is ruled out)"``.
    """
    m = _check_min_effect(min_effect)
    min_seeds = int(table.attrs.get("min_seeds", MIN_SEEDS))
    least = f"{m:g} {unit[:-1] if m == 1 and unit.endswith('s') else unit}"   # "1 epoch", "0.5 points"
    out = []
    for _, r in table.iterrows():
        diff, lo, hi, det = r["A − B (pp)"], r["CI low"], r["CI high"], r["detectable (pp)"]
        if r["n"] < min_seeds:
            note = f"too few seeds ({int(r['n'])}) for a verdict"
        elif r["significant"]:
            note = ("significant and at least" if abs(diff) >= m else "significant but below") + \
                f" the minimum effect of {least}"
            inner = lo if diff > 0 else -hi   # the interval's end nearest zero, on the side of the difference
            crosses_zero = lo <= 0 <= hi
            if abs(diff) >= m and inner < m:  # the mean clears the minimum effect, its interval does not
                note += " on average only: its joint interval reaches below it" + (
                    ", and past zero (Holm's later steps are less strict)" if crosses_zero else "")
            elif crosses_zero:
                note += ", though its joint interval reaches zero: Holm's later steps are less strict"
        else:
            reading = null_reading(lo, hi, det, m)
            note = (f"not significant, and its joint interval lies within ±{least}, the minimum effect, so "
                    f"{NULL_PHRASES['ruled out']}" if reading == "ruled out" else
                    f"not significant; this row would have detected about {det:.{digits}f} {unit} or more, "
                    + (f"below the minimum effect of {least}, so {NULL_PHRASES['seen']}" if reading == "seen" else
                       f"above the minimum effect of {least}, so {NULL_PHRASES['missed']}"))
        p = r["p (Holm)"]
        p_text = "n/a" if not np.isfinite(p) else _p_text(p)
        out.append(f"{r['A']} against {r['B']}, {_signed(diff, digits)} {unit} (joint interval "
                   f"{_signed(lo, digits)} to {_signed(hi, digits)}, Holm p {p_text}; {note})")
    return out


def _check_min_effect(min_effect) -> float:
    if isinstance(min_effect, bool) or not isinstance(min_effect, (int, float)) or not min_effect > 0:
        raise ValueError(f"min_effect must be a positive number (the smallest difference, in the table's unit, "
                         f"that would matter for the question; state why on the page), got {min_effect!r}.")
    return float(min_effect)


def verdict(table: pd.DataFrame, *, what: str, min_effect: float, unit: str = "points",
            full: str | None = None, lower_is_better: bool = False, digits: int = 2) -> str:
    """The sentence a page glues about a family of paired comparisons, computed from :func:`paired_table`.

    * With fewer paired seeds than the table's ``min_seeds`` (:data:`MIN_SEEDS`) it calls nothing
      significant: it says the data cannot decide, and gives ``full``, what the book's ``full`` run found
      for the same comparison (:func:`recorded_verdict`), or says that no such run is recorded.
    * Otherwise it names every significant difference with its direction, size, joint (Bonferroni-width)
      interval and Holm p, and says whether it is *larger than the minimum effect* ``min_effect`` or
      *significant but below* it: significance says a difference is real, not that it matters.
    * When none is significant it names the largest difference and the detectable difference at Holm's
      level, estimated from the observed spread, and whether that is below the minimum effect (a difference
      that matters would probably have been seen) or above it (one could have been missed), so "not
      significant" is never read as "equal". Where every interval lies within ±``min_effect``
      (:func:`null_reading`), it says instead that a difference that matters is ruled out.
    * A family of one comparison has no correction to make: the sentence says so and gives the plain
      interval and p.

    Args:
        table: the output of :func:`paired_table` (one family of comparisons).
        what: what the family asks, for the too-few-seeds case (e.g. ``"the schedules beat the constant rate"``).
        min_effect: the smallest difference that would matter for the question, in ``unit`` (required: each
            page states and justifies its own).
        full: what the ``full`` run found, a clause (used only when this table has too few seeds).
        lower_is_better: the measure is a loss or an error (an NLL, a calibration error): a significant
            difference then names the side with the *lower* value as better ("A is better than B by 0.02 nats
            (lower is better)") instead of calling the higher one ahead.
        digits: decimals of the numbers in the sentence (3 for an NLL in nats, say).

    Returns:
        A clause without a final full stop, e.g. ``"after Holm's correction for 3 comparisons over 5 paired
        seeds, cosine is ahead of constant by 0.62 points, significant and larger than the minimum effect of
        0.50 points (joint 95 % interval 0.21 to 1.03, Holm p = 0.012); the other 2 differences are not
        significant"``.
    """
    k, n, m = _verdict_family(table, min_effect)
    conf = table.attrs.get("confidence", 0.95)
    min_seeds = int(table.attrs.get("min_seeds", MIN_SEEDS))
    lvl = f"{_pct(conf)} interval" if k == 1 else f"joint {_pct(conf)} interval"
    big = table.iloc[int(np.nanargmax(np.abs(table["A − B (pp)"].to_numpy())))] if n > 0 else table.iloc[0]
    if n < min_seeds:
        seeds = "one seed" if n == 1 else f"{n} paired seeds"
        here = "" if n < 2 else (f"; the {'largest ' if k > 1 else ''}difference here, {big['A']} − {big['B']}, is "
                                 f"{big['A − B (pp)']:+.{digits}f} {unit}")
        found = (f"; the recorded `full` run found: {full}" if full else
                 "; no `full` run of this comparison is recorded")
        return f"{seeds} cannot decide whether {what} (a verdict needs at least {min_seeds}{here})" + found
    head = (f"over {n} paired seeds (one comparison, so no correction for multiple tests), " if k == 1 else
            f"after Holm's correction for {k} comparisons over {n} paired seeds, ")
    sig = table[table["significant"]]
    if len(sig):
        parts = [_significant_clause(r, m=m, unit=unit, lvl=lvl, holm_p="p" if k == 1 else "Holm p",
                                     lower_is_better=lower_is_better, digits=digits) for _, r in sig.iterrows()]
        rest = k - len(sig)
        tail = "" if rest == 0 else ("; the other difference is not significant" if rest == 1 else
                                     f"; the other {rest} differences are not significant")
        return head + "; ".join(parts) + tail
    return head + _null_clause(table, big, k=k, m=m, conf=conf, lvl=lvl, unit=unit, digits=digits)


def _verdict_family(table, min_effect) -> tuple[int, int, float]:
    """Check that ``table`` is one family of :func:`paired_table`; its size k, its fewest paired seeds n, and m."""
    need = {"A", "B", "n", "k", "A − B (pp)", "CI low", "CI high", "p (Holm)", "significant", "detectable (pp)"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise TypeError("verdict needs the DataFrame of compare.paired_table(...); "
                        f"got {type(table).__name__} without the columns {sorted(need - set(getattr(table, 'columns', [])))}.")
    if len(table) == 0:
        raise ValueError("verdict: the table has no comparisons.")
    m = _check_min_effect(min_effect)
    if table["k"].nunique() != 1:
        raise ValueError("verdict: the table holds several Holm families (different k); give one family at a time.")
    return int(table["k"].iloc[0]), int(table["n"].min()), m


def _significant_clause(r, *, m: float, unit: str, lvl: str, holm_p: str, lower_is_better: bool, digits: int) -> str:
    """One significant difference: who is ahead, by how much, its size against the minimum effect ``m`` (the
    interval's side of m, not only the mean's), the interval of the winner's advantage and the p-value."""
    diff, lo, hi, ph = r["A − B (pp)"], r["CI low"], r["CI high"], r["p (Holm)"]
    a, b = (r["A"], r["B"]) if (diff > 0) != lower_is_better else (r["B"], r["A"])
    lo_, hi_ = (lo, hi) if diff > 0 else (-hi, -lo)  # the winner's advantage, |A − B|
    size = (f"significant and larger than the minimum effect of {m:.{digits}f} {unit}" if abs(diff) >= m else
            f"significant but below the minimum effect of {m:.{digits}f} {unit}")
    # the mean's side of the minimum effect is not the interval's: say when the interval crosses it
    if abs(diff) >= m and lo_ < m:
        size += " on average only: its interval reaches below it"
    elif abs(diff) < m and hi_ >= m:
        size += " on average, though its interval reaches it"
    reach = "" if lo_ > 0 or not np.isfinite(lo_) else ", an interval that includes zero: Holm's later steps are less strict"
    of = " of the advantage" if lower_is_better else ""
    head_to_head = (f"{a} is better than {b} by {abs(diff):.{digits}f} {unit} (lower is better)"
                    if lower_is_better else f"{a} is ahead of {b} by {abs(diff):.{digits}f} {unit}")
    return (f"{head_to_head}, {size} ({lvl}{of} {_signed(lo_, digits)} to {_signed(hi_, digits)}, "
            f"{holm_p} {_p_text(ph)}{reach})")


def _null_clause(table, big, *, k: int, m: float, conf: float, lvl: str, unit: str, digits: int) -> str:
    """No significant difference: the largest one with its interval, then what the null means — ruled out (every
    interval within ±m), or the detectable size at Holm's level against m (would have been seen / could be missed)."""
    det = float(np.nanmax(table["detectable (pp)"].to_numpy()))
    none = "the difference is not significant" if k == 1 else f"none of the {k} differences is significant"
    lo, hi = float(big["CI low"]), float(big["CI high"])
    where = f"at Holm's level {_pct((1 - conf) / k)}" if k > 1 else f"at the {_pct(1 - conf)} level"
    name = "" if k == 1 else "largest: "
    said = (f"{none} ({name}{big['A']} − {big['B']} = {_signed(big['A − B (pp)'], digits)} {unit}, "
            f"{lvl} {_signed(lo, digits)} to {_signed(hi, digits)})")
    readings = [null_reading(r["CI low"], r["CI high"], r["detectable (pp)"], m) for _, r in table.iterrows()]
    if len(readings) == k and all(x == "ruled out" for x in readings):  # an older record may hold only the largest
        every = f"the {lvl}" if k == 1 else f"every {lvl}"
        return (said + f"; {every} lies within ±{m:.{digits}f} {unit}, the minimum effect, so "
                f"{NULL_PHRASES['ruled out']}")
    judge = (f"below the minimum effect of {m:.{digits}f} {unit}, so {NULL_PHRASES['seen']}" if det < m else
             f"above the minimum effect of {m:.{digits}f} {unit}, so {NULL_PHRASES['missed']}")
    return (said + f"; differences of about {det:.{digits}f} {unit} or more would have been "
            f"detected reliably {where} (estimated from the observed spread between seeds), {judge}")


# ----------------------------------------------------------------------------- the recorded `full` run
def family_record(table: pd.DataFrame) -> str:
    """One line of JSON with a :func:`paired_table` family's per-seed differences, for a page to glue beside
    its verdict: the exported budget record then holds what :func:`recorded_family` needs to re-test it."""
    import json

    if not isinstance(table, pd.DataFrame) or "differences (pp)" not in table.columns:
        raise TypeError("family_record needs the DataFrame of compare.paired_table(...).")
    return json.dumps({"confidence": table.attrs.get("confidence", 0.95),
                       "pairs": [[r["A"], r["B"], [round(x, 4) for x in r["differences (pp)"]]]
                                 for _, r in table.iterrows()]}, ensure_ascii=False, separators=(",", ":"))


_NUM = r"[+-]?\d+(?:\.\d+)?"
_OLD_HEAD = re.compile(r"^after Holm's correction for (\d+) comparisons? over (\d+) paired seeds, (.*)$", re.S)
_OLD_SIG = re.compile(rf"^(.+?) is ahead of (.+?) by ({_NUM}) \w+ \(95 % interval of the paired difference "
                      rf"({_NUM}) to ({_NUM}), Holm p (?:= ({_NUM})|(< 0\.001))\)$")
_OLD_NONE = re.compile(rf"^(?:none of the \d+ differences is|the difference is not) significant \(largest: (.+?) − (.+) = "
                       rf"({_NUM}) \w+, (?:uncorrected )?interval ({_NUM}) to ({_NUM})(?:, which excludes zero only "
                       rf"before the correction)?\); with this spread between seeds only differences of about "
                       rf"({_NUM}) \w+ or more would have been detected reliably$")


def _from_old_sentence(text: str, confidence: float, power: float) -> pd.DataFrame:
    """The rows an older verdict sentence states (k, n, each named difference with its 95 % interval), turned
    into paired_table's columns: the spread of each from its interval, the joint interval and detectable
    difference recomputed at Holm's level. Pairs it only counted as not significant get no row."""
    from scipy import stats as st

    h = _OLD_HEAD.match(text.strip())
    if not h:
        raise ValueError(f"not a verdict sentence of compare.verdict: {text[:80]!r}")
    k, n, body = int(h.group(1)), int(h.group(2)), h.group(3)
    alpha = 1 - confidence
    t95 = float(st.t.ppf(0.975, n - 1))
    rows = []

    def row(a, b, d, lo, hi, p, sig, sd=None):
        sd = (hi - lo) / 2 / t95 * math.sqrt(n) if sd is None else sd
        half = float(st.t.ppf(1 - alpha / (2 * k), n - 1)) * sd / math.sqrt(n)
        return {"A": a, "B": b, "n": n, "k": k, "A − B (pp)": d, "sd (pp)": sd, "level": 1 - alpha / k,
                "CI low": d - half, "CI high": d + half, "p (paired t)": math.nan, "p (sign-flip)": math.nan,
                "p (Holm)": p, "significant": sig, "detectable (pp)": detectable_difference(sd, n, alpha / k, power),
                "differences (pp)": ()}

    none = _OLD_NONE.match(body)
    if none:
        a, b = none.group(1), none.group(2)
        d, lo, hi, det = (float(none.group(i)) for i in (3, 4, 5, 6))
        r = row(a, b, d, lo, hi, math.nan, False)
        # the old detectable was (t_0.975 + t_power) * sd_max / sqrt(n): recover the largest spread of the family
        sd_max = det * math.sqrt(n) / (t95 + float(st.t.ppf(power, n - 1)))
        r["detectable (pp)"] = detectable_difference(sd_max, n, alpha / k, power)
        rows.append(r)
    else:
        for part in body.split("; "):
            s = _OLD_SIG.match(part)
            if s:
                a, b = s.group(1), s.group(2)
                d, lo, hi = (float(s.group(i)) for i in (3, 4, 5))
                p = 0.0005 if s.group(7) else float(s.group(6))
                rows.append(row(a, b, d, lo, hi, p, n >= MIN_SEEDS and p < alpha))
            elif not re.match(r"^the other (?:\d+ )?differences? (?:is|are) not significant$", part):
                raise ValueError(f"cannot read this part of a recorded verdict: {part!r}")
    table = pd.DataFrame(rows, columns=_COLS)
    table.attrs.update(confidence=confidence, power=power, min_seeds=MIN_SEEDS, partial=True)
    return table


def recorded_family(chapter: str, name: str, *, record: dict | None = None, confidence: float = 0.95,
                    power: float = 0.8) -> pd.DataFrame | None:
    """A family of paired comparisons as the book's recorded ``full`` run holds it, in :func:`paired_table`'s
    columns; None when the record does not hold it.

    Reads ``name + "_seeds"`` (:func:`family_record`: per-seed differences, re-tested exactly) when the record
    has it; else the verdict sentence glued under ``name`` by an older edition, which states each
    significant pair's mean and 95 % interval, the largest difference of a family with none, and counts the
    rest: the spread of each named pair is recovered from its interval, and the joint interval and the
    detectable difference recomputed at Holm's level (``attrs["partial"]`` is then True, and pairs the
    sentence only counted have no row).
    """
    import json

    from . import provenance

    if record is None:
        try:
            record = provenance.recorded_budget_run("full")
        except FileNotFoundError:
            return None
    try:
        raw = provenance.recorded_value(record, chapter, name + "_seeds")
    except KeyError:
        raw = None
    if raw is not None:
        data = json.loads(raw)
        return _family_table([(a, b, np.array(d, dtype=float)) for a, b, d in data["pairs"]],
                             data.get("confidence", confidence), power, MIN_SEEDS)
    try:
        text = provenance.recorded_value(record, chapter, name)
    except KeyError:
        return None
    return _from_old_sentence(str(text), confidence, power)


def recorded_verdict(chapter: str, name: str, *, what: str, min_effect: float, unit: str = "points",
                     record: dict | None = None, lower_is_better: bool = False, digits: int = 2) -> str | None:
    """:func:`verdict` for the same family in the recorded ``full`` run (:func:`recorded_family`), with this
    edition's rules (minimum effect, joint interval, detectable difference at Holm's level), prefixed with
    its size; None when the record does not hold the family."""
    table = recorded_family(chapter, name, record=record)
    if table is None:
        return None
    return verdict(table, what=what, min_effect=min_effect, unit=unit, lower_is_better=lower_is_better, digits=digits)
