"""CSM's own frame loop and streaming decode, against transformers' generate() and a whole-chunk Mimi decode, on tiny
random models (4 codebooks as saved for the engine tests, and 32 like csm-1b: all 31 depth-decoder steps)."""
import numpy as np
import pytest
import torch

from tests.csm_prompts import PROMPTS, embeds, prompt
from tools.syncs import count_syncs
from tools.tiny_csm import build_processor, build_tiny_csm, tiny_config
from tts.engines.csm_batch import _end_of_audio
from tts.engines.csm_decode import StreamingDecoder
from tts.engines.csm_loop import HISTORY, FrameLoop, count_ops, gumbel, same_step
from tts.engines.csm_schedule import PIECE_FRAMES, piece_ends

FRAMES = 24


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny CSM the engine tests load, with its processor: (model, processor)."""
    from transformers import AutoProcessor, CsmForConditionalGeneration

    path = build_tiny_csm(str(tmp_path_factory.mktemp("tiny-csm")))
    return CsmForConditionalGeneration.from_pretrained(path).eval(), AutoProcessor.from_pretrained(path)


@pytest.fixture(scope="module")
def tiny32():
    """A tiny CSM with csm-1b's 32 codebooks, in memory."""
    from transformers import CsmForConditionalGeneration

    torch.manual_seed(1)
    config = tiny_config(codebooks=32)
    model = CsmForConditionalGeneration(config).eval()
    with torch.no_grad():  # sharpen the heads, as build_tiny_csm does, so greedy choices are not near-ties
        model.lm_head.weight.mul_(40)
        model.depth_decoder.codebooks_head.weight.mul_(40)
    return model, build_processor(config.bos_token_id)


def run(loop, model, inputs, frames=FRAMES, slot=0, seed=0, temperature=0.9, top_k=50):
    loop.prefill(slot, embeds(model, inputs), seed, temperature, top_k)
    out = []
    for f in range(frames):
        loop.step()
        out.append(loop.codes(slot, f, f + 1))
    loop.release(slot)
    return torch.cat(out)


def reference(model, inputs, frames=FRAMES):
    with torch.inference_mode():
        return model.generate(**inputs, max_new_tokens=frames, do_sample=False, depth_decoder_do_sample=False)[0]


@pytest.mark.parametrize("which", ["tiny", "tiny32"])
@pytest.mark.parametrize("case", list(PROMPTS))
def test_greedy_codes_equal_generate(request, which, case):
    model, processor = request.getfixturevalue(which)
    inputs = prompt(processor, PROMPTS[case])
    want = reference(model, inputs)
    got = run(FrameLoop(model, greedy=True), model, inputs)
    assert want.shape == got.shape == (FRAMES, model.config.num_codebooks)
    assert torch.equal(got, want)


def test_a_frame_step_makes_no_host_sync(tiny32):
    model, processor = tiny32
    for greedy in (True, False):
        loop = FrameLoop(model, greedy=greedy)
        loop.prefill(0, embeds(model, prompt(processor, PROMPTS["text only"])), seed=5, temperature=0.8, top_k=20)
        loop.step()
        with count_syncs() as syncs:
            for _ in range(3):
                loop.step()
        assert syncs.total == 0, syncs.by_op
    with count_syncs() as syncs, torch.inference_mode():  # the counter does see generate()'s syncs
        model.generate(**prompt(processor, PROMPTS["text only"]), max_new_tokens=2, do_sample=True)
    assert syncs.total > 2 * 31


def test_sampling_is_reproducible_by_seed_whatever_ran_before(tiny):
    model, processor = tiny
    inputs = prompt(processor, PROMPTS["context audio"])
    loop = FrameLoop(model)
    first = run(loop, model, inputs, seed=7)
    run(loop, model, prompt(processor, PROMPTS["text only"]), seed=99, temperature=1.3, top_k=3)
    torch.manual_seed(12345)  # global RNG state plays no part
    assert torch.equal(run(loop, model, inputs, seed=7), first)
    assert not torch.equal(run(loop, model, inputs, seed=8), first)
    assert not torch.equal(run(loop, model, inputs, seed=7, temperature=0.3), first)
    # top_k=1 leaves one candidate: sampling is then greedy decoding
    assert torch.equal(run(loop, model, inputs, seed=3, top_k=1), run(FrameLoop(model, greedy=True), model, inputs))


def test_the_sampler_draws_from_the_softmax_of_the_top_k(tiny):
    model, _ = tiny
    rows, vocab = 256, model.config.vocab_size
    loop = FrameLoop(model, slots=rows)
    logits = torch.linspace(0, 3, vocab).repeat(rows, 1)
    s = loop.state
    s.temperature.fill_(1.5)
    s.top_k.fill_(8)
    s.seed[:, 0] = torch.arange(rows)
    counts = torch.zeros(vocab)
    view = loop.rows_view(rows)
    for frame in range(40):
        s.frame.fill_(frame)
        noise, kth = loop._sampling(view)
        for codebook in range(4):
            counts += torch.bincount(loop._pick(logits, codebook, view, noise, kth), minlength=vocab)
    want = torch.softmax(logits[0, -8:] / 1.5, -1) * counts.sum()
    assert counts[:-8].sum() == 0
    assert torch.allclose(counts[-8:], want, rtol=0.08), (counts[-8:], want)


