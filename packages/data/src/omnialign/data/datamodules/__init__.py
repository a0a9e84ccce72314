"""One LightningDataModule per task kind (SFT, preference, prompt-only, SafeSora ...), parametrised by
schema and modality rather than one class per modality x task."""

from omnialign.data.datamodules.sft import SFTDataModule

__all__ = ["SFTDataModule"]
