"""SVG charts: well-formed, accessible, escaped, deterministic, proportional; CSV behind them."""

import csv
import io
import math
import xml.etree.ElementTree as ET

import pytest

from core.charts import (
    MAX_LABEL_CHARS,
    OTHER_LABEL,
    PALETTE,
    bar_chart,
    chart_table_csv,
    fold_other,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> & "x"'
LONG_LABELS = [
    "Code Generation & Completion",
    "Algorithm Design & Analysis",
    "Debugging, Profiling and Performance Tuning of Programs",  # over 48: truncated
] + [f"Category number {i:02d} with a fairly long descriptive name" for i in range(37)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == css_class]


def texts(root: ET.Element, css_class: str) -> list[str]:
    return [e.text or "" for e in by_class(root, "text", css_class)]


def rows(root: ET.Element) -> list[ET.Element]:
    return by_class(root, "g", "row")


def row_value(row: ET.Element) -> str:
    [value] = by_class(row, "text", "value")
    return value.text or ""


def as_number(text: str) -> float:
    return float(text.replace(",", ""))


def assert_accessible_document(svg: str) -> ET.Element:
    assert svg.startswith("<svg ")
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    width, height = root.get("width"), root.get("height")
    assert root.get("viewBox") == f"0 0 {width} {height}"
    ids = {e.get("id"): e for e in root.iter() if e.get("id")}
    assert ids[root.get("aria-labelledby")].tag == f"{SVG}title"
    assert ids[root.get("aria-describedby")].tag == f"{SVG}desc"
    [background] = by_class(root, "rect", "background")
    assert background.get("fill") == "#FFFFFF"
    assert "sans-serif" in root.get("font-family", "")
    return root


def test_bar_chart_is_a_standalone_accessible_svg() -> None:
    root = assert_accessible_document(
        bar_chart({"a": 1, "b": 2}, title="Problems per category", x_label="Problems")
    )
    assert root.find(f"{SVG}title").text == "Problems per category"
    assert "a: 1" in root.find(f"{SVG}desc").text
    assert "Problems" in texts(root, "axis-label")


@pytest.mark.parametrize("horizontal", [True, False])
def test_one_bar_per_key_in_the_given_order(horizontal: bool) -> None:
    data = {label: i + 1 for i, label in enumerate(LONG_LABELS)}
    root = assert_accessible_document(bar_chart(data, title="t", horizontal=horizontal))
    assert len(by_class(root, "rect", "bar")) == len(data) == 40
    assert [row.find(f"{SVG}title").text for row in rows(root)] == [
        f"{label}: {value}" for label, value in data.items()
    ]
    assert [as_number(row_value(row)) for row in rows(root)] == list(data.values())


def test_all_bars_share_the_palette_blue() -> None:
    root = parse(bar_chart({"a": 1, "b": 2}, title="t"))
    assert {bar.get("fill") for bar in by_class(root, "rect", "bar")} == {PALETTE[0]}


def test_max_bars_folds_the_rest_into_other() -> None:
    data = {f"c{i}": i for i in range(1, 11)}
    root = parse(bar_chart(data, title="t", max_bars=4))
    assert len(by_class(root, "rect", "bar")) == 4
    assert texts(root, "label") == ["c1", "c2", "c3", OTHER_LABEL]
    assert as_number(row_value(rows(root)[-1])) == sum(range(4, 11)) == 49
    assert rows(root)[-1].find(f"{SVG}title").text == "Other (7 categories): 49"
    assert fold_other(data, 4) == {"c1": 1, "c2": 2, "c3": 3, OTHER_LABEL: 49}


def test_max_bars_folds_an_existing_other_key_instead_of_duplicating_it() -> None:
    data = {"a": 5, OTHER_LABEL: 100, "b": 4, "c": 3, "d": 2.5}
    assert fold_other(data, 3) == {"a": 5, "b": 4, OTHER_LABEL: 105.5}
    root = parse(bar_chart(data, title="t", max_bars=3))
    assert texts(root, "label") == ["a", "b", OTHER_LABEL]
    assert row_value(rows(root)[-1]) == "105.5"


def test_max_bars_leaves_data_that_already_fits_alone() -> None:
    data = {"a": 1, OTHER_LABEL: 2}
    assert fold_other(data, 2) == data
    root = parse(bar_chart(data, title="t", max_bars=2))
    assert texts(root, "label") == ["a", OTHER_LABEL]
    assert [row_value(row) for row in rows(root)] == ["1", "2"]
    with pytest.raises(ValueError):
        bar_chart(data, title="t", max_bars=0)


def test_hostile_text_is_escaped_everywhere() -> None:
    charts = [
        bar_chart({HOSTILE: 1, "ok": 2}, title=HOSTILE, x_label=HOSTILE),
        bar_chart({HOSTILE: 1}, title=HOSTILE, x_label=HOSTILE, horizontal=False),
        stacked_bar_chart({HOSTILE: {HOSTILE: 1, "b": 2}}, series=[HOSTILE, "b"], title=HOSTILE),
        bar_chart({}, title=HOSTILE),
    ]
    for svg in charts:
        assert "<script" not in svg
        root = parse(svg)
        assert not [e for e in root.iter() if "script" in e.tag.lower()]
        assert all(not key.lower().startswith("on") for e in root.iter() for key in e.attrib)
        assert root.find(f"{SVG}title").text == HOSTILE
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    assert texts(parse(charts[0]), "label")[0] == HOSTILE
    assert texts(parse(charts[2]), "legend-label")[0] == HOSTILE


def test_characters_xml_forbids_do_not_break_the_document() -> None:
    root = parse(bar_chart({"nul\x00 and\x01start": 1}, title="bell\x07"))
    assert texts(root, "label") == ["nul\ufffd and\ufffdstart"]
    assert root.find(f"{SVG}title").text == "bell\ufffd"


def test_output_is_byte_identical_across_calls() -> None:
    data = {label: (i * 7) % 13 + 0.25 for i, label in enumerate(LONG_LABELS)}
    nested = {"Strings": {"easy": 3, "medium": 2}, "Graphs": {"hard": 1.5}}
    assert bar_chart(data, title="t", max_bars=12) == bar_chart(data, title="t", max_bars=12)
    assert bar_chart(data, title="t", horizontal=False) == bar_chart(
        data, title="t", horizontal=False
    )
    series = ["easy", "medium", "hard"]
    first = stacked_bar_chart(nested, series=series, title="t")
    assert first == stacked_bar_chart(nested, series=series, title="t")


def test_different_charts_get_different_ids_for_inlining_in_one_page() -> None:
    first = parse(bar_chart({"a": 1}, title="one"))
    second = parse(bar_chart({"a": 2}, title="one"))
    assert first.get("aria-labelledby") != second.get("aria-labelledby")


def test_numbers_have_fixed_precision_and_coordinates_one_decimal() -> None:
    svg = bar_chart({"a": 1234, "b": 2.0, "c": 1.5, "d": 1 / 3}, title="t")
    root = parse(svg)
    assert [row_value(row) for row in rows(root)] == ["1,234", "2", "1.5", "0.33"]
    for element in root.iter():
        for name in ("x", "y", "width", "height", "x1", "x2", "y1", "y2"):
            value = element.get(name)
            if value is not None and not value.endswith("%"):
                assert len(value.partition(".")[2]) <= 1, (name, value)


@pytest.mark.parametrize("horizontal", [True, False])
def test_bar_lengths_are_proportional_to_values(horizontal: bool) -> None:
    root = parse(bar_chart({"ten": 10, "five": 5, "zero": 0}, title="t", horizontal=horizontal))
    size = "width" if horizontal else "height"
    ten, five, zero = (float(bar.get(size)) for bar in by_class(root, "rect", "bar"))
    assert ten > 0
    assert math.isclose(ten, 2 * five, abs_tol=0.15)
    assert zero == 0


def test_stacked_chart_totals_match_the_sum_of_their_parts() -> None:
    series = ["easy", "medium", "hard"]
    data = {
        "Strings": {"easy": 12, "medium": 7, "hard": 3},
        "Graphs": {"hard": 9},
        "Dynamic Programming": {"easy": 0.5, "medium": 1.25},
    }
    root = assert_accessible_document(stacked_bar_chart(data, series=series, title="t"))
    assert len(rows(root)) == 3
    assert len(by_class(root, "rect", "segment")) == 3 * len(series)
    assert [as_number(row_value(row)) for row in rows(root)] == [22, 9, 1.75]
    assert texts(root, "legend-label") == series
    swatches = [s.get("fill") for s in by_class(root, "rect", "swatch")]
    assert swatches == list(PALETTE[:3])
    # Each part's length is proportional to its value, and the parts are laid end to end.
    strings = by_class(rows(root)[0], "rect", "segment")
    widths = [float(s.get("width")) for s in strings]
    assert math.isclose(widths[0] / 12, widths[1] / 7, rel_tol=0.01)
    assert math.isclose(float(strings[1].get("x")), float(strings[0].get("x")) + widths[0])
    assert [s.get("fill") for s in strings] == list(PALETTE[:3])


def test_stacked_chart_rejects_bad_series() -> None:
    with pytest.raises(ValueError, match="not in series"):
        stacked_bar_chart({"a": {"easy": 1, "extreme": 2}}, series=["easy"], title="t")
    with pytest.raises(ValueError):
        stacked_bar_chart({"a": {"x": 1}}, series=["x", "x"], title="t")
    with pytest.raises(ValueError):
        stacked_bar_chart({"a": {"x": 1}}, series=[f"s{i}" for i in range(9)], title="t")
    with pytest.raises(TypeError):
        stacked_bar_chart({"a": {"x": 1}}, series="x", title="t")


@pytest.mark.parametrize(
    "render",
    [
        lambda: bar_chart({"a": 1, "b": -1}, title="t"),
        lambda: bar_chart({"a": -0.01}, title="t", horizontal=False),
        lambda: bar_chart({"a": float("nan")}, title="t"),
        lambda: stacked_bar_chart({"a": {"x": 1, "y": -2}}, series=["x", "y"], title="t"),
        lambda: chart_table_csv({"a": -1}),
        lambda: fold_other({"a": -1}, 1),
    ],
)
def test_negative_or_non_finite_values_raise_value_error(render) -> None:
    with pytest.raises(ValueError):
        render()


def test_non_numbers_raise_type_error() -> None:
    with pytest.raises(TypeError):
        bar_chart({"a": True}, title="t")
    with pytest.raises(TypeError):
        bar_chart({"a": "3"}, title="t")


def test_zero_values_render() -> None:
    root = parse(bar_chart({"a": 0, "b": 0}, title="t"))
    assert [float(bar.get("width")) for bar in by_class(root, "rect", "bar")] == [0, 0]


@pytest.mark.parametrize(
    "render",
    [
        lambda: bar_chart({}, title="Empty"),
        lambda: bar_chart({}, title="Empty", horizontal=False, max_bars=3),
        lambda: stacked_bar_chart({}, series=["easy"], title="Empty"),
    ],
)
def test_empty_data_renders_no_data(render) -> None:
    svg = render()
    root = assert_accessible_document(svg)
    assert texts(root, "no-data") == ["No data"]
    assert not by_class(root, "rect", "bar")


def test_long_labels_are_truncated_but_kept_whole_in_the_tooltip() -> None:
    long = LONG_LABELS[2]
    assert len(long) > MAX_LABEL_CHARS
    root = parse(bar_chart({long: 1, "short": 2}, title="t"))
    shown = texts(root, "label")[0]
    assert len(shown) <= MAX_LABEL_CHARS
    assert shown.endswith("\u2026")
    assert long.startswith(shown[:-1])
    assert rows(root)[0].find(f"{SVG}title").text == f"{long}: 1"


def test_horizontal_layout_fits_forty_long_labels_without_overlap() -> None:
    data = {label: i * 3 for i, label in enumerate(LONG_LABELS)}
    root = parse(bar_chart(data, title="Problems per category", x_label="Problems"))
    labels = by_class(root, "text", "label")
    ys = [float(label.get("y")) for label in labels]
    assert all(b - a >= 12 * 1.5 for a, b in zip(ys, ys[1:], strict=False))
    # Right-aligned labels end just left of the bars; at ~7px a character none starts off-canvas.
    bar_left = float(by_class(root, "rect", "bar")[0].get("x"))
    for label in labels:
        assert float(label.get("x")) < bar_left
        assert float(label.get("x")) - 7 * len(label.text) >= 0
    # Value labels end inside the canvas and every row is above the tick labels.
    width, height = float(root.get("width")), float(root.get("height"))
    for row in rows(root):
        [value] = by_class(row, "text", "value")
        assert float(value.get("x")) + 7 * len(value.text) <= width
    tick_ys = [float(t.get("y")) for t in root.iter(f"{SVG}text") if t.get("class") is None]
    assert max(ys) < min(tick_ys) < height
    # The height follows the number of bars.
    fewer = parse(bar_chart(dict(list(data.items())[:10]), title="Problems per category"))
    assert height - float(fewer.get("height")) >= 30 * 20


def test_csv_round_trips_flat_data() -> None:
    data = {"Code Generation & Completion": 12, 'Quoted, "comma"': 2.5, "multi\nline": 0}
    text = chart_table_csv(data)
    assert "\r" not in text
    assert list(csv.reader(io.StringIO(text))) == [
        ["category", "value"],
        ["Code Generation & Completion", "12"],
        ['Quoted, "comma"', "2.5"],
        ["multi\nline", "0"],
    ]


def test_csv_round_trips_nested_data_with_totals() -> None:
    data = {"Strings": {"easy": 3, "hard": 1}, "Graphs": {"medium": 0.1, "easy": 2}}
    parsed = list(csv.reader(io.StringIO(chart_table_csv(data))))
    assert parsed == [
        ["category", "easy", "hard", "medium", "total"],
        ["Strings", "3", "1", "0", "4"],
        ["Graphs", "2", "0", "0.1", "2.1"],
    ]
    explicit = chart_table_csv(data, series=["easy", "medium", "hard"])
    assert explicit.splitlines()[0] == "category,easy,medium,hard,total"
    assert chart_table_csv({}) == "category,value\n"


def test_csv_rejects_mixed_data() -> None:
    with pytest.raises(TypeError):
        chart_table_csv({"a": 1, "b": {"x": 1}})
    with pytest.raises(TypeError):
        chart_table_csv({"a": 1}, series=["x"])
