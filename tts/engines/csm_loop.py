"""CSM's frame loop: the prompt prefilled once, then one fixed-shape step per 80 ms frame, on the device.

transformers' generate() runs, per frame, a backbone step and a whole nested depth-decoder generate() of 31 steps,
with host syncs between them (stopping checks, logits processors, cache bookkeeping). This loop runs the model's
own modules (layers, norms, projections, rotary embeddings, heads) as one step:

    backbone hidden -> c0 (lm_head) -> depth decoder, 31 steps -> c1..c31 -> backbone step on the new frame

with static KV caches and sampling on the device. Inside a step there is no .item(), no branch on a tensor value
and no shape that depends on data, so it compiles whole (torch.compile(fullgraph=True)) and can be captured as a
CUDA graph. Every tensor it reads or writes between steps lives in `LoopState`, allocated once.

The step carries a batch of `slots`; `step(rows)` advances the first `rows` of them. A request is prefilled into
a free slot (on its own: the prompt's length is its own) and leaves by being marked inactive.

Sampling: per-row temperature and top-k (as transformers' warpers), then the Gumbel-max trick with noise from a
counter-based hash of (seed, frame, codebook, token). A request's randomness depends only on its own seed, never
on what ran before or beside it in a batch, and needs no generator state, which a CUDA graph cannot carry per row."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from transformers.models.csm.modeling_csm import apply_rotary_pos_emb

HISTORY = 16          # frames of codes kept per slot for the host to read (it reads at least every 8 frames)
_M32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xorshift-multiply rounds) on int64 lanes; multipliers < 2**31 so nothing overflows."""
    x = x & _M32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & _M32
    return x ^ (x >> 16)


@dataclass
class LoopState:
    """Everything a step reads or writes, one row per slot; tensors are only ever updated in place."""
    bb_k: list[torch.Tensor]        # per backbone layer: (slots, kv heads, positions, head dim)
    bb_v: list[torch.Tensor]
    dd_k: list[torch.Tensor]        # per depth-decoder layer: (slots, kv heads, codebooks, head dim)
    dd_v: list[torch.Tensor]
    hidden: torch.Tensor            # (slots, hidden): the backbone's last normed hidden state
    pos: torch.Tensor               # (slots,) long: the next backbone position to write
    frame: torch.Tensor             # (slots,) long: frames generated so far
    active: torch.Tensor            # (slots,) bool
    temperature: torch.Tensor       # (slots,) float32
    top_k: torch.Tensor             # (slots,) long
    seed: torch.Tensor              # (slots, 2) long: the seed's low and high 32 bits
    history: torch.Tensor           # (slots, HISTORY, codebooks) long: recent frames, at frame % HISTORY


