"""What every task's DataModule shares: reading and validating records into samples once per process,
getting the model's processor, lazy per-item encoding, and deterministic shuffling.

The processor belongs to the model (its vocabulary, chat template, image processor), so by default it is
taken from the LightningModule the trainer is fitting (`processor` attribute); tests and tools can attach
one directly with `attach_processor`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset, Subset

from omnialign.data.collate import pack_sequences, pad_sequences
from omnialign.data.datamodules.contract import BatchContract
from omnialign.data.encode import ChatEncoder, EncodedSequence
from omnialign.data.interleaved import encoder_for
from omnialign.data.records import load_samples
from omnialign.data.sample import Sample
from omnialign.data.sampling import EpochShuffleSampler


class EncodedDataset(Dataset):
    """Samples encoded on access, so media decoding runs in the loader workers."""

    def __init__(self, samples: Sequence[Sample], encode: Callable[[Sample], Any]) -> None:
        self.samples = samples
        self.encode = encode

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        return self.encode(self.samples[index], index)


class SampleDataModule(LightningDataModule):
    """Base class; subclasses say how one sample is encoded (`encode`) and how items are batched
    (`collate`)."""

    schema: str = "sft"

    def __init__(
        self,
        train_files: list[str],
        val_files: list[str] | None = None,
        train_split: str = "train",
        val_split: str = "validation",
        columns: dict[str, str] | None = None,
        dimension_letters: dict[str, str] | None = None,
        media_root: str | None = None,
        on_invalid: Literal["error", "skip"] = "error",
        rejects_path: str | None = None,
        verify_media: bool = False,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        max_length: int = 1024,
        packing: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        """
        Args:
            train_files: Training data: json, json.gz, jsonl or parquet files, saved HF dataset folders,
                or hub ids (`owner/name:config` for a dataset with several configurations).
            val_files: Validation data, same formats.
            train_split: Split read from hub ids and saved `DatasetDict` folders in `train_files`.
            val_split: Split read from hub ids and saved `DatasetDict` folders in `val_files`.
            columns: Schema field -> column holding it in the files, for data whose columns are named
                differently (`{question: prompt_text}`); unmapped columns keep their names.
            dimension_letters: align-anything only: preference dimension -> the letter its preference and
                rationale columns use in the files (`{consistency: a}` reads `a_audio`, `a_rationale_1`).
            media_root: Folder that relative media paths in the records are resolved against.
            on_invalid: `error` stops at the first bad record (naming file, row and field); `skip` drops bad
                records, counts them by reason and reports the count.
            rejects_path: With `skip`, also write every rejected row with its error to this JSONL file.
            verify_media: Open every media file while loading, so a missing or corrupt file fails up front.
            batch_size: Training batch size per device.
            eval_batch_size: Validation batch size per device (default: `batch_size`).
            max_length: Longest token sequence; responses are cut on the right to fit.
            packing: Concatenate a batch's text sequences into one row without padding (padding-free);
                saves the compute spent on pad tokens when lengths vary. Text-only batches.
            num_workers: DataLoader worker processes.
            seed: Seed of the shuffling order (epoch e uses `seed + e`, so resumed runs see the same order).
        """
        super().__init__()
        self.train_files = list(train_files)
        self.val_files = list(val_files or [])
        self.source_splits = {"train": train_split, "val": val_split}
        self.columns = dict(columns or {})
        self.dimension_letters = dict(dimension_letters or {})
        self.media_root = media_root
        self.on_invalid = on_invalid
        self.rejects_path = rejects_path
        self.verify_media = verify_media
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.max_length = max_length
        self.packing = packing
        self.num_workers = num_workers
        self.seed = seed
        self.processor: Any = None
        self.encoder: ChatEncoder | None = None
        self._samples: dict[str, list[Sample]] = {}

    # -- hooks for subclasses -------------------------------------------------------------------------
    def encode(self, sample: Sample, index: int) -> Any:
        """Tensors for one sample; `index` is its position in the split (for per-sample caches)."""
        raise NotImplementedError

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def load_options(self) -> dict[str, Any]:
        """Extra keyword arguments for `load_samples` (e.g. the preference dimension)."""
        return {}

    # -- shared machinery ------------------------------------------------------------------------------
    def attach_processor(self, processor: Any) -> None:
        self.processor = processor
        self.encoder = encoder_for(processor, max_length=self.max_length)

    def collate_sequences(self, items: Sequence[EncodedSequence]) -> dict[str, torch.Tensor]:
        """Pad encoded sequences on the side the model's tokenizer asks for, or pack them."""
        if self.packing:
            return pack_sequences(items)
        tokenizer = self.encoder.tokenizer
        return pad_sequences(items, tokenizer.pad_token_id, side=tokenizer.padding_side)

    def _resolve_processor(self) -> None:
        if self.processor is not None:
            return
        module = self.trainer.lightning_module if self.trainer is not None else None
        processor = getattr(module, "processor", None)
        if processor is None:
            raise RuntimeError(
                f"{type(self).__name__} needs the model's processor: fit it with a module that has a "
                "`processor` attribute, or call attach_processor()"
            )
        self.attach_processor(processor)

    def _rejects_path(self) -> str | None:
        """Rank zero alone writes rejects (every rank reads the same rows); the file starts empty each run."""
        if self.rejects_path is None or (self.trainer is not None and self.trainer.global_rank != 0):
            return None
        if not self._samples:
            Path(self.rejects_path).unlink(missing_ok=True)
        return self.rejects_path

    def _load(self, split: str, files: list[str]) -> list[Sample]:
        if split not in self._samples:
            samples: list[Sample] = []
            rejects = self._rejects_path()
            for source in files:
                result = load_samples(
                    source,
                    self.schema,
                    on_invalid=self.on_invalid,
                    rejects_path=rejects,
                    verify_media=self.verify_media,
                    media_root=self.media_root,
                    split=self.source_splits[split],
                    columns=self.columns,
                    dimension_letters=self.dimension_letters,
                    **self.load_options(),
                )
                rank_zero_info(f"[{split}] {result.report.summary()}")
                samples.extend(result.samples)
            if not samples:
                raise ValueError(f"no usable {split} samples in {files}")
            self._samples[split] = samples
        return self._samples[split]

    def setup(self, stage: str) -> None:
        self._resolve_processor()
        if stage == "fit":
            self._load("train", self.train_files)
        if self.val_files and stage in ("fit", "validate"):
            self._load("val", self.val_files)

    def contract(self) -> BatchContract:
        """What the batches promise the objective (subclasses add their target layouts)."""
        return BatchContract(packed=self.packing)

    def splits(self) -> list[str]:
        return [split for split in ("train", "val") if split in self._samples]

    def num_samples(self, split: str) -> int:
        return len(self._samples[split])

    def reference_dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader:
        """Every `world_size`-th sample of a split from `rank`, in order: for one-off passes such as
        precomputing reference log-probs, where each rank scores a disjoint shard."""
        samples = self._samples[split]
        return DataLoader(
            Subset(EncodedDataset(samples, self.encode), range(rank, len(samples), world_size)),
            batch_size=self.eval_batch_size,
            collate_fn=self.collate,
            num_workers=self.num_workers,
        )

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        samples = self._samples[split]
        return DataLoader(
            EncodedDataset(samples, self.encode),
            batch_size=batch_size,
            sampler=EpochShuffleSampler(len(samples), self.seed) if shuffle else None,
            collate_fn=self.collate,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        if "val" not in self._samples:
            return []
        return self._loader("val", self.eval_batch_size, shuffle=False)
