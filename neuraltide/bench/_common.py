"""What every benchmark suite shares: where the numbers were taken."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def machine() -> str:
    """One line describing where the numbers were taken (CPU or the CUDA device)."""
    where = (torch.cuda.get_device_name() if torch.cuda.is_available()
             else f"{platform.machine()} CPU, {os.cpu_count()} cores")
    return f"{where}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def stamp() -> str:
    """``Measured <date> on <machine>.``: the first line of every suite's section."""
    return f"Measured {datetime.date.today().isoformat()} on {machine()}."
