"""Exercises 07 — capstone, the answers: the textbook's questions read from the learner's own runs.

Each question of :data:`CAPSTONE_QUESTIONS` is one row of a paired table of the runs
(:func:`course_utils.compare.paired_table`: test accuracy, or epochs to the common bar) or the step times.
:func:`check_capstone_answers` grades the learner's written answers against those rows — "yes" or "no" only
for a difference that is significant after Holm's correction, "not significant" otherwise — and, once they
are right, sets the predictions the learner wrote before the runs beside what the runs measured.
"""
from __future__ import annotations

import difflib
import math
import numbers
import re
from typing import Mapping

from ._core import CheckResult, FAIL, PASS, TODO, _as_number, _describe, _report
from ._core import _graded


#: The questions of the capstone.  Each is read from one row ``A − B`` of a paired table
#: (:func:`course_utils.compare.paired_table`) — ``"accuracy"`` (test accuracy) or ``"speed"`` (epochs to the
#: common bar) — with the direction that means "yes" (+1: A higher; −1: A lower), or, for ``bn_step_cost``,
#: from the step times.  key -> (table, A, B, direction, the question)
CAPSTONE_QUESTIONS = {
    "bn_fewer_epochs": ("speed", "SiLU + BN", "SiLU", -1,
                        "does batch norm reach the common accuracy in fewer epochs?"),
    "bn_better": ("accuracy", "SiLU + BN", "SiLU", 1, "does batch norm give a better model?"),
    "bn_step_cost": ("steps", "SiLU + BN", "SiLU", None, "how many % more time does a batch-norm step take?"),
    "selu_fewer_epochs": ("speed", "SELU", "SiLU + BN", -1,
                          "does SELU reach the common accuracy in fewer epochs than batch norm?"),
    "selu_better": ("accuracy", "SELU", "SiLU + BN", 1, "does SELU give a better model than batch norm?"),
    "mc_better": ("accuracy", "MC dropout", "alpha dropout", 1,
                  "does MC dropout predict better than the same weights predicting once?"),
    "onecycle_fewer_epochs": ("speed", "1cycle", "SiLU + BN", -1,
                              "does 1cycle reach the common accuracy in fewer epochs?"),
    "onecycle_better": ("accuracy", "1cycle", "SiLU + BN", 1, "does 1cycle give a better model?"),
}
YES, NO, NOT_SIGNIFICANT = "yes", "no", "not significant"
_NS_WORDS = ("not significant", "not significantly", "no significant", "non significant", "nonsignificant",
             "insignificant", "n.s", "ns", "not sig", "undecided", "inconclusive", "can't tell", "cannot tell",
             "cant tell", "can not tell", "unclear", "not clear", "no evidence")
_EQUAL_WORDS = ("same", "the same", "equal", "no difference", "neither", "tie", "similar", "about the same",
                "identical", "equivalent", "no change")
#: how far an answer of the step cost may be from the measured one (points of %): step times print with
#: two decimals, and the check allows for reading them off the printed values
_STEP_TOL = 5.0


def _words(x) -> tuple[str | None, str | None]:
    """``(one of YES, NO, NOT_SIGNIFICANT, None)`` or ``(None, why)`` for an answer written by a learner."""
    if x is True:
        return YES, None
    if x is False:
        return None, ("False could mean 'no' (the opposite is significant) or 'not significant': write one of "
                      "the words.")
    if not isinstance(x, str):
        return None, f"expected 'yes', 'no' or 'not significant', got {_describe(x)}."
    t = " ".join(x.strip().lower().replace("’", "'").split())
    t = re.sub(r"^[\s\"'(\[]+|[\s\"'.!)\]]+$", "", t)
    # one spelling of every phrase: "not_significant" (an identifier) and "not-significant" read as the words
    t = " ".join(re.sub(r"[_\-]+", " ", t).split())
    for w in _NS_WORDS:
        if t == w or re.match(re.escape(w) + r"\b", t):
            return NOT_SIGNIFICANT, None
    for w in _EQUAL_WORDS:
        if t == w or re.match(re.escape(w) + r"\b", t):
            return None, (f"'{x.strip()}' says the two are equal, which a paired test cannot show: a difference that "
                          "is not significant is one the test cannot tell from noise. Write 'yes', 'no' or "
                          "'not significant'.")
    first = re.split(r"[\s,;:.()!-]+", t)[0] if t else ""
    if first in ("yes", "y"):
        return YES, None
    if first in ("no", "n"):
        return NO, None
    return None, f"expected 'yes', 'no' or 'not significant', got {_describe(x)}."


