"""One LightningDataModule per task kind (SFT, preference, prompt-only, SafeSora video labels ...),
parametrised by schema and modality rather than one class per modality x task."""

from omnialign.data.datamodules.moderation import ModerationDataModule
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.datamodules.prompt import PromptDataModule
from omnialign.data.datamodules.sft import SFTDataModule

__all__ = ["ModerationDataModule", "PreferenceDataModule", "PromptDataModule", "SFTDataModule"]
