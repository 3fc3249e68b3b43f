"""A user's own job from a file, a module or an entry point: loaded, listed, refused, run,
failed, resumed and reported through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.layout import RUN_FILE
from tune_jobs import user_jobs
from tune_jobs.cli import main
from tune_jobs.errors import BadInputError
from tune_jobs.jobs import get_job

# A job file as a user writes it: the public API only, no torch model (reports need none).
JOB_FILE = """
from pathlib import Path

from tune_jobs.api import EPOCH, VAL_ACC, Choice, Float, Job, SearchSpace, report

READY = Path({ready!r})  # the trainable raises until this file exists


def train(config, data):
    if not READY.exists():
        raise RuntimeError("broken on purpose")
    for epoch in range(config["epochs"]):
        report({{EPOCH: epoch + 1, VAL_ACC: config["x"] * (epoch + 1) / 10 + data}})


tiny = Job(
    name="tiny",
    trainable=train,
    space=SearchSpace({{"x": Float(0.0, 1.0, grid=(0.5,), log=False), "k": Choice(("a", "b"),
                       grid=("a",))}}),
    load_data=lambda: 0.25,
    max_epochs=2,
)
not_a_job = 42
"""


def write_job(folder: Path, ready: bool = True, name: str = "myjob.py") -> Path:
    marker = folder / "ready"
    if ready:
        marker.touch()
    path = folder / name
    path.write_text(JOB_FILE.format(ready=str(marker)))
    return path


def test_a_file_reference_loads_its_job_and_records_an_absolute_path(tmp_path, monkeypatch):
    write_job(tmp_path)
    monkeypatch.chdir(tmp_path)
    job = get_job("myjob.py:tiny")
    assert job.name == "tiny" and job.max_epochs == 2
    assert job.parse("x", "0.3") == 0.3 and job.parse("k", "B") == "b"
    with pytest.raises(ValueError, match="unknown hyperparameter 'width' of job tiny"):
        job.parse("width", "3")
    assert user_jobs.canonical_reference("myjob.py:tiny") == f"{tmp_path / 'myjob.py'}:tiny"


def test_a_module_reference_imports_it(tmp_path, monkeypatch):
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_job(package, name="jobs.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_job("userpkg.jobs:tiny").name == "tiny"


def write_distribution(site: Path, entry: str) -> None:
    """An installed distribution `userdist` with one `tune_jobs.jobs` entry point."""
    info = site / "userdist-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userdist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[tune_jobs.jobs]\n{entry}\n")


def test_an_entry_point_registers_a_job_that_list_shows_with_its_origin(
    tmp_path, monkeypatch, capsys
):
    write_job(tmp_path, name="userdist_jobs.py")
    write_distribution(tmp_path, "tiny-installed = userdist_jobs:tiny")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_job("tiny-installed").name == "tiny"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mnist-l2" in out and "[built-in]" in out
    assert "tiny-installed" in out and "entry point of userdist: userdist_jobs:tiny" in out


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("missing.py:tiny", "no file"),
        ("myjob.py:absent", "has no 'absent'; its jobs: tiny"),
        ("myjob.py:not_a_job", "int 42 is not a Job"),
        ("raises.py:tiny", "loading it raised ZeroDivisionError: division by zero (at "),
        ("imports.py:tiny", "loading it raised ModuleNotFoundError: No module named 'nosuch"),
        ("syntax.py:tiny", "loading it raised SyntaxError"),
        ("no_such_package.jobs:tiny", "no module named 'no_such_package'"),
        ("nothing-at-all", "unknown job 'nothing-at-all'"),
    ],
)
def test_a_bad_reference_exits_2_naming_it_before_ray_starts(
    reference, says, tmp_path, monkeypatch, capsys
):
    write_job(tmp_path)
    (tmp_path / "raises.py").write_text("x = 1 / 0\n")
    (tmp_path / "imports.py").write_text("import nosuchmodule_xyz\n")
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tune_jobs.cli.run.ensure_ray", _no_ray)
    assert main(["run", reference, "--storage", str(tmp_path / "results")]) == 2
    error = capsys.readouterr().err
    assert says in error and reference.partition(":")[0] in error
    assert error.count("\n") == 1  # one line
    assert not (tmp_path / "results").exists()


def _no_ray(*args, **kwargs):
    raise AssertionError("Ray started for bad input")


def test_train_subset_is_refused_for_data_that_cannot_be_cut(tmp_path, monkeypatch, capsys):
    write_job(tmp_path)
    monkeypatch.setattr("tune_jobs.cli.run.ensure_ray", _no_ray)
    args = ["run", f"{tmp_path}/myjob.py:tiny", "--train-subset", "10"]
    assert main([*args, "--storage", str(tmp_path / "results")]) == 2
    assert "--train-subset: the data of job tiny (float) has no sizes()" in capsys.readouterr().err


def test_a_raising_trainable_is_a_failed_trial_with_its_traceback(
    ray_local, tmp_path, monkeypatch, capsys
):
    path = write_job(tmp_path, ready=False)
    args = ["run", f"{path}:tiny", "--storage", str(tmp_path), "--name", "fails"]
    assert main([*args, "--max-failures", "0"]) == 1
    assert "All 1 trials failed" in capsys.readouterr().err
    (error_file,) = (tmp_path / "fails").glob("*/error.txt")
    text = error_file.read_text()
    assert "RuntimeError: broken on purpose" in text
    assert f'File "{path}", line 11, in train' in text  # the traceback reaches the user's line


@pytest.mark.slow  # two Ray runs; the fast tier keeps the loading and refusal tests
def test_resume_and_report_find_the_user_job_again(ray_local, tmp_path, monkeypatch, capsys):
    write_job(tmp_path, ready=False)
    monkeypatch.chdir(tmp_path)  # a relative reference, recorded as an absolute path
    args = ["run", "myjob.py:tiny", "--storage", str(tmp_path), "--name", "exp"]
    assert main([*args, "--max-failures", "0"]) == 1
    record = json.loads((tmp_path / "exp" / RUN_FILE).read_text())
    assert record["job"] == f"{tmp_path / 'myjob.py'}:tiny" and record["log_scaled"] == []
    (tmp_path / "ready").touch()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    user_jobs._LOADED_FILES.clear()  # as in a new process: the file is loaded again
    capsys.readouterr()
    assert main(["resume", str(tmp_path / "exp")]) == 0
    assert "1 of 1 trials finished" in capsys.readouterr().out
    # The report reads the run file only: it never runs the job's code.
    monkeypatch.setattr("tune_jobs.user_jobs.load_reference", _no_code)
    monkeypatch.setattr("tune_jobs.jobs.get_job", _no_code)
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "exp"), "--out", str(out)]) == 0
    assert "myjob.py:tiny" in (out / "report.md").read_text()


def _no_code(*args, **kwargs):
    raise AssertionError("a report loaded the job's code")


def test_compare_prepares_every_run_of_a_user_job_before_any_starts(tmp_path):
    from tune_jobs.compare import plan_compare
    from tune_jobs.options import RunOptions

    path = write_job(tmp_path)
    base = RunOptions(f"{path}:tiny", storage=str(tmp_path))
    runs, budget = plan_compare(base, ["grid", "random"], 2, "cmp")
    names = ["grid-seed0", "grid-seed1", "random-seed0", "random-seed1"]
    assert [run.name for run in runs] == names
    assert budget == 2 and {run.job.name for run in runs} == {"tiny"}  # one grid point x 2 epochs
    assert user_jobs.reference_name(f"{path}:tiny") == "tiny"  # compare's default folder name
    assert not (tmp_path / "cmp").exists()


def test_submit_ships_the_file_in_a_package_of_its_own(tmp_path):
    path = write_job(tmp_path)
    with user_jobs.shipped_reference(f"{path}:tiny") as (reference, py_modules):
        assert reference == "tune_jobs_user_code.myjob:tiny"
        (package,) = map(Path, py_modules)
        assert package.name == "tune_jobs_user_code"
        assert (package / "myjob.py").read_text() == path.read_text()
    assert not package.exists()  # staged for the upload only
    with user_jobs.shipped_reference("mnist-l2") as shipped:
        assert shipped == ("mnist-l2", [])
    odd = tmp_path / "my-job.py"
    odd.write_text(path.read_text())
    with pytest.raises(BadInputError, match="'my-job' on the cluster, which is not a Python"):
        with user_jobs.shipped_reference(f"{odd}:tiny"):
            pass


def test_submit_of_a_file_job_sends_its_file_in_py_modules(tmp_path, monkeypatch):
    from tune_jobs.cli import service

    path = write_job(tmp_path)
    submitted = {}

    class Client:
        def submit_job(self, **kwargs):
            submitted.update(kwargs)
            (package,) = kwargs["runtime_env"]["py_modules"]
            submitted["files"] = sorted(p.name for p in Path(package).iterdir())
            return "raysubmit_1"

    monkeypatch.setattr(service, "dashboard_url", lambda address: "http://127.0.0.1:8265")
    monkeypatch.setattr(service, "job_client", lambda url: Client())
    monkeypatch.setattr(service, "node_cpus", lambda url: [2.0])
    argv = ["submit", f"{path}:tiny", "--storage", str(tmp_path / "results"), "--name", "sub"]
    assert main(argv) == 0
    assert submitted["files"] == ["__init__.py", "myjob.py"]
    assert "run tune_jobs_user_code.myjob:tiny" in submitted["entrypoint"]
