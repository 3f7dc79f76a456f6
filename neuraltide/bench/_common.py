"""What every benchmark suite shares: where the numbers were taken."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's), or its
    architecture where neither says (shared machines change CPU between runs, and with it
    every ratio)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
    except OSError:
        pass
    return platform.processor() or f"{platform.machine()} CPU"


def machine() -> str:
    """One line describing where the numbers were taken (CPU or the CUDA device)."""
    where = (torch.cuda.get_device_name() if torch.cuda.is_available()
             else f"{cpu_name()}, {os.cpu_count()} cores")
    threads = torch.get_num_threads()
    return f"{where}, torch {torch.__version__}, {threads} thread{'s' if threads != 1 else ''}"


def stamp() -> str:
    """``Measured <date> on <machine>.``: the first line of every suite's section."""
    return f"Measured {datetime.date.today().isoformat()} on {machine()}."
