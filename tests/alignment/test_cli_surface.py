"""What the train app offers is what works: `fit` and `validate` only, no top-level `--optimizer`, and
`fit --help` names every objective with key options that really are its parameters."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from lightning.pytorch import LightningModule

import omnialign.alignment.modules as modules
from omnialign.alignment.cli import main
from omnialign.alignment.objectives import OBJECTIVES

BASES = {"AlignmentModule", "PolicyModule", "ScoreModelModule", "OnlineRLModule"}  # not trainable alone


def _class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _parameters(cls: type) -> set[str]:
    """Init parameters of `cls` and of every base it forwards `**kwargs` to."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is LightningModule:
            break
        names |= set(inspect.signature(klass.__init__).parameters) if "__init__" in vars(klass) else set()
    return names


def test_every_objective_is_listed_with_real_options():
    found = set()
    for info in pkgutil.iter_modules(modules.__path__, modules.__name__ + "."):
        for name, cls in inspect.getmembers(importlib.import_module(info.name), inspect.isclass):
            if issubclass(cls, LightningModule) and cls.__module__ == info.name and name not in BASES:
                found.add(f"{cls.__module__}.{name}")
    assert found == set(OBJECTIVES)
    for path, (_, options) in OBJECTIVES.items():
        missing = set(options) - _parameters(_class(path))
        assert not missing, f"{path} has no parameters {missing}"


def test_fit_help_names_every_objective(monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    for path, (_, options) in OBJECTIVES.items():
        assert f"{path}: " in printed and ", ".join(options) in printed


@pytest.mark.parametrize(
    "args",
    [
        ["test", "--config", "configs/quickstart.yaml"],
        ["predict", "--config", "configs/quickstart.yaml"],
        ["fit", "--config", "configs/quickstart.yaml", "--optimizer=torch.optim.SGD", "--print_config"],
        ["fit", "--config", "configs/quickstart.yaml", "--lr_scheduler=torch.optim.lr_scheduler.StepLR"],
    ],
    ids=["test", "predict", "optimizer", "lr_scheduler"],
)
def test_what_cannot_work_is_not_offered(args, repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2, "argparse's usage error"
    error = capsys.readouterr().err
    assert "invalid choice" in error or "Unrecognized arguments" in error or "unrecognized" in error.lower()
