#!/usr/bin/env python3
"""Independent float64 reference of Hugging Face transformers' LlamaForCausalLM / Qwen2ForCausalLM forward
pass (eager attention), written with numpy only: reads config.json and model.safetensors directly, handles
GQA, q/k/v biases, tied or separate lm_head, and RoPE scaling (default, linear, llama3).

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


def inv_freq(cfg, dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
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
    return inv


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(model_dir, ids):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    t = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    eps = cfg["rms_norm_eps"]
    n = len(ids)
    pos = np.arange(n, dtype=np.float64)
    freqs = np.outer(pos, inv_freq(cfg, hd))
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    mask = np.triu(np.full((n, n), -np.inf), k=1)

    h = t["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."

        def lin(x, name):
            y = x @ t[p + name + ".weight"].T
            b = t.get(p + name + ".bias")
            return y if b is None else y + b

        x = rms_norm(h, t[p + "input_layernorm.weight"], eps)
        q = lin(x, "self_attn.q_proj").reshape(n, nh, hd)
        k = lin(x, "self_attn.k_proj").reshape(n, nkv, hd)
        v = lin(x, "self_attn.v_proj").reshape(n, nkv, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = nh // nkv
        out = np.empty((n, nh, hd))
        for head in range(nh):
            kh, vh = k[:, head // group], v[:, head // group]
            s = q[:, head] @ kh.T / math.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            out[:, head] = (s / s.sum(axis=-1, keepdims=True)) @ vh
        h = h + lin(out.reshape(n, nh * hd), "self_attn.o_proj")
        x = rms_norm(h, t[p + "post_attention_layernorm.weight"], eps)
        g = lin(x, "mlp.gate_proj")
        h = h + lin(g / (1 + np.exp(-g)) * lin(x, "mlp.up_proj"), "mlp.down_proj")
    x = rms_norm(h, t["model.norm.weight"], eps)
    head = t["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else t["lm_head.weight"]
    return x @ head.T


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
