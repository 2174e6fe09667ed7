#!/usr/bin/env python3
"""Independent float64 reference of Hugging Face transformers' forward pass (eager attention) for
LlamaForCausalLM, Qwen2ForCausalLM, Phi3ForCausalLM, Gemma2ForCausalLM and PhiForCausalLM, written with
numpy only: reads config.json and model.safetensors directly, handles GQA, biases, tied or separate
lm_head, RoPE scaling (default, linear, llama3, longrope), partial rotary, sliding windows, Phi-3's fused
qkv/gate_up, Gemma-2's (1 + w) norms, post-norms, GeGLU and soft-caps, Phi-2's LayerNorm parallel block.

Usage: hf_forward.py MODEL_DIR --ids 1,2,3 --out logits.f32
Writes logits at every position, [n_ids, vocab] float32 little-endian.
Shares no code with serval; it exists to check serval's forward pass against transformers' semantics.
"""
import argparse
import json
import math
import os
import struct

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b : base + end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise SystemExit(f"unsupported dtype {e['dtype']} for {name}")
        tensors[name] = a.reshape(e["shape"])
    return tensors


def inv_freq(cfg, dim, seq_len):
    """Returns (inv_freq, cos/sin multiplier). longrope: short factors unless seq_len > original max."""
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind in ("longrope", "su"):
        orig = rs.get("original_max_position_embeddings") or cfg["original_max_position_embeddings"]
        factor = rs.get("factor") or cfg["max_position_embeddings"] / orig
        attn = rs.get("attention_factor")
        if attn is None:
            attn = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(orig))
        ext = np.array(rs["long_factor"] if seq_len > orig else rs["short_factor"], dtype=np.float64)
        return inv / ext, attn
    if kind == "linear":
        inv = inv / rs["factor"]
    elif kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv = np.where(medium, smoothed, scaled)
    elif kind != "default":
        raise SystemExit(f"unsupported rope scaling {kind}")
    return inv, 1.0


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layer_norm(x, w, b, eps):
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def silu(x):
    return x / (1 + np.exp(-x))


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(model_dir, ids):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    t = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    arch = cfg["architectures"][0]
    phi3, gemma2, phi = arch == "Phi3ForCausalLM", arch == "Gemma2ForCausalLM", arch == "PhiForCausalLM"
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or H // nh
    rot = int(hd * cfg.get("partial_rotary_factor", 1.0))
    eps = cfg["layer_norm_eps"] if phi else cfg["rms_norm_eps"]
    L = cfg["num_hidden_layers"]
    n = len(ids)
    pos = np.arange(n, dtype=np.float64)
    inv, attn_factor = inv_freq(cfg, rot, n)
    freqs = np.outer(pos, inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb)[:, None, :] * attn_factor, np.sin(emb)[:, None, :] * attn_factor
    causal = np.triu(np.full((n, n), -np.inf), k=1)

    # Per-layer window (transformers' masking_utils: a query at i sees keys j with i - window < j <= i).
    windows = [0] * L
    if phi3 and cfg.get("sliding_window"):
        windows = [cfg["sliding_window"]] * L
    elif gemma2 and cfg.get("sliding_window"):
        types = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(L)]
        windows = [cfg["sliding_window"] if ty == "sliding_attention" else 0 for ty in types]
    elif arch == "Qwen2ForCausalLM" and cfg.get("use_sliding_window"):
        windows = [cfg["sliding_window"] if l >= cfg.get("max_window_layers", L) else 0 for l in range(L)]

    def mask(window):
        if not window:
            return causal
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        return np.where(j > i - window, causal, -np.inf)

    def rope(x):
        xr, xp = x[..., :rot], x[..., rot:]
        return np.concatenate([xr * cos + rotate_half(xr) * sin, xp], axis=-1)

    if gemma2:
        norm = lambda x, name: rms_norm(x, 1 + t[name + ".weight"], eps)
    elif phi:
        norm = lambda x, name: layer_norm(x, t[name + ".weight"], t[name + ".bias"], eps)
    else:
        norm = lambda x, name: rms_norm(x, t[name + ".weight"], eps)
    act_name = cfg.get("hidden_activation", "gelu_pytorch_tanh") if gemma2 else cfg.get("hidden_act", "silu")
    act = silu if act_name == "silu" else gelu_tanh
    scale = cfg["query_pre_attn_scalar"] ** -0.5 if gemma2 else hd**-0.5
    attn_cap = cfg.get("attn_logit_softcapping") if gemma2 else None
    final_cap = cfg.get("final_logit_softcapping") if gemma2 else None

    h = t["model.embed_tokens.weight"][ids]
    if gemma2:
        h = h * np.float64(np.float32(math.sqrt(H)))
    for l in range(L):
        p = f"model.layers.{l}."

        def lin(x, name):
            y = x @ t[p + name + ".weight"].T
            b = t.get(p + name + ".bias")
            return y if b is None else y + b

        x = norm(h, p + "input_layernorm")
        if phi3:
            qkv = lin(x, "self_attn.qkv_proj")
            q, k, v = np.split(qkv, [nh * hd, nh * hd + nkv * hd], axis=-1)
        else:
            q, k, v = lin(x, "self_attn.q_proj"), lin(x, "self_attn.k_proj"), lin(x, "self_attn.v_proj")
        q, k, v = rope(q.reshape(n, nh, hd)), rope(k.reshape(n, nkv, hd)), v.reshape(n, nkv, hd)
        group = nh // nkv
        m = mask(windows[l])
        out = np.empty((n, nh, hd))
        for head in range(nh):
            kh, vh = k[:, head // group], v[:, head // group]
            s = q[:, head] @ kh.T * scale
            if attn_cap:
                s = attn_cap * np.tanh(s / attn_cap)
            s = s + m
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            out[:, head] = (s / s.sum(axis=-1, keepdims=True)) @ vh
        a = lin(out.reshape(n, nh * hd), "self_attn.dense" if phi else "self_attn.o_proj")
        if phi:  # parallel block: attention and MLP of the same normed input
            h = h + a + lin(act(lin(x, "mlp.fc1")), "mlp.fc2")
            continue
        if gemma2:
            a = norm(a, p + "post_attention_layernorm")
        h = h + a
        x = norm(h, p + ("pre_feedforward_layernorm" if gemma2 else "post_attention_layernorm"))
        if phi3:
            g, u = np.split(lin(x, "mlp.gate_up_proj"), 2, axis=-1)
        else:
            g, u = lin(x, "mlp.gate_proj"), lin(x, "mlp.up_proj")
        f = lin(act(g) * u, "mlp.down_proj")
        if gemma2:
            f = norm(f, p + "post_feedforward_layernorm")
        h = h + f
    x = norm(h, "model.final_layernorm" if phi else "model.norm")
    tied = cfg.get("tie_word_embeddings", gemma2)
    head = t["model.embed_tokens.weight"] if tied else t["lm_head.weight"]
    logits = x @ head.T
    if "lm_head.bias" in t and not tied:
        logits = logits + t["lm_head.bias"]
    if final_cap:
        logits = final_cap * np.tanh(logits / final_cap)
    return logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ids = [int(s) for s in a.ids.split(",")]
    forward(a.model_dir, ids).astype("<f4").tofile(a.out)


if __name__ == "__main__":
    main()