def test_gumbel_noise_is_finite_at_both_ends_of_the_hash():
    # The largest hash once made u round to exactly 1.0: noise +inf, and a token outside top-k (-inf + inf = nan)
    # could win the argmax, about once per 20 s of audio.
    bits = torch.tensor([0, 1, 0xFF, 0x1FF, 0xFFFFFE00, 0xFFFFFFFE, 0xFFFFFFFF], dtype=torch.long)
    noise = gumbel(bits)
    assert torch.isfinite(noise).all(), noise
    assert noise[-1] > noise[0]  # still increasing in the hash
    scores = torch.tensor([[2.0, float("-inf")]])  # the second token is outside top-k
    assert (scores + gumbel(torch.tensor([[0, 0xFFFFFFFF]]))).argmax(-1).item() == 0


def test_a_released_slot_at_the_end_of_its_positions_does_not_break_its_batch_mates():
    """A request may use every position left to it; once it leaves, steps that still span its row (a batch mate
    in a later slot) must stay in bounds: the slot is back at position 0, and the step clamps positions."""
    from transformers import CsmForConditionalGeneration

    torch.manual_seed(2)
    config = tiny_config(positions=64)
    model = CsmForConditionalGeneration(config).eval()
    short = torch.randn(1, 5, config.hidden_size)
    want = FrameLoop(model, greedy=True)
    want.prefill(0, short, 0, 0.9, 50)
    solo = []
    for f in range(8):
        want.step()
        solo.append(want.codes(0, f, f + 1))
    loop = FrameLoop(model, slots=2, greedy=True)
    loop.prefill(0, torch.randn(1, 62, config.hidden_size), 0, 0.9, 50)  # room for exactly 2 frames
    loop.prefill(1, short, 0, 0.9, 50)
    got = []
    for f in range(8):
        if f == 2:
            assert loop.state.pos[0] == 64  # slot 0 used its whole budget
            loop.release(0)
        loop.step(2)
        got.append(loop.codes(1, f, f + 1))
    assert torch.equal(torch.cat(got), torch.cat(solo))
    assert loop.state.pos[0] == 0
    loop.prefill(0, torch.randn(1, 63, config.hidden_size), 0, 0.9, 50)
    loop.step(2)
    loop.step(2)  # still active at position 64 (a budget overrun): written at the last position, in bounds
    assert loop.state.pos[0] == 65


def test_a_request_moved_to_another_slot_goes_on_as_if_it_had_not_moved(tiny):
    model, processor = tiny
    inputs = prompt(processor, PROMPTS["context audio"])
    solo = run(FrameLoop(model), model, inputs, seed=3)
    loop = FrameLoop(model, slots=4)
    loop.prefill(3, embeds(model, inputs), 3, 0.9, 50)
    got = []
    for f in range(FRAMES):
        if f == 10:
            loop.move(3, 1)
        slot = 3 if f < 10 else 1
        loop.step(4 if f < 10 else 2)
        got.append(loop.codes(slot, f, f + 1))
    assert torch.equal(torch.cat(got), solo)
    assert not loop.state.active[3] and loop.state.pos[3] == 0


def test_a_graph_that_does_not_replay_its_step_is_caught(tiny):
    """The start-up check of each captured CUDA graph (a graph captured on another device is empty, and its
    replays do nothing), shown with a step that does nothing against the real one."""
    model, _ = tiny
    loop = FrameLoop(model, slots=4)
    assert not same_step(loop, lambda: None, loop.step_fn, 2)
    assert same_step(loop, lambda: loop.step_fn(2), loop.step_fn, 2)
    assert not same_step(loop, lambda: loop.step_fn(1), loop.step_fn, 2)  # a graph of the wrong rows
    assert not loop.state.active.any() and not loop.state.pos.any()  # every slot free again


def test_a_frame_step_dispatches_no_more_operations_than_its_budget():
    """The regression guard for the step's host cost (what a GPU waits on when kernels are not graphed): the
    aten operations one step dispatches with csm-1b's layer counts, at 1 and 4 rows. Deterministic on any
    machine, unlike a timing. The fixed loop dispatches 3,389 (sampled) and 3,132 (greedy), the same at any row
    count; it was 11,273 before."""
    from transformers import CsmForConditionalGeneration

    torch.manual_seed(0)
    model = CsmForConditionalGeneration(tiny_config(codebooks=32, backbone_layers=16, depth_layers=4)).eval()
    for greedy, budget in ((False, 3_450), (True, 3_200)):
        loop = FrameLoop(model, slots=4, greedy=greedy)
        for rows in (1, 4):
            ops = count_ops(loop, rows)
            assert ops.total <= budget, (greedy, rows, ops.total, ops.by_op.most_common(10))