def _find_row(table, a: str, b: str):
    """``(row, sign)``: the row A − B of a paired table, or B − A with sign −1; ``(None, 0)`` if neither."""
    for x, y, sign in ((a, b, 1), (b, a, -1)):
        rows = table[(table["A"] == x) & (table["B"] == y)]
        if len(rows):
            return rows.iloc[0], sign
    return None, 0


_TABLE_COLUMNS = {"A", "B", "n", "A − B (pp)", "significant"}


def _table_problem(table, what: str, keys) -> str | None:
    """Why ``table`` cannot be the ``what`` table of the comparison (None when it can)."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame) or not _TABLE_COLUMNS <= set(table.columns):
        return (f"expected the {what} table of compare.paired_table(...), got {_describe(table)}"
                + (" (a table shown with paired_display: pass the paired_table itself)."
                   if hasattr(table, "data") and hasattr(table, "set_caption") else "."))
    for key in keys:
        _, a, b, _, _ = CAPSTONE_QUESTIONS[key]
        if _find_row(table, a, b)[0] is None:
            return (f"the {what} table has no row {a} − {b} (did you swap the tables, or change the pairs of the "
                    "comparison cell?).")
    return None


def _outcome(table, key: str) -> str:
    """What the runs say to question ``key``: YES, NO or NOT_SIGNIFICANT (too few seeds are never significant)."""
    _, a, b, direction, _ = CAPSTONE_QUESTIONS[key]
    row, sign = _find_row(table, a, b)
    if not bool(row["significant"]):
        return NOT_SIGNIFICANT
    return YES if sign * float(row["A − B (pp)"]) * direction > 0 else NO


def _step_cost(speeds) -> float | None:
    if _speeds_problem(speeds) or any(speeds[k] is None for k in ("SiLU", "SiLU + BN")):
        return None
    return 100.0 * (_real(speeds["SiLU + BN"]) / _real(speeds["SiLU"]) - 1.0)


def _speeds_problem(speeds) -> tuple[str, str] | None:
    """``(what is wrong, what to do)`` when ``speeds`` are not step times step_times could have measured: not a
    dict, an entry the questions need missing, or an entry (any one that is not None) that is no finite
    positive number of seconds (a NaN or a negative time would make every step cost look right or wrong)."""
    redo = ("pass `speeds` as the step-times cell printed it: each value a number of seconds per step, > 0 (run "
            "that cell again rather than typing the times).")
    if not isinstance(speeds, Mapping):
        return f"expected the step times of step_times(...), got {_describe(speeds)}.", redo
    missing = [k for k in ("SiLU", "SiLU + BN") if k not in speeds]
    if missing:
        have = ", ".join(repr(k) for k in list(speeds)[:5]) or "none"
        return (f"the step times have no entry {' or '.join(repr(k) for k in missing)} (its entries: {have}).",
                "pass the dict of step_times for the notebook's builders, whose names are kept as they are.")
    for key in ["SiLU", "SiLU + BN"] + [k for k in speeds if k not in ("SiLU", "SiLU + BN")]:
        value = speeds[key]
        if value is None:
            continue
        v, why = _as_number(value)
        if why is not None:
            v = _real(value)
            if v is None:
                return f"the step time of {key!r} is {_describe(value)}, not a number of seconds.", redo
        if not math.isfinite(v):
            return f"the step time of {key!r} is {v}, not a measured time.", redo
        if v <= 0:
            return (f"the step time of {key!r} is {v:g}: a step takes some time, so a measured time is > 0.",
                    redo)
    return None


def _real(value) -> float | None:
    """A real number, finite or not, in a Python, NumPy or one-element torch value; None for anything else."""
    if hasattr(value, "numel") and hasattr(value, "item") and value.numel() == 1:
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "size", None) == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def capstone_outcomes(accuracy, speed, speeds: Mapping[str, float]) -> dict:
    """What the runs answer to each of :data:`CAPSTONE_QUESTIONS`: YES, NO or NOT_SIGNIFICANT, read from the
    paired tables ``accuracy`` and ``speed`` (a significant difference in the asked direction is YES, in the
    other NO), and ``bn_step_cost`` in % from the step times ``speeds``.

    Raises:
        ValueError: a table lacks a row a question needs, or the step times are missing.
    """
    tables = {"accuracy": accuracy, "speed": speed}
    out = {}
    for key, (which, *_rest) in CAPSTONE_QUESTIONS.items():
        if which == "steps":
            out[key] = _step_cost(speeds)
            if out[key] is None:
                raise ValueError("capstone_outcomes needs the step times of 'SiLU + BN' and 'SiLU'.")
            continue
        bad = _table_problem(tables[which], which, [key])
        if bad:
            raise ValueError(bad)
        out[key] = _outcome(tables[which], key)
    return out


def _read_answers(answers, what: str):
    """``({key: parsed}, problems)`` for a dict of answers (or predictions); problems are report lines."""
    if not isinstance(answers, Mapping):
        return None, [f"expected a dict of {what} (the cell's `dict(bn_fewer_epochs=..., ...)`), got "
                      f"{_describe(answers)}."]
    parsed, problems = {}, []
    for key, value in answers.items():
        if key not in CAPSTONE_QUESTIONS:
            # the nearest question names by similarity of the whole key (a typo, 'bn_beter', is told
            # 'bn_better', not the first question that starts with 'bn_')
            close = difflib.get_close_matches(str(key), list(CAPSTONE_QUESTIONS), n=1, cutoff=0.6) or [
                k for k in CAPSTONE_QUESTIONS if k.split("_")[0] == str(key).split("_")[0]][:1]
            problems.append(f"there is no question {key!r}" + (f" (did you mean {close[0]!r}?)" if close else
                                                                 f"; the questions are {', '.join(CAPSTONE_QUESTIONS)}")
                            + ".")
            continue
        if value is None or value is ...:
            parsed[key] = None
        elif CAPSTONE_QUESTIONS[key][0] == "steps":
            v, why = _as_number(value)
            if why:
                problems.append(f"{key}: {why}")
            else:
                parsed[key] = v
        else:
            word, why = _words(value)
            if why:
                problems.append(f"{key}: {why}")
            else:
                parsed[key] = word
    return parsed, problems


def _answer_hint(key: str, given: str) -> str:
    """What the written answer claims about its row, to check again: it depends on the answer given and the
    row only, never on what the runs say (with three possible answers, a hint that changed with the right
    one would give it away)."""
    table, a, b, direction, _ = CAPSTONE_QUESTIONS[key]
    where = f"the row {a} − {b} of the {table} table"
    # in the words of the displayed table (paired_display): its 'significant' column reads "yes", "yes, < 0.5",
    # "no" or "no, within ±0.5" (True/False in the table itself)
    if given == NOT_SIGNIFICANT:
        return (f"'not significant' claims that {where} reads 'no' in its 'significant' column (False in the "
                "table itself): read it again. A 'yes, < 0.5' there is still significant, only smaller than the "
                "minimum effect: such a row is answered 'yes' or 'no' by the sign of A − B.")
    sign = "negative" if direction == -1 else "positive"
    meaning = ("fewer epochs" if direction == -1 else "a higher accuracy") if given == YES else \
        ("more epochs" if direction == -1 else "a lower accuracy")
    if given == NO:
        sign = "positive" if sign == "negative" else "negative"
    return (f"'{given}' claims two things of {where}: 'yes' in its 'significant' column (True in the table "
            f"itself), and a {sign} A − B ({meaning} for {a}). Check both."
            + (" A 'no' in that column means not significant, answered 'not significant'; the answer 'no' means "
               "significant the other way." if given == NO else ""))


def _step_hint(value: float, measured: float) -> str:
    ratio = 1 + measured / 100
    eg = 50 if abs(measured - 50) > 15 else 10  # (an example far from the answer, which it must not give)
    if abs(value - ratio) < 0.05 * ratio or abs(value - measured / 100) < 0.05 * max(abs(measured) / 100, 0.01):
        return (f"give it in percent of a SiLU step: how many % more ({eg} for a step that takes {1 + eg / 100:g} "
                "times as long).")
    if abs(value - 100 * ratio) < 0.05 * 100 * ratio:
        return ("that looks like the batch-norm step as a percentage of the SiLU step; the question asks how many "
                f"% *more* time it takes ({eg} for a step that takes {100 + eg} % of the other).")
    return "compare the two step times printed by step_times: how many % longer is the batch-norm one?"


@_graded('check_capstone_answers(answers, accuracy, speed, speeds, predictions=predictions)',
         name="capstone answers")
def check_capstone_answers(answers, accuracy, speed, speeds, *, predictions=None,
                           verbose: bool = True) -> CheckResult:
    """Grade the capstone's written answers against the learner's own runs, then compare the predictions.

    ``answers`` maps each key of :data:`CAPSTONE_QUESTIONS` to ``"yes"``, ``"no"`` or ``"not significant"``
    (``bn_step_cost``: a number, % more time per step), read from the paired tables ``accuracy`` and ``speed``
    (:func:`course_utils.compare.paired_table`) and the step times ``speeds`` (:func:`step_times`).  An
    answer is right when it says what the table says: YES for a difference significant after Holm's
    correction in the asked direction, NO for one in the other, NOT_SIGNIFICANT otherwise (with fewer
    than five paired seeds nothing is significant).  A wrong answer gets the row to read again, never the
    answer (the hint depends only on the answer given).  Once every answer is right, ``predictions`` (the same keys, written before the runs) are
    compared with what the runs measured.
    """
    name = "capstone answers"
    parsed, problems = _read_answers(answers, "answers")
    if parsed is None:
        return _report(name, FAIL, problems[0], hint="fill in the `answers = dict(...)` cell above and pass it.",
                       verbose=verbose)
    if not problems and all(v is None for v in parsed.values()):
        return _report(name, TODO, "not yet — fill in `answers` (one value per question) and run the cell again.",
                       verbose=verbose)
    keys = [k for k in CAPSTONE_QUESTIONS if CAPSTONE_QUESTIONS[k][0] != "steps"]
    for table, what in ((accuracy, "accuracy"), (speed, "speed")):
        bad = _table_problem(table, what, [k for k in keys if CAPSTONE_QUESTIONS[k][0] == what])
        if bad:
            todo = table is None
            return _report(name, TODO if todo else FAIL, "not yet — the comparison tables are still None: train the "
                           "five configurations first." if todo else bad,
                           hint=None if todo else "pass `answers, accuracy, speed, speeds` as in the notebook's "
                                                  "call: the two tables of the comparison cell, then the step times.",
                           verbose=verbose)
    measured_cost = _step_cost(speeds)
    if measured_cost is None and isinstance(speeds, Mapping) and {"SiLU", "SiLU + BN"} <= set(speeds) and \
            any(speeds[k] is None for k in ("SiLU", "SiLU + BN")):
        none = [k for k in ("SiLU", "SiLU + BN") if speeds[k] is None]
        return _report(name, TODO, f"not yet — the step time{'s' if len(none) > 1 else ''} of "
                       f"{' and '.join(repr(k) for k in none)} {'are' if len(none) > 1 else 'is'} None: step_times "
                       "measured nothing there (the builder was still the stub when the step-times cell ran, or "
                       "step_times reported a problem with it).",
                       hint="finish the builders, run the step-times cell again, then this one.", verbose=verbose)
    if measured_cost is None:
        what, hint = _speeds_problem(speeds) or (f"expected the step times of step_times(...), got "
                                                 f"{_describe(speeds)}.", "")
        return _report(name, FAIL, what, hint=hint, verbose=verbose)
    if problems:
        return _report(name, FAIL, "some answers cannot be read.", details=problems[:4],
                       hint="each answer is 'yes', 'no' or 'not significant' (bn_step_cost: a number).",
                       verbose=verbose)
    missing = [k for k in CAPSTONE_QUESTIONS if parsed.get(k) is None]
    if missing:
        return _report(name, FAIL, f"{len(missing)} question{'s are' if len(missing) > 1 else ' is'} still "
                       f"unanswered: {', '.join(missing)}.", hint="answer every question of the list.",
                       verbose=verbose)
    truth = capstone_outcomes(accuracy, speed, speeds)
    wrong = []
    for key in CAPSTONE_QUESTIONS:
        given, right = parsed[key], truth[key]
        if key == "bn_step_cost":
            if abs(given - right) > _STEP_TOL:
                wrong.append(f"{key}: {given:g} % is not what your step times show — {_step_hint(given, right)}")
        elif given != right:
            wrong.append(f"{key}: '{given}' is not what your runs show — {_answer_hint(key, given)}")
    if wrong:
        return _report(name, FAIL, f"{len(wrong)} of {len(CAPSTONE_QUESTIONS)} answers disagree with your runs.",
                       details=wrong, hint="the tables under 'The comparison' hold every answer: one row per "
                       "question.", verbose=verbose)
    n = int(min(accuracy["n"].min(), speed["n"].min()))
    few = [] if n >= int(accuracy.attrs.get("min_seeds", 5)) else [
        f"with {n} paired seeds nothing can be significant: train more seeds to let the runs decide."]
    return _report(name, PASS, f"every answer agrees with your runs ({n} paired seeds, Holm's correction within "
                   "each table).", details=few + _prediction_lines(predictions, truth), verbose=verbose)


def _prediction_lines(predictions, truth: dict) -> list[str]:
    """The predictions made before the runs, each against what the runs measured (shown after right answers)."""
    if predictions is None:
        return []
    parsed, problems = _read_answers(predictions, "predictions")
    if parsed is None or problems:
        return [f"your predictions could not be read: {(problems or ['not a dict'])[0]}"]
    made = {k: v for k, v in parsed.items() if v is not None}
    if not made:
        return ["you made no predictions before the runs: next time, write them down first."]
    lines, agree = [], 0
    for key, guess in made.items():
        got = truth[key]
        if key == "bn_step_cost":
            ok = abs(guess - got) <= max(_STEP_TOL, 0.25 * abs(got))
            ratio = 1 + got / 100
            fraction = not ok and (abs(guess - got / 100) < 0.05 * max(abs(got) / 100, 0.01)
                                   or abs(guess - ratio) < 0.05 * ratio or (0 < abs(guess) < 2 <= abs(got)))
            lines.append(f"{'✓' if ok else '✗'} {key}: you predicted {_pct(guess)} %, the runs measured "
                         f"{_pct(got)} %" + (" (your number looks like a fraction or a ratio: the prediction is "
                                             "in percent, so 0.3 means 0.3 %, not 30 %)" if fraction else ""))
        else:
            ok = guess == got
            lines.append(f"{'✓' if ok else '✗'} {key}: you predicted '{guess}', the runs say '{got}'")
        agree += ok
    return [f"your predictions: {agree} of {len(made)} agree with the runs."] + lines


def _pct(v: float) -> str:
    """A percentage with its sign, whole above 10 and with the digits that make it non-zero below (0.3, not 0)."""
    return f"{v:+.0f}" if abs(v) >= 10 or v == int(v) else f"{v:+.2g}"
