// ops.cuh — the per-element bodies of ultra's CUDA kernels.
//
// Every function here is __host__ __device__: kernels.cu calls them from its
// __global__ kernels on the GPU, and the host emulation (emu/emu.h, built with
// g++ by the tests) runs the very same functions on the CPU, so the arithmetic
// the tests check is the arithmetic the GPU runs. The maths mirrors the native
// backend (engine/nn/native.go, adam.go) operation for operation: the PPO loss
// terms and Adam are evaluated in double precision like the Go code, so the
// two agree to float32 rounding.
//
// Layouts are row-major, as in engine/nn: a matrix [rows, cols] stores element
// (r, c) at r*cols + c.
#pragma once

#define UD __host__ __device__ inline

// Activation codes (cuda.Act on the Go side).
enum { ACT_NONE = 0, ACT_TANH = 1, ACT_RELU = 2 };

// act_fwd applies the activation. ReLU is x·(x > 0) as in gorgonia and the
// native backend: 0 for x <= 0, NaN stays NaN.
UD float act_fwd(float x, int act) {
  switch (act) {
    case ACT_TANH: return tanhf(x);
    case ACT_RELU: return x <= 0.0f ? 0.0f : x;
    default: return x;
  }
}

// act_back turns dL/dy into dL/dz given the activation's output y = act(z):
// tanh' = 1 - y², ReLU' = 1 where y > 0 and 0 elsewhere (0 at 0, as torch).
UD float act_back(float d, float y, int act) {
  switch (act) {
    case ACT_TANH: return d * (1.0f - y * y);
    case ACT_RELU: return y > 0.0f ? d : 0.0f;
    default: return d;
  }
}

// HALF_LOG_2PI is ½·log(2π), the per-dimension constant of a Gaussian
// log-density.
#define HALF_LOG_2PI 0.91893853320467274178

// gauss_const returns Σ_j log_std_j + A·½log(2π): minus the log-density of a
// diagonal Gaussian at its mean, summed in the native backend's order.
UD double gauss_const(const float* log_std, int A) {
  double c = (double)A * HALF_LOG_2PI;
  for (int j = 0; j < A; j++) c += (double)log_std[j];
  return c;
}

// gauss_logprob returns log N(a; mean, exp(log_std)) summed over the A
// dimensions (torch Normal(...).log_prob(a).sum(-1)); c is gauss_const.
UD double gauss_logprob(const float* mean, const float* log_std, const float* a, int A, double c) {
  double lp = -c;
  for (int j = 0; j < A; j++) {
    double z = ((double)a[j] - (double)mean[j]) * exp(-(double)log_std[j]);
    lp -= 0.5 * z * z;
  }
  return lp;
}

// Categorical is the softmax of one row of logits: its max, log-sum-exp and
// entropy, evaluated stably in double.
struct Categorical {
  double max, sum, lse, entropy;
};

UD Categorical categorical(const float* logits, int A) {
  Categorical c;
  c.max = -INFINITY;
  for (int j = 0; j < A; j++) c.max = fmax(c.max, (double)logits[j]);
  c.sum = 0;
  for (int j = 0; j < A; j++) c.sum += exp((double)logits[j] - c.max);
  c.lse = c.max + log(c.sum);
  c.entropy = 0;
  for (int j = 0; j < A; j++) {
    double p = exp((double)logits[j] - c.max) / c.sum;
    if (p != 0) c.entropy -= p * ((double)logits[j] - c.lse);
  }
  return c;
}

// cat_prob is softmax(logits)[j], bit-identical to the probabilities that
// categorical() summed.
UD double cat_prob(const Categorical& c, const float* logits, int j) {
  return exp((double)logits[j] - c.max) / c.sum;
}

// PPOCoef holds one minibatch's loss coefficients; inv_n = 1/N.
struct PPOCoef {
  double clip, vf, ent, inv_n;
  int clip_vloss;
};

// Per-sample statistics written by ppo_sample, summed later.
enum { ST_PG = 0, ST_VLOSS, ST_ENT, ST_KL, ST_CLIPPED, ST_N };

