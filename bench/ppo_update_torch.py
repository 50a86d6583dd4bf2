"""PPO update in PyTorch eager, the reference for `ultra bench update`.

The same workload as the Go benchmark, on the CPU or a GPU:

  --net mlp (default): a rollout of 2048 samples (obs 11, action 3), policy and
      value MLPs 64-64 tanh with a state-independent log-std, 10 epochs x 32
      minibatches of 64 (CleanRL ppo_continuous_action's update);
  --net cnn: the Nature-CNN on 4x84x84 frames, 6 actions, a rollout of 1024,
      4 epochs x 4 minibatches of 256 (CleanRL ppo_atari's update).

The rollout lives where the maths runs (on the GPU with --device cuda); each
minibatch is gathered by index there, its advantages normalised, then:
forward, CleanRL's PPO loss (clipped surrogate, clipped value loss, entropy),
backward, global grad-norm clip 0.5, Adam (eps 1e-5). As in CleanRL, the
minibatch's approx-KL and clip fraction are read back with .item() (ultra's
backends return the same statistics from every minibatch). Prints one JSON
line with samples per second (samples through forward + backward + Adam).

Precision: full FP32 by default (torch's default for matmuls; cuDNN's
convolutions would use TF32 on Ampere+ unless told not to, so this script
turns that off); --tf32 allows TF32 in both.

Run with Debian's torch:  /usr/bin/python3 bench/ppo_update_torch.py [--threads N] [--rounds R]
On a GPU:                 python3 bench/ppo_update_torch.py --device cuda [--net cnn] [--tf32]
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn


def layer(i, o, std=np.sqrt(2)):
    lin = nn.Linear(i, o)
    nn.init.orthogonal_(lin.weight, std)
    nn.init.constant_(lin.bias, 0.0)
    return lin


class MLPAgent(nn.Module):
    def __init__(self, obs, act, hidden):
        super().__init__()
        self.critic = nn.Sequential(layer(obs, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(), layer(hidden, 1, 1.0))
        self.actor_mean = nn.Sequential(layer(obs, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(), layer(hidden, act, 0.01))
        self.actor_logstd = nn.Parameter(torch.zeros(1, act))

    def evaluate(self, x, a):
        mean = self.actor_mean(x)
        std = torch.exp(self.actor_logstd.expand_as(mean))
        dist = torch.distributions.Normal(mean, std)
        return dist.log_prob(a).sum(1), dist.entropy().sum(1), self.critic(x).view(-1)


class CNNAgent(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.network = nn.Sequential(
            nn.Conv2d(4, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(), nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU())
        self.actor = layer(512, act, 0.01)
        self.critic = layer(512, 1, 1.0)

    def evaluate(self, x, a):
        h = self.network(x)
        dist = torch.distributions.Categorical(logits=self.actor(h))
        return dist.log_prob(a), dist.entropy(), self.critic(h).view(-1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch default)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--tf32", action="store_true", help="allow TF32 in matmuls and cuDNN convolutions")
    p.add_argument("--batch", type=int, default=0, help="rollout samples (default 2048 mlp, 1024 cnn)")
    p.add_argument("--minibatch", type=int, default=0, help="default 64 mlp, 256 cnn")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=0, help="default 10 mlp, 4 cnn")
    args = p.parse_args()
    cnn = args.net == "cnn"
    B = args.batch or (1024 if cnn else 2048)
    mb = args.minibatch or (256 if cnn else 64)
    epochs = args.epochs or (4 if cnn else 10)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    dev = torch.device(args.device)
    torch.manual_seed(1)
    if cnn:
        agent = CNNAgent(6).to(dev)
        obs = torch.rand(B, 4, 84, 84, device=dev)
        act = torch.randint(0, 6, (B,), device=dev)
        clip, vf, ent, lr = 0.1, 0.5, 0.01, 2.5e-4
    else:
        agent = MLPAgent(11, 3, args.hidden).to(dev)
        obs = torch.randn(B, 11, device=dev)
        act = torch.randn(B, 3, device=dev)
        clip, vf, ent, lr = 0.2, 0.5, 0.0, 3e-4
    opt = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    with torch.no_grad():
        logp, _, val = agent.evaluate(obs, act)
    adv = torch.randn(B, device=dev)
    ret = val + torch.randn(B, device=dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def update():
        for _ in range(epochs):
            idx = torch.randperm(B, device=dev)
            for s in range(0, B - mb + 1, mb):
                i = idx[s:s + mb]
                newlogp, entropy, newv = agent.evaluate(obs[i], act[i])
                logratio = newlogp - logp[i]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfrac = ((ratio - 1.0).abs() > clip).float().mean()
                a = adv[i]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg = torch.max(-a * ratio, -a * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
                vu = (newv - ret[i]) ** 2
                vc = val[i] + torch.clamp(newv - val[i], -clip, clip)
                vl = 0.5 * torch.max(vu, (vc - ret[i]) ** 2).mean()
                loss = pg - ent * entropy.mean() + vf * vl
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                opt.step()
                approx_kl.item(), clipfrac.item()  # CleanRL logs both every minibatch
        sync()

    update()  # warm-up
    times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        update()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    impl = "pytorch-eager" + ("-tf32" if args.tf32 else "")
    device = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(json.dumps({"impl": impl, "torch": torch.__version__, "threads": torch.get_num_threads(), "device": device,
                      "net": args.net, "batch": B, "minibatch": mb, "hidden": args.hidden, "epochs": epochs,
                      "update_seconds": med, "samples_per_second": B * epochs / med}))


if __name__ == "__main__":
    main()
