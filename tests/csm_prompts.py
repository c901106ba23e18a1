"""Prompts for the tiny CSM models the CSM tests share: conversations with and without context audio."""
import numpy as np
import torch


def clip(seconds: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(24000 * seconds)) * 0.1).astype(np.float32)


PROMPTS = {
    "text only": [("1", "Say this, please.", None)],
    "context audio": [("0", "Hello there.", clip(1.0, 0)), ("1", "And a reply to that.", None)],
    "reference and previous chunk": [("0", "This is my voice.", clip(0.6, 1)), ("0", "The first part.", clip(0.8, 2)),
                                     ("0", "The second part.", None)],
}


def prompt(processor, turns):
    conversation = [{"role": role, "content": [{"type": "text", "text": text}]
                     + ([{"type": "audio", "audio": audio}] if audio is not None else [])}
                    for role, text, audio in turns]
    return processor.apply_chat_template(conversation, tokenize=True, return_dict=True)


def embeds(model, inputs):
    with torch.inference_mode():
        return model._merge_input_ids_with_input_values(inputs["input_ids"], inputs.get("input_values"),
                                                         inputs.get("input_values_cutoffs"))["inputs_embeds"]
