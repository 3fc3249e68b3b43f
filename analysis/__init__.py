"""Reading results: Ray Tune experiment folders and compare folders as tidy pandas frames.

- `layout`: the names of a results folder's files and columns, and how to tell its kind;
- `experiment`: an experiment folder read from its JSON and CSV files (nothing is unpickled);
- `results`: the trials and curves frames every other module works on;
- `compare`, `significance`, `plots`, `optuna_export`, `replay`: statistics, figures and exports
  over those frames;
- `report/`: `report.md` and `report.html` (one writer, one function per section);
- `probes/`: model probes (AlexNet, adversarial examples, CIFAR-10 transfer);
- `theory/`: the theory checks, a leaf that imports nothing else of the project.
"""
