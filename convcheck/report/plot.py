"""`verify --plot DIR`: the terminal heatmaps of failing tensors as PNG files, with matplotlib
(an optional extra, imported only here)."""

import re
from pathlib import Path

from ..errors import ConvcheckError
from ..spec import LABELS


def require_matplotlib() -> None:
    """One line, before any check runs, when matplotlib is missing."""
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        raise ConvcheckError("--plot needs matplotlib: pip install 'convcheck[plot]'")


def write_plots(results, folder: Path) -> list[Path]:
    """One PNG per failing tensor with an error map: FOLDER/<layer>_<tensor>.png. Returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        for check in result.checks:
            if check.error_map is None:
                continue
            path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', result.spec.name)}_{check.name}.png"
            path.write_bytes(heatmap_png(result, check))
            written.append(path)
    return written


def heatmap_png(result, check, dpi: int = 100) -> bytes:
    """The error map of one failing tensor as a PNG: magma, with a colour bar, the layer and the
    diagnosed mistake in the title (also the HTML report's image when matplotlib is installed)."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    figure, axes = plt.subplots(figsize=(5, 4.5))
    try:
        image = axes.imshow(check.error_map, cmap="magma", interpolation="nearest", aspect="auto"
                            if check.error_map.shape[0] == 1 else "equal")
        figure.colorbar(image, ax=axes, label="|analytic − numerical|")
        axes.set_title(f"{result.spec.name}: {LABELS[check.name]}"
                       + (f"\n{check.diagnosis.mistake}" if check.diagnosis and check.diagnosis.mistake else ""))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("column" if check.name == "dx" else "m_w")
        axes.set_ylabel("row" if check.name == "dx" else "m_h")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)