class FrameLoop:
    def __init__(self, model, slots: int = 1, greedy: bool = False):
        """`model`: a CsmForConditionalGeneration, already on its device and dtype. `greedy`: argmax instead of
        sampling (the reference comparison with generate(do_sample=False))."""
        self.model = model
        self.greedy = greedy
        self.slots = slots
        cfg = model.config
        self.codebooks = cfg.num_codebooks
        self.vocab = cfg.vocab_size
        self.eos = cfg.codebook_eos_token_id
        self.max_positions = cfg.max_position_embeddings
        self.backbone = model.backbone_model
        self.depth = model.depth_decoder.model
        self.depth_head = model.depth_decoder.codebooks_head.weight   # (codebooks - 1, hidden, vocab)
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.state = self._allocate(slots)
        self.run = self.step_fn   # what step() calls: step_fn itself, compiled, or replayed as a CUDA graph
        dev = self.device
        # Constant inputs of the step, made once: depth positions and their rotary tables, token keys for the hash.
        positions = torch.arange(self.codebooks, device=dev)[None]
        probe = torch.zeros(1, self.codebooks, self.depth.config.hidden_size, device=dev, dtype=self.dtype)
        self._depth_cos, self._depth_sin = self.depth.rotary_emb(probe, positions)
        self._token_keys = _mix32(torch.arange(self.vocab, device=dev) * 0x61C88647 + 0x3C6EF372)
        self._depth_offsets = [i * self.vocab for i in range(self.codebooks)]

    # -- state ---------------------------------------------------------------------------------------
    def _allocate(self, slots: int) -> LoopState:
        dev, dt = self.device, self.dtype

        def kv(stack, length):
            attn = stack.layers[0].self_attn
            shape = (slots, stack.config.num_key_value_heads, length, attn.head_dim)
            return [torch.zeros(shape, device=dev, dtype=dt) for _ in stack.layers]

        return LoopState(
            bb_k=kv(self.backbone, self.max_positions), bb_v=kv(self.backbone, self.max_positions),
            dd_k=kv(self.depth, self.codebooks), dd_v=kv(self.depth, self.codebooks),
            hidden=torch.zeros(slots, self.backbone.config.hidden_size, device=dev, dtype=dt),
            pos=torch.zeros(slots, dtype=torch.long, device=dev),
            frame=torch.zeros(slots, dtype=torch.long, device=dev),
            active=torch.zeros(slots, dtype=torch.bool, device=dev),
            temperature=torch.ones(slots, dtype=torch.float32, device=dev),
            top_k=torch.ones(slots, dtype=torch.long, device=dev),
            seed=torch.zeros(slots, 2, dtype=torch.long, device=dev),
            history=torch.zeros(slots, HISTORY, self.codebooks, dtype=torch.long, device=dev),
        )

    # -- prefill (eager, one request) ----------------------------------------------------------------
    @torch.inference_mode()
    def prefill(self, slot: int, inputs_embeds: torch.Tensor, seed: int, temperature: float, top_k: int) -> None:
        """Run the prompt (1, T, hidden) through the backbone into `slot`'s cache; the slot is then active."""
        s, bb = self.state, self.backbone
        length = inputs_embeds.shape[1]
        if length >= self.max_positions:
            raise ValueError(f"a prompt of {length} positions leaves no room in {self.max_positions}")
        x = inputs_embeds.to(self.dtype)
        cos, sin = bb.rotary_emb(x, torch.arange(length, device=self.device)[None])
        for i, layer in enumerate(bb.layers):
            x, k, v = _layer_prefill(layer, x, cos, sin)
            s.bb_k[i][slot, :, :length] = k[0]
            s.bb_v[i][slot, :, :length] = v[0]
        s.hidden[slot] = bb.norm(x)[0, -1]
        s.pos[slot] = length
        s.frame[slot] = 0
        s.temperature[slot] = float(temperature)
        s.top_k[slot] = int(top_k)
        s.seed[slot, 0] = seed & _M32
        s.seed[slot, 1] = (seed >> 32) & _M32
        s.active[slot] = True

    def release(self, slot: int) -> None:
        self.state.active[slot] = False

    # -- the step ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def step(self, rows: int | None = None) -> None:
        """One frame for the first `rows` slots (all by default); inactive rows compute but change nothing."""
        self.run(self.slots if rows is None else rows)

    def step_fn(self, rows: int) -> None:
        """The step itself, for compiling or graph capture: fixed shapes for a given `rows`, no host syncs."""
        s = self.state
        hidden = s.hidden[:rows]
        c = self._pick(self.model.lm_head(hidden), 0, rows)
        codes = [c]
        # Depth decoder: position 0 holds the backbone's hidden state, position 1 codebook 0; each later position
        # is the previous codebook's token. Its cache is rewritten from position 0 every frame.
        depth = self.depth
        x = depth.inputs_embeds_projector(torch.stack([hidden, depth.embed_tokens(c)], dim=1))
        x = self._depth_layers(x, 0, rows)
        for i in range(1, self.codebooks):
            logits = F.linear(x[:, -1], self.depth_head[i - 1].T)
            c = self._pick(logits, i, rows)
            codes.append(c)
            if i + 1 < self.codebooks:
                x = depth.inputs_embeds_projector(depth.embed_tokens(c + self._depth_offsets[i])[:, None])
                x = self._depth_layers(x, i + 1, rows)
        frame_codes = torch.stack(codes, dim=1)                                  # (rows, codebooks)
        # The backbone takes the whole frame (its embeddings summed over codebooks) at each row's own position.
        bb = self.backbone
        x = bb.embed_tokens(frame_codes[:, None])
        pos = s.pos[:rows]
        cos, sin = bb.rotary_emb(x, pos[:, None])
        mask = (torch.arange(self.max_positions, device=self.device)[None] <= pos[:, None])[:, None, None]
        for i, layer in enumerate(bb.layers):
            x = _layer_step(layer, x, cos, sin, s.bb_k[i][:rows], s.bb_v[i][:rows], pos, mask)
        active = s.active[:rows]
        s.hidden[:rows] = torch.where(active[:, None], bb.norm(x)[:, 0], hidden)
        slot_in_history = (s.frame[:rows] % HISTORY).view(rows, 1, 1).expand(rows, 1, self.codebooks)
        s.history[:rows].scatter_(1, slot_in_history, frame_codes[:, None])
        s.pos[:rows] += active
        s.frame[:rows] += active

    def _depth_layers(self, x: torch.Tensor, start: int, rows: int) -> torch.Tensor:
        """Depth-decoder layers on positions start .. start + len - 1 (the same for every row: no mask)."""
        s, length = self.state, x.shape[1]
        cos = self._depth_cos[:, start:start + length].expand(rows, -1, -1)
        sin = self._depth_sin[:, start:start + length].expand(rows, -1, -1)
        for i, layer in enumerate(self.depth.layers):
            x = _layer_depth(layer, x, cos, sin, s.dd_k[i][:rows], s.dd_v[i][:rows], start)
        return self.depth.norm(x)

    def _pick(self, logits: torch.Tensor, codebook: int, rows: int) -> torch.Tensor:
        logits = logits.float()
        if self.greedy:
            return logits.argmax(-1)
        s = self.state
        scores = logits / s.temperature[:rows, None]
        kth = scores.sort(-1, descending=True).values.gather(1, (s.top_k[:rows, None] - 1).clamp(0, self.vocab - 1))
        scores = scores.masked_fill(scores < kth, float("-inf"))
        return (scores + self._gumbel(codebook, rows)).argmax(-1)

    def _gumbel(self, codebook: int, rows: int) -> torch.Tensor:
        s = self.state
        key = _mix32(s.seed[:rows, 0] ^ _mix32(s.seed[:rows, 1] ^ _mix32(s.frame[:rows] * 64 + codebook)))
        bits = _mix32(key[:, None] ^ self._token_keys[None])
        u = ((bits >> 8).float() + 0.5) * (1.0 / (1 << 24))      # in (0, 1), never 0 or 1
        return -torch.log(-torch.log(u))

    # -- reading results (host side: these sync) ------------------------------------------------------
    def codes(self, slot: int, start: int, stop: int) -> torch.Tensor:
        """Frames start .. stop - 1 of `slot` as a (frames, codebooks) CPU tensor; at most HISTORY back."""
        return self.codes_many([(slot, start, stop)])[0]

    def codes_many(self, reads: list[tuple[int, int, int]]) -> list[torch.Tensor]:
        """For each (slot, start, stop), that slot's frames start .. stop - 1: one gather, one copy to the host."""
        slots = [slot for slot, start, stop in reads for _ in range(start, stop)]
        frames = [f % HISTORY for _, start, stop in reads for f in range(start, stop)]
        index = torch.tensor([slots, frames], dtype=torch.long).to(self.device)
        rows = self.state.history[index[0], index[1]].cpu()
        return list(rows.split([stop - start for _, start, stop in reads]))


