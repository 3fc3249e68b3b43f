"""Run torch on one thread for the tiny tensors of the theory checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_single_thread() -> Iterator[None]:
    """Set torch's intra-op threads to 1 for the block, then restore the previous count.

    These checks multiply 64x64 matrices: extra threads only add synchronisation, and on a busy
    machine OpenMP's spin-waiting made a 0.3 s run take 20 s (measured on 2 loaded cores).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