// ppo_sample evaluates CleanRL's PPO loss terms for one sample and their
// gradient at the two heads, exactly as the native backend's gradChunk:
//
//	ratio = exp(logp - logp_old)
//	pg    = max(-adv·ratio, -adv·clamp(ratio, 1-clip, 1+clip))
//	v     = ½·(V - ret)²  or, clipped, ½·max((V-ret)², (V_old + clamp(V-V_old, ±clip) - ret)²)
//
// head holds the A logits (discrete) or Gaussian means; act the action index
// (as a float) or the A action values. It writes dhead[A] = dL/dhead,
// *dv = dL/dV, stats[ST_N] and, for a Gaussian, dls[A] = this sample's part
// of dL/dlog_std (before the entropy term, which does not depend on the
// sample). Ties of the max go to the unclipped term; clamp has derivative 1
// inside the range and 0 outside (gorgonia's and the native backend's rule).
UD void ppo_sample(int A, int discrete, const float* head, float value, const float* act, float logp_old,
                   float adv_f, float ret_f, float v_old, const float* log_std, PPOCoef c, float* dhead,
                   float* dv, double* stats, double* dls) {
  double logp, ent = 0;
  int a = 0;
  Categorical cat = {0, 0, 0, 0};
  double gc = 0;
  if (discrete) {
    a = (int)act[0];
    cat = categorical(head, A);
    ent = cat.entropy;
    logp = (double)head[a] - cat.lse;
  } else {
    gc = gauss_const(log_std, A);
    logp = gauss_logprob(head, log_std, act, A, gc);
  }

  double log_ratio = logp - (double)logp_old;
  double ratio = exp(log_ratio);
  double lo = 1 - c.clip, hi = 1 + c.clip;
  stats[ST_KL] = (ratio - 1) - log_ratio;
  stats[ST_CLIPPED] = fabs(ratio - 1) > c.clip ? 1.0 : 0.0;
  double adv = (double)adv_f;
  double clamped = fmin(fmax(ratio, lo), hi);
  double pg1 = -adv * ratio, pg2 = -adv * clamped;
  double d_ratio = 0;
  if (pg1 >= pg2) {
    stats[ST_PG] = pg1;
    d_ratio = -adv;
  } else {
    stats[ST_PG] = pg2;
    if (ratio >= lo && ratio <= hi) d_ratio = -adv;
  }
  double d_logp = d_ratio * ratio * c.inv_n;
  double ent_scale = c.ent * c.inv_n;

  if (discrete) {
    stats[ST_ENT] = ent;
    for (int j = 0; j < A; j++) {
      double p = cat_prob(cat, head, j);
      double d = -d_logp * p;
      if (j == a) d += d_logp;
      d += ent_scale * p * (((double)head[j] - cat.lse) + ent);
      dhead[j] = (float)d;
    }
  } else {
    stats[ST_ENT] = 0;
    for (int j = 0; j < A; j++) {
      double inv_std = exp(-(double)log_std[j]);
      double z = ((double)act[j] - (double)head[j]) * inv_std;
      dhead[j] = (float)(d_logp * z * inv_std);
      dls[j] = d_logp * (z * z - 1);
    }
  }

  double v = (double)value, ret = (double)ret_f;
  double d = v - ret;
  double unclipped = d * d;
  double dvv = d;
  if (c.clip_vloss) {
    double old = (double)v_old;
    double delta = v - old;
    double dc = old + fmin(fmax(delta, -c.clip), c.clip) - ret;
    double sq = dc * dc;
    if (unclipped >= sq) {
      stats[ST_VLOSS] = 0.5 * unclipped;
    } else {
      stats[ST_VLOSS] = 0.5 * sq;
      dvv = 0;
      if (delta >= -c.clip && delta <= c.clip) dvv = dc;
    }
  } else {
    stats[ST_VLOSS] = 0.5 * unclipped;
  }
  *dv = (float)(c.vf * c.inv_n * dvv);
}

// Loss statistics written by loss_finish (nn.LossStats order).
enum { LS_LOSS = 0, LS_PG, LS_VLOSS, LS_ENT, LS_KL, LS_CLIPFRAC, LS_N };

// loss_finish turns the summed per-sample statistics into the minibatch's
// LossStats (out[LS_N]) and, for a Gaussian, writes log_std's gradient:
// the summed per-sample part minus EntCoef (the entropy Σ log_std + A(½ +
// ½log 2π) has derivative 1 in each log_std).
UD void loss_finish(int A, int discrete, const double* sums, const double* dls, const float* log_std,
                    float ent_coef, float vf_coef, double inv_n, float* g_log_std, double* out) {
  out[LS_PG] = sums[ST_PG] * inv_n;
  out[LS_VLOSS] = sums[ST_VLOSS] * inv_n;
  out[LS_KL] = sums[ST_KL] * inv_n;
  out[LS_CLIPFRAC] = sums[ST_CLIPPED] * inv_n;
  if (discrete) {
    out[LS_ENT] = sums[ST_ENT] * inv_n;
  } else {
    out[LS_ENT] = gauss_const(log_std, A) + 0.5 * (double)A;
    for (int j = 0; j < A; j++) g_log_std[j] = (float)dls[j] - ent_coef;
  }
  out[LS_LOSS] = out[LS_PG] - (double)ent_coef * out[LS_ENT] + (double)vf_coef * out[LS_VLOSS];
}