class CudaGraphStep:
    """A step function captured as one CUDA graph per row count and replayed: one launch per frame instead of
    hundreds. Capture with `capture(rows)` while no slot is active (its warm-up steps then change no request);
    a row count not captured runs the function itself."""

    def __init__(self, fn):
        self.fn = fn
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self._pool = None

    @torch.inference_mode()
    def capture(self, rows: int, warmup: int = 3) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the capture: cuBLAS workspaces, allocator, compiled kernels
            for _ in range(warmup):
                self.fn(rows)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            self.fn(rows)
        self._pool = graph.pool()  # graphs of other row counts share one memory pool
        self.graphs[rows] = graph

    def __call__(self, rows: int) -> None:
        graph = self.graphs.get(rows)
        if graph is None:
            self.fn(rows)
        else:
            graph.replay()


def _attention_out(layer, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                   causal: bool) -> torch.Tensor:
    attn = layer.self_attn
    rows, heads, length, dim = q.shape
    kv_heads = k.shape[1]
    if length == 1:
        # One query: fold the query heads that share a key/value head into that head's query rows (no repeat_kv).
        out = F.scaled_dot_product_attention(q.view(rows, kv_heads, heads // kv_heads, dim), k, v,
                                             attn_mask=mask, scale=attn.scaling)
        out = out.reshape(rows, 1, heads * dim)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=attn.scaling,
                                             enable_gqa=kv_heads != heads)
        out = out.transpose(1, 2).reshape(rows, length, heads * dim)
    return attn.o_proj(out)


def _qkv(layer, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    attn = layer.self_attn
    rows, length, _ = x.shape
    h = layer.input_layernorm(x)
    shape = (rows, length, -1, attn.head_dim)
    q = attn.q_proj(h).view(shape).transpose(1, 2)
    k = attn.k_proj(h).view(shape).transpose(1, 2)
    v = attn.v_proj(h).view(shape).transpose(1, 2)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    return q, k, v


def _mlp(layer, x: torch.Tensor) -> torch.Tensor:
    return x + layer.mlp(layer.post_attention_layernorm(x))


def _layer_prefill(layer, x, cos, sin):
    """A whole prompt, causal over itself; returns the layer's output and its keys and values."""
    q, k, v = _qkv(layer, x, cos, sin)
    x = x + _attention_out(layer, q, k, v, None, causal=True)
    return _mlp(layer, x), k, v


def _layer_step(layer, x, cos, sin, k_cache, v_cache, pos, mask):
    """One token per row at that row's position `pos`, attending to the row's cache up to it."""
    q, k, v = _qkv(layer, x, cos, sin)
    rows, kv_heads, _, dim = k.shape
    where = pos.view(rows, 1, 1, 1).expand(rows, kv_heads, 1, dim)
    k_cache.scatter_(2, where, k)
    v_cache.scatter_(2, where, v)
    x = x + _attention_out(layer, q, k_cache, v_cache, mask, causal=False)
    return _mlp(layer, x)


def _layer_depth(layer, x, cos, sin, k_cache, v_cache, start: int):
    """Depth-decoder tokens at positions start.. (every row alike), attending to positions 0 .. their own."""
    q, k, v = _qkv(layer, x, cos, sin)
    end = start + x.shape[1]
    k_cache[:, :, start:end] = k
    v_cache[:, :, start:end] = v
    if start == 0:
        out = _attention_out(layer, q, k, v, None, causal=True)
    else:
        out = _attention_out(layer, q, k_cache[:, :, :end], v_cache[:, :, :end], None, causal=False)
    return _mlp(layer, x + out)