def test_rows_of_a_batch_are_independent_and_inactive_rows_do_not_move(tiny):
    model, processor = tiny
    a, b = prompt(processor, PROMPTS["text only"]), prompt(processor, PROMPTS["context audio"])
    solo = run(FrameLoop(model), model, a, seed=4)
    loop = FrameLoop(model, slots=3)
    loop.prefill(1, embeds(model, b), 9, 0.9, 50)
    loop.prefill(2, embeds(model, a), 4, 0.9, 50)
    pos0 = loop.state.pos[0].clone()
    frames = []
    for f in range(FRAMES):
        loop.step()
        frames.append(loop.codes(2, f, f + 1))
    assert torch.equal(torch.cat(frames), solo)   # sampled: its seed alone decides, whatever its batch mates
    assert loop.state.pos[0] == pos0 and loop.state.frame[0] == 0
    assert loop.state.frame[1] == FRAMES


@pytest.mark.slow
def test_the_step_compiles_whole_with_no_graph_break_and_gives_the_same_codes(tiny):
    import torch._dynamo

    model, processor = tiny
    inputs = prompt(processor, PROMPTS["context audio"])
    loop = FrameLoop(model, greedy=True)
    torch._dynamo.reset()
    with torch.inference_mode():
        explained = torch._dynamo.explain(loop.step_fn)(1)
    assert explained.graph_count == 1 and explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(loop.step_fn, fullgraph=True, dynamic=False)
    loop.run = compiled
    assert torch.equal(run(loop, model, inputs), reference(model, inputs))


def test_streamed_decode_equals_a_whole_decode(tiny):
    model, _ = tiny
    codes = torch.randint(0, model.config.codec_config.codebook_size, (60, model.config.num_codebooks))
    with torch.inference_mode():
        whole = model.codec_model.decode(codes.T[None]).audio_values[0, 0].numpy()
    decoder, pieces, done = StreamingDecoder(model.codec_model), [], 0
    for end in piece_ends(len(codes)):
        pieces.append(decoder.push(codes[done:end]))
        done = end
    ends = piece_ends(len(codes))
    assert [len(p) for p in pieces] == [1920 * (e - s) for s, e in zip([0, *ends[:-1]], ends, strict=True)]
    streamed = np.concatenate(pieces)
    snr = 10 * np.log10(np.sum(whole ** 2) / np.sum((whole - streamed) ** 2))
    assert snr >= 30, snr


def test_pieces_come_after_3_frames_then_every_4():
    assert piece_ends(1) == [1] and piece_ends(3) == [3]
    assert piece_ends(20) == [3, 7, 11, 15, 19, 20]
    ends = piece_ends(40)
    assert all(b - a == PIECE_FRAMES for a, b in zip(ends[:-2], ends[1:-1], strict=True))
    assert PIECE_FRAMES < HISTORY  # the host reads every frame of a piece before the ring overwrites it


def test_the_end_of_audio_frame_is_found_and_everything_after_it_dropped():
    codes = torch.ones(8, 4, dtype=torch.long)
    assert _end_of_audio(codes, 0) is None
    codes[5, :3] = 0  # as generate(): every codebook but the last is the end-of-audio token
    codes[7] = 0
    assert _end_of_audio(codes, 0) == 5


@pytest.fixture(scope="module")
def engine_csm(tmp_path_factory):
    from tests.helpers import make_settings
    from tts.engines import load_engine

    path = build_tiny_csm(str(tmp_path_factory.mktemp("tiny-csm-engine")))
    return load_engine("csm", make_settings(model_id=path, device="cpu"))


def test_the_engine_hands_over_audio_after_3_frames_then_every_4(engine_csm):
    eng, steps, read_after = engine_csm, [], []
    real_run, real_read = eng.loop.run, eng.loop.codes_many

    def reading(reads):
        read_after.append(len(steps))  # frames made when the batch thread reads codes for a piece
        return real_read(reads)

    eng.loop.run = lambda rows: (steps.append(rows), real_run(rows))
    eng.loop.codes_many = reading
    try:
        inputs = eng.prompt([], 0, "Streaming, piece by piece.")
        seen = [(len(p.samples), p.ends_segment) for p in eng.stream(inputs, 13, 1, 0.9, 50)]
    finally:
        eng.loop.run, eng.loop.codes_many = real_run, real_read
    assert read_after == [3, 7, 11, 13]
    assert seen == [(3 * 1920, False), (4 * 1920, False), (4 * 1920, False), (2 * 1920, True)]


def test_the_engine_stops_at_the_end_of_audio_frame(engine_csm, monkeypatch):
    eng = engine_csm
    real = eng.loop.codes_many

    def codes_ending_at_frame_5(reads):
        out = real(reads)
        for (_, start, stop), codes in zip(reads, out, strict=True):
            if start <= 5 < stop:
                codes[5 - start, :-1] = eng.eos
        return out

    monkeypatch.setattr(eng.loop, "codes_many", codes_ending_at_frame_5)
    pieces = list(eng.stream(eng.prompt([], 0, "Short."), 40, 1, 0.9, 50))
    assert [len(p.samples) for p in pieces] == [3 * 1920, 2 * 1920] and pieces[-1].ends_segment
    assert not eng.loop.state.active[0]  # the slot is free for the next request
