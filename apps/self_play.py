"""Self-play preference data for the main job: `uv run apps/self_play.py --output_dir data/smollm2`.

The embedded SmolLM2 answers the project's everyday training prompts N times, a transparent rule
(`omnialign.models.rules.PlainProse`) scores every answer, and best-vs-worst pairs are written as
`preference` records; the held-out prompts are written beside them. `--help` lists every setting. All logic
lives in `omnialign.pipelines.self_play`; this file only starts it.
"""

from jsonargparse import CLI

from omnialign.pipelines.self_play import run_self_play

if __name__ == "__main__":
    result = CLI(run_self_play)
    print(f"self-play: {result.pairs} pairs, skipped {dict(result.skipped)}, written to {result.output_dir}")
