"""`verify --format html`: one self-contained page, parsed here; rendered in headless Chromium
by the `browser` tests where a browser is installed."""

import base64
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_testing import NO_ROTATION, Rows
from typer.testing import CliRunner

from convcheck.cli import app
from convcheck.report.html import document, svg_heatmap
from convcheck.testing import check

ROOT = Path(__file__).parent.parent
LAYER = dict(n=7, m=3, k=2, p=3, padding=1, stride=2, batch=2)


def _wrong_file(tmp_path: Path) -> Path:
    """A plug-in file whose dL/dX forgets the 180-degree rotation."""
    path = tmp_path / "unrotated.py"
    path.write_text("from wrong import WRONG\n_impl = WRONG['no_rotation'][0]\nforward, backward = _impl.forward, "
                    "_impl.backward\n")
    return path


def _report(tmp_path: Path, *args) -> tuple[str, object]:
    output = tmp_path / "report.html"
    run = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "valid_square.yaml"),
                                   str(ROOT / "configs" / "strides_and_padding.yaml"), "--format", "html",
                                   "--output", str(output), *args])
    return output.read_text(encoding="utf-8"), run


class Page(HTMLParser):
    """Sections with their verdict and id, every attribute that could load something, the index's
    in-page links (fragments, which load nothing), and the text."""

    def __init__(self):
        super().__init__()
        self.sections, self.ids, self.loads, self.fragments, self.tags, self.text = [], [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(attrs.get("data-verdict"))
            self.ids.append(attrs.get("id"))
        if tag == "a" and (attrs.get("href") or "").startswith("#") and len(attrs) == 1:
            self.fragments.append(attrs["href"])
            return
        for name in ("src", "href", "srcset", "poster", "data", "action"):
            if name in attrs:
                self.loads.append((tag, attrs[name]))
        if "style" in attrs and "url(" in attrs["style"]:
            self.loads.append((tag, attrs["style"]))

    def handle_data(self, data):
        self.text.append(data)


def test_the_report_of_a_failing_run_holds_table_diagnosis_heatmap_and_spec(tmp_path):
    page_text, run = _report(tmp_path, "--impl", str(_wrong_file(tmp_path)))
    assert run.exit_code == 1
    assert "valid-9x9x3-four-3x3x3" in run.output                                 # the table still goes to the terminal
    page = Page()
    page.feed(page_text)
    text = " ".join(page.text)
    assert page.sections == ["FAIL"] * 5
    assert "5 specs: 0 passed, 5 failed" in text
    assert "diagnosis: filter-not-rotated" in text
    rows = Rows()
    rows.feed(page_text)
    verdicts = {tuple(row[:2]) for row in rows.rows if row[0] == "dL/dX"}
    assert verdicts and all(row[-1] == "FAIL" for row in rows.rows if row[0] == "dL/dX")
    images = [value for tag, value in page.loads if tag == "img"]
    # same-stride2-float32's dL/dX comes back float64: a wrong dtype has no error map
    assert len(images) == 4 and all(value.startswith("data:image/png;base64,") for value in images)
    assert all(base64.b64decode(value.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n" for value in images)
    assert [load for load in page.loads if load[0] != "img"] == []           # nothing else would load anything
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    text_only = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page_text)
    assert "http" not in text_only and "//" not in text_only                 # no address of any kind
    assert "padding: [1, 2, 1, 2]" in page_text or "padding: " in page_text  # the spec of each layer
    assert page_text.count('<pre class="spec">') == 5 and "stride2-leftover-rows" in page_text


def test_a_passing_report_and_the_svg_heatmap_without_matplotlib(tmp_path):
    page_text, run = _report(tmp_path, "--impl", "im2col")
    assert run.exit_code == 0
    page = Page()
    page.feed(page_text)
    assert page.sections == ["pass"] * 5 and page.loads == []
    result = check(NO_ROTATION.forward, NO_ROTATION.backward, **LAYER)
    svg_page = document([result], 0.5, images="svg")
    svgs = re.findall(r"<svg.*?</svg>", svg_page, flags=re.S)
    assert len(svgs) == 1 and "<img" not in svg_page and "http" not in svg_page
    root = ET.fromstring(svgs[0])                                           # well-formed XML
    cells = [r for r in root.iter("rect") if r.get("class") == "cell"]
    assert len(cells) == 7 * 7                                              # one per row x column of dL/dX


def test_svg_colours_run_from_light_to_dark():
    import numpy as np
    svg = svg_heatmap(np.array([[0.0, 1.0], [0.5, 0.25]]), "t")
    fills = re.findall(r'<rect class="cell" x="\d+" y="\d+" width="48" height="48" fill="(#[0-9a-f]{6})"', svg)
    brightness = [sum(int(f[i:i + 2], 16) for i in (1, 3, 5)) for f in fills]
    assert brightness[0] > brightness[3] > brightness[2] > brightness[1]   # 0 lightest, the largest darkest


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _render(page: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """Screenshot of `page` in headless Chromium and the console messages it logged."""
    screenshot = tmp_path / "screenshot.png"
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--window-size=1200,900", f"--screenshot={screenshot}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    return screenshot, [line for line in run.stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_the_report_renders_in_a_real_browser(tmp_path):
    page_text, _ = _report(tmp_path, "--impl", str(_wrong_file(tmp_path)))
    page = tmp_path / "report.html"
    screenshot, console = _render(page, tmp_path)
    assert console == []
    import matplotlib.image
    pixels = matplotlib.image.imread(str(screenshot))[..., :3]
    assert pixels.shape[:2] == (900, 1200)
    ink = (pixels.sum(axis=2) < 2.4).mean()                                 # not blank: text, table, heatmap
    red = ((pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)).sum()   # FAIL in red
    assert ink > 0.02 and red > 50


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_the_browser_check_sees_console_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>undefined_function()</script>")
    _, console = _render(page, tmp_path)
    assert any("undefined_function is not defined" in line for line in console)


def test_names_and_messages_are_text_never_markup(tmp_path):
    spec = tmp_path / "hostile.yaml"
    spec.write_text('name: "<script>alert(1)</script><img src=x>"\nn: 5\nm: 3\nk: 1\np: 1\npadding: 0\nstride: 1\n')
    plugin = tmp_path / "loud.py"
    plugin.write_text("from convcheck.impls.direct import forward\n"
                      "def backward(dy, x, w, b, **kw):\n    print('<b>bold</b> & <i>')\n"
                      "    raise ValueError('<iframe>')\n")
    output = tmp_path / "report.html"
    CliRunner().invoke(app, ["verify", str(spec), "--impl", str(plugin), "--format", "html", "--output", str(output)])
    page = Page()
    page.feed(output.read_text(encoding="utf-8"))
    assert not {"script", "iframe", "b", "i"} & set(page.tags) and page.loads == []
    text = "".join(page.text)
    assert "<script>alert(1)</script>" in text and "<iframe>" in text and "<b>bold</b> & <i>" in text


def test_failures_lead_with_an_index_and_a_shared_backward_error_is_said_once(tmp_path):
    plugin = tmp_path / "some.py"
    plugin.write_text("from convcheck.impls.direct import forward, backward as _backward\n\n"
                      "def backward(dy, x, w, b, **k):\n    if x.shape[2] == 8:\n"
                      "        raise ValueError('no layer of 8 rows here')\n    return _backward(dy, x, w, b, **k)\n")
    spec = tmp_path / "three.yaml"
    spec.write_text("defaults: {padding: 1, stride: 1, m: 3, k: 2, p: 2}\nlayers:\n"
                    "  - {name: first, n: 9}\n  - {name: second, n: 8}\n  - {name: third, n: 7}\n")
    out = tmp_path / "report.html"
    run = CliRunner().invoke(app, ["verify", str(spec), "--impl", str(plugin), "--format", "html", "--output",
                                   str(out)])
    assert run.exit_code == 1
    page = Page()
    page.feed(out.read_text())
    assert page.sections == ["FAIL", "pass", "pass"] and page.ids == ["layer-2", "layer-1", "layer-3"]
    assert page.fragments == ["#layer-2", "#layer-1", "#layer-3"] and page.loads == []
    text = out.read_text()
    assert text.count("no layer of 8 rows here") == 1                                   # said once
    assert "dL/dX, dL/dF, dL/db</span>: backward raised ValueError: no layer of 8 rows here" in text
