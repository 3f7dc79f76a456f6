"""The README picture is made by the code: every panel must hold simulated data."""

import matplotlib.pyplot as plt

from neuraltide.gallery import gallery


def test_gallery_draws_six_panels_with_data() -> None:
    fig = gallery()
    panels = fig.axes[:6]
    assert len(panels) == 6
    for ax in panels:
        drawn = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1] + list(ax.collections)
        assert drawn, ax.get_title()
    # the raster panel shows spikes of the learnable neurons
    raster = fig.axes[5]
    assert sum(len(c.get_offsets()) for c in raster.collections) > 100
    plt.close(fig)
