#!/usr/bin/env bash
# GPU check for DeepSpeed (issue 10): the DPO and reward-model recipes under ZeRO-2 and ZeRO-3, each run for
# one epoch, then exported to HF format from its sharded checkpoint with apps/export.py (consolidated on CPU).
# Run from the repository root on a machine with a GPU:
#   bash bench/deepspeed_zero.sh                 # the recipes' tiny backbones (offline)
#   bash bench/deepspeed_zero.sh /path/to/model  # a local real small model (a hub id needs the network)
# One line per run goes to stdout and to runs/bench-deepspeed/results.tsv, ready for BENCHMARKS.md.
set -uo pipefail
backbone=${1:-}
out=runs/bench-deepspeed
mkdir -p "$out"
printf 'recipe\tstrategy\ttrain_rc\tseconds\texport_rc\n' | tee "$out/results.tsv"
for recipe in dpo/tiny-text score/reward_text_tiny; do
  for stage in zero2 zero3; do
    dir="$out/$(basename "$recipe")-$stage"
    rm -rf "$dir" && mkdir -p "$dir"
    extra=()
    [ -n "$backbone" ] && extra+=("--model.init_args.backbone.name=$backbone")
    start=$(date +%s)
    uv run apps/train.py fit --config "configs/$recipe.yaml" --config "configs/strategies/deepspeed_$stage.yaml" \
      --trainer.max_epochs=1 --trainer.default_root_dir="$dir" \
      --trainer.logger=lightning.pytorch.loggers.CSVLogger --trainer.logger.save_dir="$dir" \
      "${extra[@]}" >"$dir/train.log" 2>&1
    train_rc=$?
    seconds=$(($(date +%s) - start))
    last=$(find "$dir" -path '*checkpoints/last.ckpt' -print -quit)
    export_rc=skipped
    if [ -n "$last" ]; then
      uv run apps/export.py --checkpoint "$last" --output "$dir/hf" >"$dir/export.log" 2>&1
      export_rc=$?
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$recipe" "deepspeed_$stage" "$train_rc" "$seconds" "$export_rc" \
      | tee -a "$out/results.tsv"
  done
done
