"""One LightningModule per objective; each is model-agnostic and takes its backbone by options."""
