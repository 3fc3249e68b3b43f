"""Theory checks: each claim of the homework's theory problems, measured numerically.

A leaf outside the results layer: it reads no results folder, and imports nothing of the project
but its own modules (numpy, scipy, pandas, torch and matplotlib only), so it can move to a
top-level package unchanged. `tests/analysis/test_theory_leaf.py` keeps that true.

- `vanishing`: width of the inputs where a sigmoid neuron's gradient factor |w sigma'| >= 1.
- `unstable`: per-layer gradient norms of a deep network at initialization, per activation.
- `momentum`: momentum gradient descent for momentum coefficients inside and outside [0, 1).
- `backprop`, `backprop_check`: conv + max-pool + fully connected backpropagation by hand,
  compared with autograd.
- `plots`: matplotlib Figures for the first three.

Every module computes and returns data (dataclasses, numpy arrays, pandas frames) and a list of
`Check`s; plotting and printing live elsewhere.
"""
