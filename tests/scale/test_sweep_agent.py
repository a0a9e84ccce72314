"""W&B's online/offline rule and the sweep agent path, as far as wandb goes without a server.

- `wandb_offline_unless_logged_in`: a `.netrc` login (what `wandb login` writes) keeps the run online, no
  credentials make it offline (and a `wandb.init` after it does start offline), an explicit `WANDB_MODE` is
  left alone. Each case runs in a fresh process because wandb caches credentials and settings per process.
- Every sweep under configs/sweeps/ runs one trial through wandb's own `Agent` (its command building, its
  `${args}` flags and its environment: `WANDB_SWEEP_ID`, `WANDB_RUN_ID`, the sweep-parameter file); only the
  server that would hand out the trial is replaced by a command dict. The child logs offline, and its
  `.wandb` record file must hold the sweep's metric as a history value and the whole resolved config (the
  swept learning rate, the batch size, the data files).
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SWEEPS = sorted((REPO / "configs" / "sweeps").glob("*.yaml"))
CUT_DOWN = {  # fixed sweep arguments (the `value:` kind) that make one trial a few steps long
    "trainer.max_epochs": 1,
    "trainer.limit_train_batches": 2,
    "trainer.limit_val_batches": 1,
    "trainer.enable_progress_bar": False,
}
PROBE = "import os; from omnialign.alignment.tracking import wandb_offline_unless_logged_in as f; f(); "
PROBE += "print(os.environ.get('WANDB_MODE'))"
RUN_PROBE = PROBE + "; import wandb; run = wandb.init(project='probe', dir=os.getcwd())"
RUN_PROBE += "; print(run.settings.mode); run.finish()"


def _mode_after_probe(home: Path, probe: str = PROBE, timeout: int = 300, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_") and k != "NETRC"}
    run = subprocess.run(
        [sys.executable, "-c", probe],
        env={**clean, "HOME": str(home), "WANDB_CONFIG_DIR": str(home / ".config"), **env},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip().splitlines()[-1]


def test_wandb_mode_follows_wandbs_own_rules(tmp_path):
    logged_in, fresh = tmp_path / "logged-in", tmp_path / "fresh"
    logged_in.mkdir()
    fresh.mkdir()
    # The W&B host is a socket that never answers, as a server behind a firewall looks. The check must
    # find the login without contacting it: `wandb.login` does, to print the account name, and on a
    # machine without network that waits for minutes.
    with socket.create_server(("127.0.0.1", 0)) as silent_server:
        host = f"127.0.0.1:{silent_server.getsockname()[1]}"
        netrc = logged_in / ".netrc"
        netrc.write_text(f"machine {host}\n  login user\n  password {'0123456789' * 4}\n")
        netrc.chmod(0o600)
        online = _mode_after_probe(logged_in, timeout=60, WANDB_BASE_URL=f"http://{host}")
        silent_server.setblocking(False)
        with pytest.raises(BlockingIOError):  # no connection is waiting: nothing called the server
            silent_server.accept()
    assert online == "None"  # online: wandb finds the login by itself
    assert _mode_after_probe(fresh) == "offline"
    assert _mode_after_probe(fresh, WANDB_MODE="online") == "online"
    assert _mode_after_probe(logged_in, WANDB_MODE="disabled") == "disabled"
    # and wandb itself follows: the run starts offline instead of failing for want of an API key
    assert _mode_after_probe(fresh, probe=RUN_PROBE) == "offline"


def wandb_records(path: Path) -> Iterator:
    """The protobuf records of a `.wandb` file (LevelDB log framing: 32 KiB blocks, 7-byte chunk headers
    `<crc32, length, type>`, a record split over FIRST/MIDDLE/LAST chunks), after wandb's 7-byte file header.
    wandb no longer ships a Python reader for its own files, hence these lines."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    ident, _, _ = struct.unpack("<4sHB", data[:7])
    assert ident == b":W&B", f"{path} is not a wandb record file"
    position, pending = 7, b""
    while position + 7 <= len(data):
        if block - position % block < 7:  # block trailer: padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _history_and_config(run_file: Path) -> tuple[dict[str, list[float]], dict]:
    history: dict[str, list[float]] = {}
    config: dict = {}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                history.setdefault(key, []).append(json.loads(item.value_json))
        elif kind == "config":
            config |= {item.key: json.loads(item.value_json) for item in record.config.update}
    return history, config


def _first_value(spec: dict):
    return spec["values"][0] if "values" in spec else spec.get("value", spec.get("min"))


def _lookup(config: dict, dotted: str):
    for key in dotted.split("."):
        config = config[key]
    return config


@pytest.mark.slow
@pytest.mark.parametrize("sweep_file", SWEEPS, ids=lambda p: p.stem)
def test_one_agent_trial_logs_the_sweep_metric_and_the_whole_config(sweep_file, tmp_path, monkeypatch):
    from wandb.wandb_agent import Agent

    sweep = yaml.safe_load(sweep_file.read_text())
    trial = {name: _first_value(spec) for name, spec in sweep["parameters"].items()}
    fixed = {**CUT_DOWN, "trainer.default_root_dir": str(tmp_path / "run")}
    fixed["trainer.logger.init_args.save_dir"] = str(tmp_path / "run")
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WANDB_MODE", "offline")  # no server to sync to
    monkeypatch.setenv("WANDB_SWEEP_ID", "offline-sweep")  # what `wandb agent` sets for its children
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.chdir(REPO)  # the sweep's command names repository paths, as `wandb agent` run here would

    agent = Agent(api=None, queue=None, sweep_id="offline-sweep")
    agent._sweep_command = sweep["command"]  # what the agent reads from the sweep the server returns
    args = {name: {"value": value} for name, value in {**trial, **fixed}.items()}
    agent._command_run({"type": "run", "run_id": "trial0", "program": sweep["program"], "args": args})
    assert agent._run_processes["trial0"].wait(timeout=900) == 0

    [run_file] = (tmp_path / "run").rglob("offline-run-*-trial0/run-trial0.wandb")
    history, config = _history_and_config(run_file)
    metric = sweep["metric"]["name"]
    assert metric in history, f"{sweep_file.name}: '{metric}' never logged; logged: {sorted(history)}"
    assert all(math.isfinite(value) for value in history[metric])
    for name, value in trial.items():  # the swept values, as the run resolved them
        assert _lookup(config, name) == value
    assert config["data"]["init_args"]["train_files"], "data files missing from the logged config"
