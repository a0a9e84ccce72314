"""Inference, below every objective, pipeline and evaluation, so all of them run the same code.

- `text`: `GenerationOptions`, the `GenerationBackend` interface (HF `generate`: `HFGenerateBackend`; vLLM:
  `vllm.VLLMBackend`), `TextGenerator` (samples in, text out, seeded per batch);
- `interleaved`: `InterleavedGenerator`, text then an image with classifier-free guidance (any-to-any);
- `media`: `MediaGenerator`, diffusers pipelines (text → image, video, audio);
- `logprobs`: `response_token_logprobs`, the one response-log-prob function;
- `tied_head`: a tied-embedding model's LM head, its weight gradient summed in place with the embedding's;
- `prefix_mask`: the explicit attention mask of shared-prefix preference rows (prompt once, two responses);
- `block_attention`: packed and shared-prefix rows attended block by block (one SDPA batch of blocks);
- `shared_prompts`: online RL's log-probs with each distinct prompt of a mini-batch run once;
- `sharding`, `weights`: what generation must know about ZeRO-3/FSDP-sharded models.

Score-model scoring is `omnialign.models.score.ScoreModel.score_samples`; rule judges (`KeywordRule`,
`PlainProse`) live in `omnialign.models.rules`. A new generation backend is one `GenerationBackend` subclass
here. Submodules are imported where they are used (diffusers and vllm are heavy), so this package imports
nothing on its own.
"""
