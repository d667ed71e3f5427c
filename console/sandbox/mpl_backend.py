"""matplotlib backend used INSIDE the sandbox (MPLBACKEND=module://mpl_backend).

It renders with Agg; `plt.show()` (and the end of every cell, see kernel.py) saves each open figure as
/mnt/data/figure_N.png and closes it, so the manager returns it as an image file. Standard library and
matplotlib only: the manager copies this file into the sandbox as /opt/kernel/mpl_backend.py.
"""

from __future__ import annotations

import os

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import _Backend
from matplotlib.backends.backend_agg import _BackendAgg

OUTPUT_DIR = "/mnt/data"
_counter = [0]


def _next_path() -> str:
    while True:
        _counter[0] += 1
        path = os.path.join(OUTPUT_DIR, f"figure_{_counter[0]}.png")
        if not os.path.exists(path):
            return path


def save_open_figures() -> list[str]:
    paths = []
    for manager in Gcf.get_all_fig_managers():
        path = _next_path()
        manager.canvas.figure.savefig(path, format="png", bbox_inches="tight")
        paths.append(path)
    Gcf.destroy_all()
    return paths


@_Backend.export
class _BackendSandbox(_BackendAgg):
    @staticmethod
    def show(*args, **kwargs):
        save_open_figures()
