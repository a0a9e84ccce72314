"""The LLF app's command line: one YAML describes the pipeline (`LLFPipeline`), `--stages` picks stages.

jsonargparse (the parser LightningCLI uses) reads the dataclasses directly, so the YAML is checked strictly
(a misspelt key is an error) and `--print_config` shows every default.
"""

from __future__ import annotations

from dataclasses import fields

from jsonargparse import ActionConfigFile, ArgumentParser, Namespace

from omnialign.pipelines.llf.config import LLFPipeline
from omnialign.pipelines.llf.pipeline import run_pipeline


def parser() -> ArgumentParser:
    parser = ArgumentParser(description="Learning from language feedback, stage by stage.")
    parser.add_argument("--config", action=ActionConfigFile, help="pipeline YAML (configs/llf/*.yaml)")
    parser.add_class_arguments(LLFPipeline, None, as_group=False)
    parser.add_argument(
        "--stages", type=list[str] | None, default=None, help="stages to run (default: all configured)"
    )
    return parser


def build(config: Namespace) -> LLFPipeline:
    """The pipeline a parsed config describes (nested stage dataclasses instantiated)."""
    init = parser().instantiate(config)
    return LLFPipeline(**{f.name: init[f.name] for f in fields(LLFPipeline)})


def main(args: list[str] | None = None) -> None:
    config = parser().parse_args(args)
    run_pipeline(build(config), config.stages)
