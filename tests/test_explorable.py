"""course_utils.explorable: the control spec, the precomputed grid, the embedded data and the messages.

The browser half (the script redraws when a control moves) is tests/test_explorables_browser.py.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from course_utils import explorable as X


def _spec(**kw):
    return X.Explorable(
        [X.Menu("act", ["tanh", "relu"], label="activation"),
         X.Slider("gain", [0.5, 1.0, 2.0], default=1.0),
         X.Slider("k", [1, 2, 3], when={"act": ["relu"]})],
        [X.Panel("variance", xlabel="layer", ylabel="variance", yscale="log", floor=1e-30, ceil=1e30,
                 xname="layer", series=[X.Series("v", "measured"), X.Series("t", "theory", dash="5 3")]),
         X.Panel("gradient", yscale="log", floor=1e-30, xname="layer", flow="backward",
                 series=[X.Series("g", "gradient")])], **kw)


def _compute(act, gain, k=1):
    layers = np.arange(1, 41)
    v = (gain ** 2) ** layers * k * (1.0 if act == "tanh" else 0.5)
    g = np.full(40, 1.0) * gain ** (40 - layers)
    return X.Point({"v": v, "t": v * 1.01, "g": g}, note=f"{act} at gain {gain}")


@pytest.fixture(scope="module")
def spec():
    return _spec()


@pytest.fixture(scope="module")
def data(spec):
    return spec.precompute(_compute)


# ----------------------------------------------------------------------------- the grid
def test_grid_skips_controls_that_are_not_used(spec):
    grid = spec.grid()
    assert len(grid) == 3 + 3 * 3  # tanh: 3 gains, k not used; relu: 3 gains x 3 k
    assert {"act": "tanh", "gain": 0.5} in grid and {"act": "relu", "gain": 2.0, "k": 3} in grid
    assert spec.key(act="tanh", gain=0.5) == "0|0|-"
    assert spec.key(act="tanh", gain=0.5, k=3) == "0|0|-"  # an unused control is ignored
    assert spec.key(act="relu", gain=2.0, k=2) == "1|2|1"


def test_key_rejects_values_that_were_not_precomputed(spec):
    with pytest.raises(ValueError, match=r"gain=0\.7 is not one of the precomputed values"):
        spec.key(act="tanh", gain=0.7)
    with pytest.raises(ValueError, match="no value for control 'k'"):
        spec.key(act="relu", gain=1.0)


# ----------------------------------------------------------------------------- the JSON equals the grid
def test_json_holds_every_setting_rounded_to_the_digits(spec, data):
    blob = json.loads(spec.data_json(data))
    assert set(blob["points"]) == {spec.key(**v) for v in spec.grid()}
    assert data["n"] == len(spec.grid())
    for values in spec.grid():
        want = _compute(**values).series
        got = spec.point(data, **values)
        for name in ("v", "t", "g"):
            x, y = got[name]
            assert x == pytest.approx(list(range(1, 41)))
            np.testing.assert_allclose(np.array(y, float), want[name], rtol=10 ** (1 - spec.digits))
        assert got["note"] == f"{values['act']} at gain {values['gain']}"
    # the controls and the panels travel with the data, as the script reads them
    assert [c["name"] for c in blob["controls"]] == ["act", "gain", "k"]
    assert blob["controls"][1]["default"] == 1 and blob["controls"][2]["when"] == {"act": ["relu"]}
    assert blob["panels"][1]["flow"] == "backward"


def test_encode_decode_round_trip_runs_and_explicit_x():
    y = [0.1] * 30 + [0.05] * 30
    enc = X.encode_series(y)
    assert isinstance(enc, dict) and enc["r"] == [0.1, 30, 0.05, 30]  # run-length: 4 numbers for 60
    assert X.decode_series(enc, 0, 0.5) == ([0.5 * i for i in range(60)], y)
    enc = X.encode_series([1.0, float("nan"), float("inf"), 1.23456789], x=[0, 1, 2, 3], digits=3)
    assert enc == {"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, None, None, 1.23]}
    with pytest.raises(ValueError, match="one x per y"):
        X.encode_series([1, 2], x=[0])
    with pytest.raises(ValueError, match="one-dimensional"):
        X.encode_series([[1, 2], [3, 4]])


# ----------------------------------------------------------------------------- size
def test_data_size_is_measured_and_limited(spec, data):
    blob = spec.data_json(data)
    assert spec.data_kb(data) == pytest.approx(len(blob.encode()) / 1024)
    page = spec.html(data)
    assert f"{spec.data_kb(data):.0f} KB of embedded data" in page and "12 precomputed settings" in page
    with pytest.raises(ValueError, match=r"above the limit of 0 KB: use fewer slider values"):
        spec.html(data, max_kb=0.001)


def test_html_is_self_contained(spec, data):
    page = spec.html(data)
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing from a network
    assert page.count("<script") == 2 and "src=" not in page
    # a label with "</script>" cannot end the data block early
    nasty = X.Explorable([X.Menu("m", ["a"], texts=["</script><b>x"])],
                         [X.Panel("p", series=[X.Series("y", "y")])])
    d = nasty.precompute(lambda m: {"y": [1, 2]})
    assert "</script><b>" not in nasty.html(d)


def test_html_rejects_data_of_another_spec(spec, data):
    other = X.Explorable([X.Menu("act", ["tanh", "relu", "gelu"])], [X.Panel("p", series=[X.Series("v", "v")])])
    with pytest.raises(ValueError, match="computed for other controls: run precompute again"):
        other.html(data)
    with pytest.raises(ValueError, match="dict returned by Explorable.precompute"):
        spec.html({"nope": 1})


# ----------------------------------------------------------------------------- extremes
def test_messages_for_values_a_figure_cannot_draw(spec, data):
    assert spec.messages(data, act="tanh", gain=1.0) == []
    small = spec.messages(data, act="tanh", gain=0.5)  # 0.25^l: below 1e-30 at layer 50 > 40 -> none
    assert small == []
    big = spec.messages(data, act="relu", gain=2.0, k=3)  # 4^l * 1.5 > 1e30 from layer 50 -> none either
    assert big == []
    tiny = X.Explorable([X.Slider("s", [1e-3, 1.0])],
                        [X.Panel("p", yscale="log", floor=1e-30, xname="layer", series=[X.Series("v", "signal")])])
    d = tiny.precompute(lambda s: {"v": s ** np.arange(1, 21, dtype=float) * 1.0})
    assert tiny.messages(d, s=1e-3) == ["signal: fell below 1e-30 at layer 11"]
    nan = X.Explorable([X.Menu("m", ["ok", "bad"])], [X.Panel("p", xname="step", series=[X.Series("v", "loss")])],
                       x0=0)
    d = nan.precompute(lambda m: {"v": [1.0, 2.0, float("inf") if m == "bad" else 3.0, float("nan")]})
    assert nan.messages(d, m="bad") == ["loss: diverged (inf/NaN) at step 2"]
    assert nan.messages(d, m="ok") == ["loss: diverged (inf/NaN) at step 3"]
    # nothing drawable at all: say so
    d = nan.precompute(lambda m: {"v": [float("nan")] * 3})
    assert nan.messages(d, m="ok") == ["loss: diverged (inf/NaN) at step 0", "nothing to draw for this setting"]


def test_backward_flow_reads_a_curve_from_its_top():
    x, y = [1, 2, 3, 4], [1e-40, 1e-20, 1e-5, 1.0]
    assert X.series_events(x, y, floor=1e-30) == (0, "floor", 1)
    assert X.series_events(x, y, floor=1e-30, backward=True) == (3, "floor", 1)
    assert X.series_events([1, 2], [1.0, 0.0], log=True) == (1, "nonpositive", 2)
    assert X.series_events([1, 2], [1.0, 2e30], ceil=1e30) == (1, "ceil", 2)


def test_custom_message_texts():
    s = X.Explorable([X.Slider("s", [1e-5])], [X.Panel("p", floor=1e-30, xname="layer", series=[X.Series("v", "a")])],
                     texts={"floor": "signal vanished below {floor} at {xname} {x}"})
    d = s.precompute(lambda s: {"v": [1.0, 1e-40]})
    assert s.messages(d, s=1e-5) == ["signal vanished below 1e-30 at layer 2"]
    with pytest.raises(ValueError, match=r"unknown message\(s\) \['vanish'\]"):
        X.Explorable([X.Slider("s", [1])], [X.Panel("p", series=[X.Series("v", "a")])], texts={"vanish": "x"})


# ----------------------------------------------------------------------------- bad specs: clear errors
@pytest.mark.parametrize("make, match", [
    (lambda: X.Menu("m", []), "has no options"),
    (lambda: X.Menu("m", ["a", "a"]), "lists an option twice"),
    (lambda: X.Menu("m", [None]), "must be a string or a finite number"),
    (lambda: X.Menu("m", ["a", "b"], texts=["x"]), "1 texts for 2 values"),
    (lambda: X.Menu("m", ["a"], default="b"), "default 'b' is not one of its values"),
    (lambda: X.Menu("bad name", ["a"]), "must be a Python identifier"),
    (lambda: X.Slider("s", []), "has no values"),
    (lambda: X.Slider("s", [1, 3, 2]), "strictly increasing"),
    (lambda: X.Slider("s", [1, 1]), "strictly increasing"),
    (lambda: X.Slider("s", ["a", "b"]), "use a Menu for choices that are not numbers"),
    (lambda: X.Slider("s", [1.0, float("inf")]), "finite number"),
    (lambda: X.Slider("s", [1], when={"m": []}), r"when\['m'\] is empty"),
    (lambda: X.Panel("p", series=[]), "needs a list of Series"),
    (lambda: X.Panel("p", series=[X.Series("v", "v")], yscale="symlog"), "yscale must be"),
    (lambda: X.Panel("p", series=[X.Series("v", "v")], flow="up"), "flow must be"),
    (lambda: X.Panel("p", series=[X.Series("v", "v")], xlim=(2, 1)), "low < high"),
    (lambda: X.Panel("p", series=[X.Series("v", "v")], floor=1, ceil=0.5), "must be below ceil"),
])
def test_bad_controls_and_panels_say_what_to_do(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def _panel():
    return [X.Panel("p", series=[X.Series("v", "v")])]


@pytest.mark.parametrize("controls, panels, kw, match", [
    ([], None, {}, "non-empty list of Menu and Slider"),
    ([X.Slider("a", [1]), X.Slider("a", [2])], None, {}, r"unique; repeated: \['a'\]"),
    ([X.Slider("k", [1], when={"m": ["x"]}), X.Menu("m", ["x"])], None, {}, "which comes after it"),
    ([X.Slider("k", [1], when={"m": ["x"]})], None, {}, "which does not exist"),
    ([X.Menu("m", ["x"]), X.Slider("k", [1], when={"m": ["y"]})], None, {}, r"lists \['y'\], which 'm' does not have"),
    ([X.Slider("k", [1])], [X.Panel("p", series=[X.Series("v", "v")]), X.Panel("q", series=[X.Series("v", "w")])],
     {}, "series names must be unique"),
    ([X.Slider("k", [1])], None, {"digits": 1}, "digits must be an integer from 2 to 8"),
    ([X.Slider("k", [1])], [X.Panel("p", image="bg", series=[X.Series("v", "v")])], {}, "image 'bg', which is not in"),
])
def test_bad_specs_say_what_to_do(controls, panels, kw, match):
    with pytest.raises(ValueError, match=match):
        X.Explorable(controls, panels or _panel(), **kw)


def test_bad_compute_results_name_the_setting():
    s = X.Explorable([X.Slider("k", [1, 2])], _panel())
    with pytest.raises(ValueError, match=r"compute\(k=1\) returned unknown series \['w'\]"):
        s.precompute(lambda k: {"w": [1.0]})
    with pytest.raises(ValueError, match=r"compute\(k=1\) returned list"):
        s.precompute(lambda k: [1.0])


# ----------------------------------------------------------------------------- the live version
def test_live_widgets_from_data_and_from_compute(spec, data, monkeypatch):
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    box = spec.live(data)
    widgets = {w.description: w for w in box.children if hasattr(w, "description")}
    assert widgets["activation"].value == "tanh" and widgets["gain"].value == 1.0
    assert widgets["k"].disabled and widgets["k"].layout.display == "none"  # k is used only with relu
    widgets["activation"].value = "relu"
    assert not widgets["k"].disabled
    seen = []
    box = spec.live(compute=lambda **v: seen.append(v) or _compute(**v))
    assert seen == [{"act": "tanh", "gain": 1.0}]
    with pytest.raises(ValueError, match="exactly one of data="):
        spec.live()


def test_module_import_loads_neither_matplotlib_nor_widgets():
    code = ("import sys, course_utils.explorable; "
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- the page script is a real file: valid JavaScript, inlined into every static explorable
def test_page_script_is_a_valid_javascript_file_and_is_inlined():
    import shutil
    import subprocess
    from importlib import resources

    from course_utils import explorable

    path = resources.files("course_utils").joinpath("static/explorable.js")
    text = path.read_text(encoding="utf-8")
    assert "function courseExplorable(root, W, H)" in text and "%UID%" not in text
    if shutil.which("node"):
        r = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        bad = subprocess.run(["node", "--check", "-"], input=text.replace("function courseExplorable", "function ("),
                             capture_output=True, text=True)
        assert bad.returncode != 0  # the check can fail
    assert explorable._script() == text


# ---- the loss-surface explorer's script: a real file too, drawing with the helpers of explorable.js
def test_surface_explorer_script_is_a_valid_javascript_file_using_the_engines_helpers(tmp_path):
    import shutil
    import subprocess
    from importlib import resources

    from course_utils import explorer

    static = resources.files("course_utils").joinpath("static")
    text = static.joinpath("surface_explorer.js").read_text(encoding="utf-8")
    assert "function courseSurfaceExplorer(root, W, H)" in text and "%(" not in text
    # the SVG and number helpers are explorable.js's, not copies
    assert "function el(" not in text and "function fmt(" not in text and "createElementNS" not in text
    script = explorer._script()
    assert script.endswith(text) and "function courseSvgEl(" in script and "function courseFmt(" in script
    assert "function courseExplorable(" not in script  # only the helpers of explorable.js are inlined
    html = explorer.static_explorer_html({"optimizers": {"SGD": ["lr"]}, "surfaces": [{"name": "bowl"}]})
    assert f"<script>(function(){{{script}courseSurfaceExplorer(document.getElementById(" in html
    with pytest.raises(ValueError, match="above the limit of 0 KB"):  # the explorables' size limit holds here too
        explorer.static_explorer_html({"optimizers": {"SGD": ["lr"]}, "surfaces": [{"name": "bowl"}]}, max_kb=0.01)
    if shutil.which("node"):
        for name, src in (("surface_explorer.js", text), ("inlined.js", script)):
            (tmp_path / name).write_text(src, encoding="utf-8")
            r = subprocess.run(["node", "--check", str(tmp_path / name)], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        bad = subprocess.run(["node", "--check", "-"], input=text.replace("function courseSurfaceExplorer", "function ("),
                             capture_output=True, text=True)
        assert bad.returncode != 0  # the check can fail
        # the two number formats the pages show: the explorables' short one, the surface explorer's 3 digits
        probe = script.split("function courseSurfaceExplorer")[0] + (
            "console.log(JSON.stringify([courseFmt(1e-5), courseFmt(3e-4, 2), courseFmt(12345, 2), courseFmt(0, 2), "
            "courseFmt(0.1234567), courseFmt(-2.5, 2)]));")
        r = subprocess.run(["node", "-e", probe], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == ["1e-5", "3.00e-4", "1.23e+4", "0", "0.1235", "-2.5"]
