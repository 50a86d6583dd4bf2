"""The PyTorch side of bench/cnn.sh: one CleanRL ppo_atari minibatch step
(Nature-CNN on 4x84x84, 6 actions, 256 samples, clip 0.1, vf 0.5 with value
clipping, ent 0.01, Adam lr 2.5e-4 eps 1e-5, grad-norm clip 0.5), the same
work as ultra's BenchmarkCNNUpdate. Prints one JSON line."""
import argparse, json, time

import torch
import torch.nn as nn

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--steps", type=int, default=5)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

torso = nn.Sequential(
    nn.Conv2d(4, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
    nn.Conv2d(64, 64, 3, 1), nn.ReLU(), nn.Flatten(), nn.Linear(3136, 512), nn.ReLU())
actor, critic = nn.Linear(512, 6), nn.Linear(512, 1)
params = list(torso.parameters()) + list(actor.parameters()) + list(critic.parameters())
opt = torch.optim.Adam(params, lr=2.5e-4, eps=1e-5)

mb = 256
obs = torch.rand(mb, 4, 84, 84)
act = torch.randint(0, 6, (mb,))
old_logp = torch.full((mb,), -1.79)
adv, ret, old_v = torch.randn(mb), torch.randn(mb), torch.randn(mb)


def step():
    h = torso(obs)
    dist = torch.distributions.Categorical(logits=actor(h))
    v = critic(h).squeeze(-1)
    ratio = (dist.log_prob(act) - old_logp).exp()
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(0.9, 1.1)).mean()
    v_clipped = old_v + (v - old_v).clamp(-0.1, 0.1)
    v_loss = 0.5 * torch.max((v - ret) ** 2, (v_clipped - ret) ** 2).mean()
    loss = pg - 0.01 * dist.entropy().mean() + 0.5 * v_loss
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(params, 0.5)
    opt.step()


step()  # warm-up
t0 = time.perf_counter()
for _ in range(args.steps):
    step()
elapsed = time.perf_counter() - t0
print(json.dumps({"impl": f"pytorch-{torch.__version__}-{args.threads}thread",
                  "samples_per_second": mb * args.steps / elapsed}))
