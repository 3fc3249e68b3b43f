"""Device placement and device-neutral checkpoints, checked on a CPU-only machine."""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from ray import tune
from torch import nn

from trainables.augment import AUGMENTATIONS
from trainables.reporting import (
    CHECKPOINT_FILE,
    cpu_copy,
    device_for,
    load_checkpoint_state,
    trial_device,
)


def test_the_trial_trains_on_cuda_only_when_ray_assigned_a_gpu_and_torch_sees_one():
    assert device_for([0], cuda_available=True) == "cuda:0"
    assert device_for(["3"], cuda_available=True) == "cuda:0"  # Ray made GPU 3 the only visible
    assert device_for([], cuda_available=True) == "cpu"
    assert device_for([0], cuda_available=False) == "cpu"
    assert trial_device() == torch.device("cpu")  # outside a Ray worker nothing is assigned


def claim_device(path: Path, location: str) -> None:
    """Rewrite a `torch.save` file so its tensors say they were saved on `location`, as a file
    written on that device does (the storage location is a string in the archive's data.pkl)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    claimed = b"X" + len(location).to_bytes(4, "little") + location.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", claimed)
            target.writestr(info.filename, data)


@pytest.mark.skipif(torch.cuda.is_available(), reason="shows the CPU-only case")
def test_a_checkpoint_written_on_a_gpu_loads_on_a_cpu_only_machine(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 2}
    torch.save(state, tmp_path / CHECKPOINT_FILE)
    claim_device(tmp_path / CHECKPOINT_FILE, "cuda:0")
    with pytest.raises(RuntimeError, match="CUDA"):  # the file now names a GPU, as if written there
        torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)

    loaded = load_checkpoint_state(tune.Checkpoint.from_directory(tmp_path))
    resumed = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    resumed.load_state_dict(loaded["model"])
    torch.optim.Adam(resumed.parameters()).load_state_dict(loaded["optimizer"])
    for name, tensor in model.state_dict().items():
        assert loaded["model"][name].device.type == "cpu"
        assert torch.equal(resumed.state_dict()[name], tensor), name


def test_checkpoint_states_are_cpu_copies_with_structure_and_layer_versions_kept():
    model = nn.BatchNorm1d(2)
    weights = model.state_dict()
    state = {"model": weights, "list": [torch.ones(1), 3], "pair": (torch.zeros(1), "x"), "e": 4}
    copied = cpu_copy(state)
    assert type(copied["model"]) is OrderedDict
    assert copied["model"]._metadata == weights._metadata  # BatchNorm's version, for loading
    assert copied["model"]["weight"].data_ptr() == weights["weight"].data_ptr()  # no CPU copy
    assert isinstance(copied["pair"], tuple) and copied["pair"][1] == "x"
    assert copied["list"][1] == 3 and copied["e"] == 4


@pytest.mark.parametrize("policy", sorted(AUGMENTATIONS))
def test_every_augmentation_keeps_the_batch_on_its_device(policy):
    # The meta device stands in for a GPU: any CPU tensor mixed into the batch's arithmetic fails.
    batch = torch.empty(4, 3, 32, 32, dtype=torch.uint8, device="meta")
    out = AUGMENTATIONS[policy](batch, torch.Generator().manual_seed(0))
    assert out.device.type == "meta" and out.shape == batch.shape
