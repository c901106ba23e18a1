"""A CSM model + processor built offline: tiny random weights for tests, full size for benchmarks.

Saved with save_pretrained, it loads through the same from_pretrained path as sesame/csm-1b."""
from __future__ import annotations

SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"]

# Renders each turn as <bos>[speaker]text<eos>, plus <|AUDIO|><|audio_eos|> when the turn carries audio:
# the prompt layout of sesame/csm-1b's own chat template.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{{ bos_token }}[{{ m['role'] }}]"
    "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{{ eos_token }}"
    "{% for c in m['content'] %}{% if c['type'] == 'audio' %}<|AUDIO|><|audio_eos|>{% endif %}{% endfor %}"
    "{% endfor %}"
)


def build_tokenizer(special_base: int):
    """Byte-level BPE with no merges; the four special tokens get ids special_base .. special_base + 3."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    byte_symbols = list(pre_tokenizers.ByteLevel.alphabet())
    vocab = {s: i for i, s in enumerate(sorted(byte_symbols))}
    for i in range(len(vocab), special_base):  # fillers so the specials land on the model's ids
        vocab[f"<|reserved_{i}|>"] = i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    assert tok.token_to_id(SPECIALS[0]) == special_base
    bos, eos = SPECIALS[0], SPECIALS[1]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {bos} $B {eos}",
        special_tokens=[(bos, special_base), (eos, special_base + 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=SPECIALS[2],
                                   padding_side="left")


def build_processor(special_base: int):
    from transformers import CsmProcessor, EncodecFeatureExtractor

    return CsmProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=24000), build_tokenizer(special_base),
                        chat_template=CHAT_TEMPLATE)


def tiny_config(codebooks: int = 4, backbone_layers: int = 2, depth_layers: int = 1, positions: int = 2048):
    """Tiny widths. codebooks=32, backbone_layers=16, depth_layers=4 keep csm-1b's structure (31 depth-decoder
    steps of 4 layers per frame, 16 backbone layers): its host overhead, with next to no arithmetic."""
    from transformers import CsmConfig, CsmDepthDecoderConfig, MimiConfig

    base = 256
    codec = MimiConfig(hidden_size=16, num_filters=4, upsample_groups=16, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=2, head_dim=8, intermediate_size=32, codebook_size=64, codebook_dim=16,
                       vector_quantization_hidden_dimension=16,
                       num_quantizers=codebooks, num_semantic_quantizers=1, upsampling_ratios=[8, 6, 5, 4],
                       kernel_size=7, last_kernel_size=3, residual_kernel_size=3, num_residual_layers=1, compress=2,
                       sliding_window=16)
    depth = CsmDepthDecoderConfig(num_codebooks=codebooks, backbone_hidden_size=32, vocab_size=64, hidden_size=32,
                                  intermediate_size=64, num_hidden_layers=depth_layers, num_attention_heads=2,
                                  num_key_value_heads=1, max_position_embeddings=codebooks + 1)
    return CsmConfig(num_codebooks=codebooks, vocab_size=64, text_vocab_size=base + 8, hidden_size=32,
                     intermediate_size=64, num_hidden_layers=backbone_layers, num_attention_heads=2,
                     num_key_value_heads=1,
                     max_position_embeddings=positions, bos_token_id=base, pad_token_id=base + 2,
                     audio_token_id=base + 2, audio_eos_token_id=base + 3, codebook_pad_token_id=63,
                     codebook_eos_token_id=0, depth_decoder_config=depth.to_dict(), codec_config=codec.to_dict())


def build_tiny_csm(path: str, seed: int = 0, positions: int = 2048) -> str:
    """Save a random tiny CSM (with `positions` backbone positions) and its processor into path; returns path."""
    import torch
    from transformers import CsmForConditionalGeneration

    torch.manual_seed(seed)
    model = CsmForConditionalGeneration(tiny_config(positions=positions))
    with torch.no_grad():
        # At init scale the logits are ~0.1, nearly uniform, and the sampled codes hardly depend on the
        # prompt: sharpen the heads so speakers, context and references visibly change the output.
        model.lm_head.weight.mul_(40)
        model.depth_decoder.codebooks_head.weight.mul_(40)
        # Mimi's codebooks start at zero, so every code would decode to the same sound (and every context clip
        # encode to code 0): give them random entries.
        for name, buf in model.codec_model.named_buffers():
            if name.endswith("codebook.embed_sum"):
                buf.normal_()
        # Keep the random codec's output inside [-1, 1] instead of clipping: tests then see real waveforms.
        last = model.codec_model.decoder.decoder_seanet.layers[-1].conv
        last.weight.mul_(0.05)
        last.bias.zero_()
    model.save_pretrained(path)
    build_processor(model.config.bos_token_id).save_pretrained(path)
    return path