// AdamCoef holds one Adam step's constants, computed on the host in double
// like torch.optim.Adam: step_size = lr/(1-β1^t), sqrt_bc2 = sqrt(1-β2^t).
struct AdamCoef {
  double b1, b2, eps, step_size, sqrt_bc2, max_norm;
};

// clip_coef is torch.nn.utils.clip_grad_norm_'s factor for a global norm:
// max_norm/(norm + 1e-6) when max_norm > 0, applied only when below 1 (a
// return of 1 means "leave the gradient alone").
UD double clip_coef(double norm, double max_norm) {
  if (max_norm <= 0) return 1;
  double k = max_norm / (norm + 1e-6);
  return k < 1 ? k : 1;
}

// adam_elem clips one gradient element by coef (stored back, so the
// gradient buffer holds the clipped gradient as after the native Step) and
// applies one bias-corrected Adam update to p, m and v.
UD void adam_elem(float* p, float* g, float* m, float* v, double coef, AdamCoef c) {
  if (coef < 1) *g = (float)((double)*g * coef);
  double gj = (double)*g;
  double mj = c.b1 * (double)*m + (1 - c.b1) * gj;
  double vj = c.b2 * (double)*v + (1 - c.b2) * gj * gj;
  *m = (float)mj;
  *v = (float)vj;
  *p = (float)((double)*p - c.step_size * mj / (sqrt(vj) / c.sqrt_bc2 + c.eps));
}

// ConvGeom describes one valid convolution over a batch: n images of c
// channels, h×w pixels, a k×k kernel with stride s, giving oh×ow outputs.
// nhwc selects the input layout: 0 for [n, c, h, w] (the observations), 1
// for [n, h, w, c] (the previous layer's [n·oh·ow, out] activations).
struct ConvGeom {
  int n, c, h, w, k, s, oh, ow, nhwc;
};

// conv_in_index is the offset of pixel (b, ch, y, x) of the input.
UD long long conv_in_index(ConvGeom g, int b, int ch, int y, int x) {
  if (g.nhwc) return (((long long)b * g.h + y) * g.w + x) * g.c + ch;
  return (((long long)b * g.c + ch) * g.h + y) * g.w + x;
}

// im2col_elem returns element i of the column matrix [n·oh·ow, c·k·k]:
// row (b, oy, ox), column (ch, ky, kx) in PyTorch's weight order
// [out, in, kh, kw].
UD float im2col_elem(ConvGeom g, const float* x, long long i) {
  int kk = g.k * g.k;
  long long K = (long long)g.c * kk;
  long long row = i / K;
  int col = (int)(i - row * K);
  int ox = (int)(row % g.ow);
  long long t = row / g.ow;
  int oy = (int)(t % g.oh);
  int b = (int)(t / g.oh);
  int ch = col / kk, r = col - ch * kk;
  int ky = r / g.k, kx = r - ky * g.k;
  return x[conv_in_index(g, b, ch, oy * g.s + ky, ox * g.s + kx)];
}

// col2im_elem returns dL/dx for input element i (in the input's layout):
// the sum, over every (ky, kx) in order, of the column-matrix gradient
// entries that read this pixel. Gathering per pixel instead of scattering
// per column entry needs no atomics and is deterministic.
UD float col2im_elem(ConvGeom g, const float* dcol, long long i) {
  int b, ch, y, x;
  if (g.nhwc) {
    ch = (int)(i % g.c);
    long long t = i / g.c;
    x = (int)(t % g.w);
    t /= g.w;
    y = (int)(t % g.h);
    b = (int)(t / g.h);
  } else {
    x = (int)(i % g.w);
    long long t = i / g.w;
    y = (int)(t % g.h);
    t /= g.h;
    ch = (int)(t % g.c);
    b = (int)(t / g.c);
  }
  int kk = g.k * g.k;
  long long K = (long long)g.c * kk;
  float sum = 0;
  for (int ky = 0; ky < g.k; ky++) {
    int ty = y - ky;
    if (ty < 0 || ty % g.s != 0 || ty / g.s >= g.oh) continue;
    int oy = ty / g.s;
    for (int kx = 0; kx < g.k; kx++) {
      int tx = x - kx;
      if (tx < 0 || tx % g.s != 0 || tx / g.s >= g.ow) continue;
      int ox = tx / g.s;
      long long row = ((long long)b * g.oh + oy) * g.ow + ox;
      sum += dcol[row * K + ch * kk + ky * g.k + kx];
    }
  }
  return sum;
}
