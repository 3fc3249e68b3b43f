"""Optuna's NSGA-II sampler in a form Ray can save with the search state."""

from __future__ import annotations

import threading
from typing import Any

from optuna.samplers import NSGAIISampler


class PicklableNSGAIISampler(NSGAIISampler):
    """NSGA-II whose thread lock (Optuna >= 5 keeps one) is dropped when pickled and made anew
    when unpickled: Ray pickles the searcher into the experiment state and its checkpoints."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_thread_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._thread_lock = threading.Lock()
