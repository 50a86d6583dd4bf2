"""ultra_policy — act with an ultra policy from Python, with numpy only.

Every ultra run writes policy.safetensors beside its checkpoint: the policy
and value networks (float32, PyTorch's nn.Linear layout), the observation
normaliser (float64, as the trainer holds it) and metadata naming the env,
the activation, the observation clipping and the action space. This module
reads that file and acts as `ultra eval` does:

    from ultra_policy import Policy
    pi = Policy("runs/hopper/policy.safetensors")
    action = pi.act(obs)                  # the mean action (deterministic)
    action = pi.act(obs, rng=np.random.default_rng(0))   # sampled

`obs` is one observation (shape [obs_dim]) or a batch ([n, obs_dim]).
Continuous actions are clipped to the env's bounds; a discrete policy
returns the argmax of its logits (or a sample). MLP policies only: a CNN
policy (pixels) is refused with a clear error.
"""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64}


def load_safetensors(path):
    """Returns (tensors by name, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d past the end of the file: not a safetensors file "
                         "(is it checkpoint.bin? give policy.safetensors)" % (path, n))
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        dt = _DTYPES.get(e["dtype"])
        if dt is None:
            raise ValueError("%s: tensor %s has dtype %s; want F32 or F64" % (path, name, e["dtype"]))
        lo, hi = e["data_offsets"]
        tensors[name] = np.frombuffer(data[lo:hi], dtype=dt).reshape(e["shape"])
    return tensors, meta


class Policy:
    """A policy loaded from an ultra policy.safetensors."""

    def __init__(self, path):
        t, meta = load_safetensors(path)
        if meta.get("format") != "ultra-ppo-v1":
            raise ValueError("%s: format %r, want ultra-ppo-v1 (written by ultra train)" % (path, meta.get("format")))
        if "image" in meta:
            raise ValueError("%s: a CNN policy (image %s); ultra_policy.py runs MLP policies only" % (path, meta["image"]))
        self.env = meta.get("env", "")
        self.activation = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}[meta["activation"]]
        self.norm_obs = meta.get("norm_obs") == "true"
        self.obs_clip = float(meta["obs_clip"])
        self.obs_eps = float(meta["obs_eps"])
        self.discrete = meta.get("discrete") == "true"
        self.mean = t["obs_rms.mean"].astype(np.float64)
        self.var = t["obs_rms.var"].astype(np.float64)
        self.layers = []
        i = 0
        while "policy.%d.weight" % i in t:
            # weights in float64 once, not on every act
            self.layers.append((t["policy.%d.weight" % i].astype(np.float64), t["policy.%d.bias" % i]))
            i += 2
        if not self.layers:
            raise ValueError("%s: no policy.0.weight: not an ultra policy" % path)
        self.log_std = t.get("policy.log_std")
        self.low = self.high = None
        if "action_low" in meta:
            self.low = np.array([float(x) for x in meta["action_low"].split(",")], dtype=np.float32)
            self.high = np.array([float(x) for x in meta["action_high"].split(",")], dtype=np.float32)

    def dist(self, obs):
        """The policy's output at a batch of raw observations: Gaussian means or logits."""
        x = np.asarray(obs, dtype=np.float32)
        if self.norm_obs:
            z = (x.astype(np.float64) - self.mean) / np.sqrt(self.var + self.obs_eps)
            x = np.clip(z, -self.obs_clip, self.obs_clip).astype(np.float32)
        h = x.astype(np.float64)
        for k, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if k < len(self.layers) - 1:
                h = self.activation(h)
        return h

    def act(self, obs, rng=None):
        """Actions for one observation or a batch: the mean (argmax) without rng, a sample with it."""
        x = np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        out = self.dist(x[None] if single else x)
        if self.discrete:
            if rng is None:
                a = out.argmax(axis=1)
            else:
                p = np.exp(out - out.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                a = np.array([rng.choice(len(q), p=q) for q in p])
            return a[0] if single else a
        if rng is not None:
            out = out + np.exp(self.log_std.astype(np.float64)) * rng.standard_normal(out.shape)
        a = out.astype(np.float32)
        if self.low is not None:
            a = np.clip(a, self.low, self.high)
        return a[0] if single else a


if __name__ == "__main__":
    # ultra_policy.py POLICY OBS.json: prints the deterministic actions of the
    # observations in OBS.json (a list of lists) as JSON (used by the tests).
    import sys

    pi = Policy(sys.argv[1])
    with open(sys.argv[2]) as f:
        obs = np.array(json.load(f), dtype=np.float32)
    print(json.dumps(pi.act(obs).tolist()))
