"""CSM's frame loop: the prompt prefilled once, then one fixed-shape step per 80 ms frame, on the device.

transformers' generate() runs, per frame, a backbone step and a whole nested depth-decoder generate() of 31 steps,
with host syncs between them (stopping checks, logits processors, cache bookkeeping). This loop runs the model's
own weights as one step:

    backbone hidden -> c0 (lm_head) -> depth decoder, 31 steps -> c1..c31 -> backbone step on the new frame

with static KV caches and sampling on the device. Inside a step there is no .item(), no branch on a tensor value
and no shape that depends on data, so it compiles whole (torch.compile(fullgraph=True)) and can be captured as a
CUDA graph. Every tensor it reads or writes between steps lives in `LoopState`, allocated once.

A step is ~4,000 small operations (csm-1b: 31 depth-decoder steps of 4 layers, 16 backbone layers), so what each
one costs the host decides the speed wherever kernels are not replayed as a graph. The step therefore calls
weights, not modules: q/k/v and gate/up projections are fused into one matrix each (the modules' weights become
views of it: no extra memory, and generate() computes bit for bit the same), the rotary embedding is a table
lookup and one small matmul, and the views of the state that a row count needs are made once, not every frame.
`count_ops` counts what one step dispatches; a test holds it under a budget.

The step carries a batch of `slots`; `step(rows)` advances the first `rows` of them. A request is prefilled into
a free slot (on its own: the prompt's length is its own) and leaves with `release`, which also resets the slot's
position, so an idle row computes at position 0 of its own cache and never out of bounds.

Sampling: per-row temperature and top-k (as transformers' warpers), then the Gumbel-max trick with noise from a
counter-based hash of (seed, frame, codebook, token), made once per frame for all codebooks. A request's
randomness depends only on its own seed, never on what ran before or beside it in a batch, and needs no generator
state, which a CUDA graph cannot carry per row."""
from __future__ import annotations

import collections
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from torch.utils._python_dispatch import TorchDispatchMode
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


