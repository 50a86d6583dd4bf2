"""PPO update in PyTorch, the reference for `ultra bench update`.

The same workload as the Go benchmark: a 2048-sample batch (obs 11, action 3),
policy and value MLPs 64-64 tanh with a state-independent log-std, 10 epochs
x 32 minibatches of 64, each minibatch: forward, CleanRL's PPO loss (clipped
surrogate, clipped value loss, entropy), backward, global grad-norm clip 0.5,
Adam (eps 1e-5). Prints one JSON object with samples per second (samples
through forward + backward + Adam = 2048 x 10 per update).

Run with Debian's torch:  /usr/bin/python3 bench/ppo_update_torch.py [--threads N] [--rounds R]
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


class Agent(nn.Module):
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch default)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--minibatch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    obs_dim, act_dim, B, mb = 11, 3, args.batch, args.minibatch
    agent = Agent(obs_dim, act_dim, args.hidden)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-4, eps=1e-5)
    obs = torch.randn(B, obs_dim)
    act = torch.randn(B, act_dim)
    with torch.no_grad():
        logp, _, val = agent.evaluate(obs, act)
    adv = torch.randn(B)
    ret = val + torch.randn(B)
    clip, vf, ent = 0.2, 0.5, 0.0

    def update():
        for _ in range(args.epochs):
            idx = torch.randperm(B)
            for s in range(0, B, mb):
                i = idx[s:s + mb]
                newlogp, entropy, newv = agent.evaluate(obs[i], act[i])
                ratio = (newlogp - logp[i]).exp()
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

    update()  # warm-up
    times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        update()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "batch": B, "minibatch": mb, "hidden": args.hidden, "epochs": args.epochs,
                      "update_seconds": med, "samples_per_second": B * args.epochs / med}))


if __name__ == "__main__":
    main()
