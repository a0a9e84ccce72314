"""Experiment tracking: W&B's own rules for online/offline, and the whole resolved config in every logger.

W&B decides by itself whether a run syncs: `WANDB_MODE` wins, else a run is online when credentials are
configured (`WANDB_API_KEY`, an identity token, the settings file, or the `.netrc` that `wandb login`
writes), else `wandb.init` prompts, which blocks or fails on a machine without a terminal. The train app
keeps the first two rules as they are and replaces only the prompt with offline logging, so a logged-in
machine and a `wandb agent` child (which finds the agent's login the same way) sync, and a fresh machine
never blocks.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning.pytorch import Trainer


def wandb_offline_unless_logged_in() -> None:
    """Set `WANDB_MODE=offline` when the user set no mode and wandb finds no credentials (checked without
    a prompt and without contacting the server). Imports wandb only, so it costs nothing before parsing."""
    if "WANDB_MODE" in os.environ:
        return
    import wandb
    from wandb.sdk import wandb_setup
    from wandb.sdk.lib import wbauth

    # wandb's own credential search (session, `WANDB_API_KEY`, identity token, settings file, `.netrc`) with
    # the prompt off. Not `wandb.login(verify=False)`: when it finds a key it starts the wandb-core service
    # to look up the account name for its "logged in as" message, which waits on the server and hangs
    # for minutes on a machine without network, and it rewrites the user's settings file.
    settings = wandb_setup.singleton().settings  # settings only: `wandb.setup()` would start the service
    host = wbauth.HostUrl(settings.base_url, app_url=settings.app_url)
    found = wbauth.authenticate_session(
        host=host, source="omnialign", prompt=False, verify=False, update_session=False
    )
    if found is None:
        os.environ["WANDB_MODE"] = "offline"
        # The check above made wandb load its process-wide settings, environment included, and later
        # `wandb.init` calls reuse them: without a reset the run would still be online and fail with "No
        # API key configured". `teardown` drops those settings (nothing else exists yet at this point).
        wandb.teardown()
        if os.environ.get("RANK", "0") == "0":  # once per launch, not once per process
            print("W&B: no credentials found, logging offline (`wandb login` to sync)", file=sys.stderr)


def log_resolved_config(trainer: Trainer, config: dict[str, Any]) -> None:
    """Give every logger the whole resolved run config (model, data, trainer, optimiser, schedule, seed),
    so a W&B run or a CSV `hparams.yaml` shows the learning rate, batch size and data files it trained with,
    not only the hyperparameters the module happened to save."""
    for logger in trainer.loggers:
        logger.log_hyperparams(config)


def require_wandb_logger_in_sweep(trainer: Trainer) -> None:
    """A `wandb agent` child (`WANDB_SWEEP_ID` set) must log to W&B: with only a CSV or TensorBoard logger
    the sweep's metric never reaches the sweep controller, and every run would look like it reported
    nothing."""
    from lightning.pytorch.loggers import WandbLogger

    sweep = os.environ.get("WANDB_SWEEP_ID")
    if sweep and not any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
        names = [type(logger).__name__ for logger in trainer.loggers] or ["no logger"]
        raise ValueError(
            f"this run belongs to W&B sweep {sweep} but logs to {', '.join(names)}: add "
            "--trainer.logger=lightning.pytorch.loggers.WandbLogger to the sweep's command"
        )