def gumbel(bits: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise from 32-bit hashes. u = (m + 0.5) / 2**23 with m the top 23 bits is exact in float32
    and lies in [2**-24, 1 - 2**-24]: never 0 or 1, so the noise is always finite (with 24 bits, the largest m
    rounds u up to 1.0 and the noise to +inf, which outranks even a token masked out by top-k)."""
    u = ((bits >> 9).float() + 0.5) * (1.0 / (1 << 23))
    return -torch.log(-torch.log(u))


@dataclass
class LoopState:
    """Everything a step reads or writes, one row per slot; tensors are only ever updated in place."""
    bb_kv: list[torch.Tensor]       # per backbone layer: (slots, 2 * kv heads, positions, head dim): keys, values
    dd_kv: list[torch.Tensor]       # per depth-decoder layer: (slots, 2 * kv heads, codebooks, head dim)
    hidden: torch.Tensor            # (slots, hidden): the backbone's last normed hidden state
    pos: torch.Tensor               # (slots,) long: the next backbone position to write
    frame: torch.Tensor             # (slots,) long: frames generated so far
    active: torch.Tensor            # (slots,) bool
    temperature: torch.Tensor       # (slots,) float32
    top_k: torch.Tensor             # (slots,) long
    seed: torch.Tensor              # (slots, 2) long: the seed's low and high 32 bits
    history: torch.Tensor           # (slots, HISTORY, codebooks) long: recent frames, at frame % HISTORY

    def tensors(self) -> list[torch.Tensor]:
        """Every state tensor (first dimension: slots)."""
        return [*self.bb_kv, *self.dd_kv, self.hidden, self.pos, self.frame, self.active,
                self.temperature, self.top_k, self.seed, self.history]


@dataclass
class _Layer:
    """One decoder layer's weights as the step uses them (transposed views: the matmuls F.linear would run)."""
    ln1: torch.Tensor
    ln2: torch.Tensor
    qkv_t: torch.Tensor             # (hidden, (heads + 2 kv heads) * head dim)
    o_t: torch.Tensor
    gate_up_t: torch.Tensor         # (hidden, 2 * intermediate)
    down_t: torch.Tensor


@dataclass
class _Stack:
    layers: list[_Layer]
    norm: torch.Tensor
    eps: float
    heads: int
    kv_heads: int
    head_dim: int
    inter: int

    @property
    def all_heads(self) -> int:
        return self.heads + 2 * self.kv_heads


class _Rows:
    """Views of the state for the first `rows` slots, made once per row count in eager mode (a view costs as
    much to make as a small kernel) and inside the graph when compiled (there they are free)."""

    def __init__(self, loop: FrameLoop, rows: int):
        s = loop.state
        self.hidden, self.pos, self.frame = s.hidden[:rows], s.pos[:rows], s.frame[:rows]
        self.active = s.active[:rows]
        self.temperature, self.top_k, self.seed = s.temperature[:rows, None], s.top_k[:rows], s.seed[:rows]
        self.row = loop._row_index[:rows]
        self.row_col = loop._row_index[:rows, None]                                # (rows, 1)
        bb_kv, kv = loop._bb.kv_heads, loop._dd.kv_heads
        self.bb_kv = [t[:rows] for t in s.bb_kv]
        self.bb_k = [t[:, :bb_kv] for t in self.bb_kv]
        self.bb_v = [t[:, bb_kv:] for t in self.bb_kv]
        # Depth decoder, per layer and position p: where p's keys and values go, and keys and values 0 .. p.
        positions = range(loop.codebooks)
        self.dd_kv_at = [[t[:rows, :, p] for p in positions] for t in s.dd_kv]
        self.dd_kv_upto = [[t[:rows, :, :p + 1] for p in positions] for t in s.dd_kv]
        self.dd_k_upto = [[t[:rows, :kv, :p + 1] for p in positions] for t in s.dd_kv]
        self.dd_v_upto = [[t[:rows, kv:, :p + 1] for p in positions] for t in s.dd_kv]


def fuse_projections(model) -> None:
    """Fuse each decoder layer's q/k/v and gate/up weights into one matrix, and make the modules' weights views of
    it: the step runs one matmul where the modules run three (or two), with no extra memory, and generate() (which
    runs the modules) computes exactly what it did (each output column is the same dot product)."""
    if getattr(model, "_csm_loop_fused", False):
        return
    with torch.no_grad():
        for stack in (model.backbone_model, model.depth_decoder.model):
            for layer in stack.layers:
                _fuse(layer.self_attn, ["q_proj", "k_proj", "v_proj"])
                _fuse(layer.mlp, ["gate_proj", "up_proj"])
    model._csm_loop_fused = True


def _fuse(module, names: list[str]) -> None:
    linears = [getattr(module, n) for n in names]
    if any(lin.bias is not None for lin in linears):
        raise ValueError(f"{type(module).__name__}: projections with a bias are not supported by the frame loop")
    fused = torch.cat([lin.weight for lin in linears])
    module.fused_weight = fused  # a plain attribute: the parameters below are views of it
    start = 0
    for lin in linears:
        rows = lin.weight.shape[0]
        lin.weight = torch.nn.Parameter(fused[start:start + rows], requires_grad=False)
        start += rows


def _stack(stack) -> _Stack:
    attn, mlp = stack.layers[0].self_attn, stack.layers[0].mlp
    layers = [_Layer(ln1=layer.input_layernorm.weight, ln2=layer.post_attention_layernorm.weight,
                     qkv_t=layer.self_attn.fused_weight.t(), o_t=layer.self_attn.o_proj.weight.t(),
                     gate_up_t=layer.mlp.fused_weight.t(), down_t=layer.mlp.down_proj.weight.t())
              for layer in stack.layers]
    cfg = stack.config
    return _Stack(layers=layers, norm=stack.norm.weight, eps=stack.norm.variance_epsilon,
                  heads=cfg.num_attention_heads, kv_heads=cfg.num_key_value_heads, head_dim=attn.head_dim,
                  inter=mlp.intermediate_size)


class FrameLoop:
    def __init__(self, model, slots: int = 1, greedy: bool = False):
        """`model`: a CsmForConditionalGeneration, already on its device and dtype (its q/k/v and gate/up weights
        are fused in place, see fuse_projections). `greedy`: argmax instead of sampling (the reference comparison
        with generate(do_sample=False))."""
        fuse_projections(model)
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
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.state = self._allocate(slots)
        self.run = self.step_fn   # what step() calls: step_fn itself, compiled, or replayed as a CUDA graph
        dev = self.device
        with torch.inference_mode(False), torch.no_grad():  # constants usable under inference mode and outside it
            self._bb, self._dd = _stack(self.backbone), _stack(self.depth)
            self._lm_head_t = model.lm_head.weight.t()
            self._proj_t = self.depth.inputs_embeds_projector.weight.t()
            # Per codebook: its rows of the depth decoder's embedding table, and its head (hidden, vocab).
            embed = self.depth.embed_tokens.weight
            self._depth_embed = [embed[i * self.vocab:(i + 1) * self.vocab] for i in range(self.codebooks)]
            self._depth_head = list(model.depth_decoder.codebooks_head.weight.unbind(0))
            # Rotary tables, computed by the modules' own rotary embeddings (bit for bit what generate() uses);
            # cos/sin (positions, head dim). rotate_half(x) == x @ rotation: a signed permutation, so exact.
            self._bb_cos, self._bb_sin = self._rotary(self.backbone, self._bb, self.max_positions)
            self._dd_cos, self._dd_sin = self._rotary(self.depth, self._dd, self.codebooks)
            self._dd_cos_at, self._dd_sin_at = self._dd_cos.unbind(0), self._dd_sin.unbind(0)
            self._bb_rotation = _rotation(self._bb.head_dim, dev, self.dtype)
            self._dd_rotation = _rotation(self._dd.head_dim, dev, self.dtype)
            self._positions = torch.arange(self.max_positions, device=dev)
            self._row_index = torch.arange(slots, device=dev)
            self._bb_kv_index = torch.arange(2 * self._bb.kv_heads, device=dev)[None]
            self._codebook_keys = torch.arange(self.codebooks, device=dev)
            self._token_keys = _mix32(torch.arange(self.vocab, device=dev) * 0x61C88647 + 0x3C6EF372)
        self._views: dict[int, _Rows] = {}

    def _rotary(self, module, stack: _Stack, length: int):
        """cos and sin (positions, all heads, head dim) for q, k, v together: the rotary embedding's own values for
        query and key heads, and 1 and 0 for value heads, which the rotation then leaves exactly as they were."""
        probe = torch.zeros(1, length, 1, device=self.device, dtype=self.dtype)
        cos, sin = module.rotary_emb(probe, torch.arange(length, device=self.device)[None])
        cos, sin = cos[0, :, None], sin[0, :, None]                            # (positions, 1, head dim)
        rotated, kept = stack.heads + stack.kv_heads, stack.kv_heads
        cos = torch.cat([cos.expand(-1, rotated, -1), torch.ones_like(cos).expand(-1, kept, -1)], 1)
        sin = torch.cat([sin.expand(-1, rotated, -1), torch.zeros_like(sin).expand(-1, kept, -1)], 1)
        return cos, sin

    # -- state ---------------------------------------------------------------------------------------
    def _allocate(self, slots: int) -> LoopState:
        dev, dt = self.device, self.dtype

        def kv(stack, length):
            attn = stack.layers[0].self_attn
            shape = (slots, 2 * stack.config.num_key_value_heads, length, attn.head_dim)
            return [torch.zeros(shape, device=dev, dtype=dt) for _ in stack.layers]

        return LoopState(
            bb_kv=kv(self.backbone, self.max_positions), dd_kv=kv(self.depth, self.codebooks),
            hidden=torch.zeros(slots, self.backbone.config.hidden_size, device=dev, dtype=dt),
            pos=torch.zeros(slots, dtype=torch.long, device=dev),
            frame=torch.zeros(slots, dtype=torch.long, device=dev),
            active=torch.zeros(slots, dtype=torch.bool, device=dev),
            temperature=torch.ones(slots, dtype=torch.float32, device=dev),
            top_k=torch.ones(slots, dtype=torch.long, device=dev),
            seed=torch.zeros(slots, 2, dtype=torch.long, device=dev),
            history=torch.zeros(slots, HISTORY, self.codebooks, dtype=torch.long, device=dev),
        )

    def use(self, run) -> None:
        """Run steps with `run(rows)` from now on: step_fn itself, compiled, or a CudaGraphStep of either."""
        self.run = run

    def rows_view(self, rows: int) -> _Rows:
        if torch.compiler.is_compiling():
            return _Rows(self, rows)
        views = self._views.get(rows)
        if views is None:
            views = self._views[rows] = _Rows(self, rows)
        return views

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
        kv_heads = self._bb.kv_heads
        for i, layer in enumerate(bb.layers):
            x, k, v = _layer_prefill(layer, x, cos, sin)
            s.bb_kv[i][slot, :kv_heads, :length] = k[0]
            s.bb_kv[i][slot, kv_heads:, :length] = v[0]
        s.hidden[slot] = bb.norm(x)[0, -1]
        s.pos[slot] = length
        s.frame[slot] = 0
        s.temperature[slot] = float(temperature)
        s.top_k[slot] = int(top_k)
        s.seed[slot, 0] = seed & _M32
        s.seed[slot, 1] = (seed >> 32) & _M32
        s.active[slot] = True

    @torch.inference_mode()
    def release(self, slot: int) -> None:
        """The slot is free: inactive, and back at position 0, so steps that still span it stay in bounds."""
        s = self.state
        s.active[slot] = False
        s.pos[slot] = 0
        s.frame[slot] = 0

    @torch.inference_mode()
    def move(self, src: int, dst: int) -> None:
        """Move the request in slot `src` to the free slot `dst` (all of its state), leaving `src` free: busy
        slots can then be packed at the front, and the step runs fewer rows."""
        for t in self.state.tensors():
            t[dst] = t[src]
        self.release(src)

    # -- the step ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def step(self, rows: int | None = None) -> None:
        """One frame for the first `rows` slots (all by default); inactive rows compute but change nothing."""
        self.run(self.slots if rows is None else rows)

    def step_fn(self, rows: int) -> None:
        """The step itself, for compiling or graph capture: fixed shapes for a given `rows`, no host syncs."""
        v = self.rows_view(rows)
        noise, kth = (None, None) if self.greedy else self._sampling(v)
        hidden = v.hidden
        c = self._pick(torch.mm(hidden, self._lm_head_t), 0, v, noise, kth)
        codes = [c]
        # Depth decoder: position 0 holds the backbone's hidden state, position 1 codebook 0; each later position
        # is the previous codebook's token. Its cache is rewritten from position 0 every frame.
        x = torch.stack([hidden, F.embedding(c, self._depth_embed[0])], dim=1)
        x = self._depth_first(torch.mm(x.view(rows * 2, -1), self._proj_t), v, rows)
        for i in range(1, self.codebooks):
            c = self._pick(torch.mm(x, self._depth_head[i - 1]), i, v, noise, kth)
            codes.append(c)
            if i + 1 < self.codebooks:
                x = torch.mm(F.embedding(c, self._depth_embed[i]), self._proj_t)
                x = self._depth_next(x, i + 1, v, rows)
        frame_codes = torch.stack(codes, dim=1)                                  # (rows, codebooks)
        # The backbone takes the whole frame (its embeddings summed over codebooks) at each row's own position;
        # clamped, so a row at the end of its positions never writes past its cache.
        bb = self._bb
        x = self.backbone.embed_tokens(frame_codes[:, None])[:, 0]
        pos = v.pos.clamp(max=self.max_positions - 1)
        cos, sin = self._bb_cos[pos], self._bb_sin[pos]                        # (rows, all heads, head dim)
        mask = (self._positions <= pos[:, None]).view(rows, 1, 1, -1)
        where = (v.row_col, self._bb_kv_index, pos[:, None])                   # (row, kv head, position)
        for i, lw in enumerate(bb.layers):
            qkv = torch.mm(self._norm(x, lw.ln1, bb.eps), lw.qkv_t).view(rows, bb.all_heads, bb.head_dim)
            q, kv = (qkv * cos + torch.matmul(qkv, self._bb_rotation) * sin).split([bb.heads, 2 * bb.kv_heads], 1)
            v.bb_kv[i].index_put_(where, kv)
            x = x + self._attend(q, v.bb_k[i], v.bb_v[i], mask, bb, rows, lw)
            x = self._mlp(x, lw, bb)
        new_hidden = self._norm(x, bb.norm, bb.eps)
        v.hidden.copy_(torch.where(v.active[:, None], new_hidden, hidden))
        self.state.history.index_put_((v.row, v.frame % HISTORY), frame_codes)
        v.pos.add_(v.active)
        v.frame.add_(v.active)

    def _norm(self, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        """The modules' RMSNorm (normalized in float32, cast back, then scaled), in one or few kernels."""
        if self.dtype == torch.float32:
            return torch.rms_norm(x, x.shape[-1:], weight, eps)
        return weight * torch.rms_norm(x.float(), x.shape[-1:], None, eps).to(self.dtype)

    def _attend(self, q, k, v, mask, stack: _Stack, rows: int, lw: _Layer) -> torch.Tensor:
        """One query per row: the query heads that share a key/value head become that head's query rows."""
        group = stack.heads // stack.kv_heads
        out = F.scaled_dot_product_attention(q.view(rows, stack.kv_heads, group, stack.head_dim), k, v,
                                             attn_mask=mask, scale=stack.head_dim ** -0.5)
        return torch.mm(out.view(rows, -1), lw.o_t)

    def _mlp(self, x: torch.Tensor, lw: _Layer, stack: _Stack) -> torch.Tensor:
        gate, up = torch.mm(self._norm(x, lw.ln2, stack.eps), lw.gate_up_t).chunk(2, dim=1)
        return x + torch.mm(F.silu(gate) * up, lw.down_t)

    def _depth_first(self, x: torch.Tensor, v: _Rows, rows: int) -> torch.Tensor:
        """Depth positions 0 and 1 of every row (x: (rows * 2, hidden)), causal; returns position 1's normed output."""
        dd = self._dd
        cos, sin = self._dd_cos[:2], self._dd_sin[:2]                          # (2, all heads, head dim)
        for i, lw in enumerate(dd.layers):
            qkv = torch.mm(self._norm(x, lw.ln1, dd.eps), lw.qkv_t).view(rows, 2, dd.all_heads, dd.head_dim)
            qkv = (qkv * cos + torch.matmul(qkv, self._dd_rotation) * sin).transpose(1, 2)
            q, k, val = qkv.split([dd.heads, dd.kv_heads, dd.kv_heads], 1)      # (rows, heads, 2, head dim)
            v.dd_kv_upto[i][1].copy_(qkv[:, dd.heads:])
            out = F.scaled_dot_product_attention(q, k, val, is_causal=True, scale=dd.head_dim ** -0.5,
                                                 enable_gqa=dd.kv_heads != dd.heads)
            x = x + torch.mm(out.transpose(1, 2).reshape(rows * 2, -1), lw.o_t)
            x = self._mlp(x, lw, dd)
        return self._norm(x.view(rows, 2, -1)[:, 1], dd.norm, dd.eps)

    def _depth_next(self, x: torch.Tensor, p: int, v: _Rows, rows: int) -> torch.Tensor:
        """Depth position p (the same for every row, so no mask) for x: (rows, hidden); returns its normed output."""
        dd = self._dd
        cos, sin = self._dd_cos_at[p], self._dd_sin_at[p]                      # (all heads, head dim)
        for i, lw in enumerate(dd.layers):
            qkv = torch.mm(self._norm(x, lw.ln1, dd.eps), lw.qkv_t).view(rows, dd.all_heads, dd.head_dim)
            q, kv = (qkv * cos + torch.matmul(qkv, self._dd_rotation) * sin).split([dd.heads, 2 * dd.kv_heads], 1)
            v.dd_kv_at[i][p].copy_(kv)
            x = x + self._attend(q, v.dd_k_upto[i][p], v.dd_v_upto[i][p], None, dd, rows, lw)
            x = self._mlp(x, lw, dd)
        return self._norm(x, dd.norm, dd.eps)

    # -- sampling ------------------------------------------------------------------------------------
    def _sampling(self, v: _Rows) -> tuple[list[torch.Tensor], torch.Tensor]:
        """This frame's Gumbel noise, one (rows, vocab) tensor per codebook, and each row's top-k index (rows, 1):
        made once per frame, not once per codebook."""
        frame_keys = _mix32(v.frame[:, None] * 64 + self._codebook_keys)                   # (rows, codebooks)
        key = _mix32(v.seed[:, :1] ^ _mix32(v.seed[:, 1:] ^ frame_keys))
        noise = gumbel(_mix32(key[:, :, None] ^ self._token_keys))
        return noise.unbind(1), (v.top_k[:, None] - 1).clamp(0, self.vocab - 1)

    def _pick(self, logits: torch.Tensor, codebook: int, v: _Rows, noise, kth_index) -> torch.Tensor:
        if self.greedy:
            return logits.argmax(-1)
        if logits.dtype != torch.float32:
            logits = logits.float()
        scores = logits / v.temperature
        kth = scores.sort(-1, descending=True).values.gather(1, kth_index)
        return (scores.masked_fill(scores < kth, float("-inf")) + noise[codebook]).argmax(-1)

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


def _rotation(dim: int, device, dtype) -> torch.Tensor:
    """R with x @ R == rotate_half(x) == cat(-x[half:], x[:half]): one nonzero (+-1) per column, so exact."""
    half = dim // 2
    r = torch.zeros(dim, dim, device=device, dtype=dtype)
    idx = torch.arange(half, device=device)
    r[idx + half, idx] = -1
    r[idx, idx + half] = 1
    return r


class OpCount(TorchDispatchMode):
    """Counts the aten operations dispatched inside it, by name: what a step costs the host, on any device."""

    def __init__(self):
        super().__init__()
        self.by_op: collections.Counter = collections.Counter()

    @property
    def total(self) -> int:
        return sum(self.by_op.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.by_op[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def count_ops(loop: FrameLoop, rows: int) -> OpCount:
    """The aten operations one eager frame step at `rows` rows dispatches (its state moves on by one frame)."""
    loop.rows_view(rows)  # made once per row count, outside the count
    with torch.inference_mode(), OpCount() as count:
        loop.step_fn(rows)
    return count


@torch.inference_mode()
def same_step(loop: FrameLoop, candidate, reference, rows: int) -> bool:
    """Whether candidate() (a captured graph's replay, say) does what reference(rows) does: from the same scratch
    state, with each of the first `rows` slots active at a position, frame and seed of its own, both must leave
    the same codes, hidden states, positions and keys/values. Every slot is free afterwards.

    Only the small state is saved and restored between the two: a step writes each row's backbone keys and values
    at that row's position before any read of them, and rewrites the depth decoder's cache from position 0."""
    s = loop.state
    small = [s.hidden, s.pos, s.frame, s.active, s.temperature, s.top_k, s.seed, s.history]
    g = torch.Generator().manual_seed(rows)
    s.hidden[:rows] = torch.randn(rows, s.hidden.shape[1], generator=g).to(s.hidden)
    s.pos[:rows] = torch.arange(rows) * 7 + 5
    s.frame[:rows] = torch.arange(rows) * 3
    s.active[:rows] = True
    s.temperature[:rows] = 0.9
    s.top_k[:rows] = 50
    s.seed[:rows, 0] = torch.arange(rows) + 1
    before = [t.clone() for t in small]
    written = s.pos[:rows].clone()

    def outcome():
        kv = [t[torch.arange(rows, device=t.device), :, written] for t in s.bb_kv]
        return [t.clone() for t in small] + kv

    try:
        candidate()
        got = outcome()
        for t, b in zip(small, before, strict=True):
            t.copy_(b)
        reference(rows)
        want = outcome()
        return all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    finally:
        for slot in range(loop.slots):
            loop.release(slot)


class CudaGraphStep:
    """A step function captured as one CUDA graph per row count and replayed: one launch per frame instead of
    thousands. Capture with `capture(rows)` while no slot is active (its warm-up steps then change no request);
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

    def drop(self, rows: int) -> None:
        """Run `rows` without a graph from now on."""
        self.graphs.pop(rows, None)

    def __call__(self, rows: int) -> None:
        graph = self.graphs.get(rows)
        if graph is None:
            self.fn(rows)
        else:
            graph.replay()


def _attention_out(layer, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    attn = layer.self_attn
    rows, heads, length, dim = q.shape
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=attn.scaling,
                                         enable_gqa=k.shape[1] != heads)
    return attn.o_proj(out.transpose(1, 2).reshape(rows, length, heads * dim))


def _layer_prefill(layer, x, cos, sin):
    """A whole prompt through one backbone layer (its modules), causal over itself; returns the layer's output and
    its keys and values."""
    attn = layer.self_attn
    rows, length, _ = x.shape
    h = layer.input_layernorm(x)
    shape = (rows, length, -1, attn.head_dim)
    q = attn.q_proj(h).view(shape).transpose(1, 2)
    k = attn.k_proj(h).view(shape).transpose(1, 2)
    v = attn.v_proj(h).view(shape).transpose(1, 2)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    x = x + _attention_out(layer, q, k, v)
    return x + layer.mlp(layer.post_attention_layernorm(x)), k, v
