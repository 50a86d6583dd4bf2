// kernels.cu — ultra's CUDA kernels: thin __global__ wrappers that map
// threads to elements and call the bodies in ops.cuh.
//
// Build: `make cuda-kernels` (nvcc → ultra.fatbin, embedded by cuda/kernels.go).
// The tests compile this same file with g++ and emu/emu.h instead.
//
// Every kernel is a grid-stride loop over independent elements: no shared
// memory, no __syncthreads, no atomics. Reductions run in passes (a pass
// sums a strided subset of rows into `parts` partial rows; the last pass
// uses parts = 1), so every sum has a fixed order and results are
// deterministic run to run. Arguments are plain scalars and device pointers,
// in the order the Go side packs them (cuda/kernels.go).
#include "ops.cuh"

#define GRID_STRIDE(i, total)                                                          \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (total); \
       i += (long long)gridDim.x * blockDim.x)

// z[r, c] = act(z[r, c] + bias[c]) over a [rows, cols] matrix; bias may be
// null (no bias).
extern "C" __global__ void ultra_bias_act(float* z, const float* bias, int rows, int cols, int act) {
  GRID_STRIDE(i, (long long)rows * cols) {
    float v = z[i];
    if (bias) v += bias[i % cols];
    z[i] = act_fwd(v, act);
  }
}

// d[i] = act_back(d[i], y[i]): turns dL/dy into dL/dz in place.
extern "C" __global__ void ultra_act_back(float* d, const float* y, long long n, int act) {
  GRID_STRIDE(i, n) { d[i] = act_back(d[i], y[i], act); }
}

// One reduction pass over the [rows, cols] matrix x with leading dimension
// ld: out[p, c] = Σ x[r*ld + c] over rows r ≡ p (mod parts), in increasing
// r (out is [parts, cols]). With parts = 1 it is the column sum.
#define COLSUM_BODY(ACC)                                               \
  GRID_STRIDE(i, (long long)parts * cols) {                            \
    int c = (int)(i % cols);                                           \
    long long p = i / cols;                                            \
    ACC s = 0;                                                         \
    for (long long r = p; r < rows; r += parts) s += (ACC)x[r * ld + c]; \
    out[i] = s;                                                        \
  }

extern "C" __global__ void ultra_colsum_f(const float* x, long long rows, int cols, int ld, int parts, float* out) {
  COLSUM_BODY(float)
}
extern "C" __global__ void ultra_colsum_fd(const float* x, long long rows, int cols, int ld, int parts, double* out) {
  COLSUM_BODY(double)
}
extern "C" __global__ void ultra_colsum_d(const double* x, long long rows, int cols, int ld, int parts, double* out) {
  COLSUM_BODY(double)
}

// dst[i, :] = src[idx[i], :] for n rows of width values.
extern "C" __global__ void ultra_gather_rows(float* dst, const float* src, const int* idx, int n, int width) {
  GRID_STRIDE(i, (long long)n * width) {
    long long r = i / width;
    int c = (int)(i - r * width);
    dst[i] = src[(long long)idx[r] * width + c];
  }
}

// out[i] = (x[i*stride] - mean)² with mean = sum[0]/n (advantage
// normalisation, second pass).
extern "C" __global__ void ultra_sqdev(const float* x, int n, int stride, const double* sum, double* out) {
  GRID_STRIDE(i, n) {
    double mean = sum[0] / n;
    double d = (double)x[i * stride] - mean;
    out[i] = d * d;
  }
}

// x[i*stride] = (x - mean)/(std + 1e-8) with the unbiased std from sq[0]
// (torch.std, as CleanRL's advantage normalisation).
extern "C" __global__ void ultra_adv_norm(float* x, int n, int stride, const double* sum, const double* sq) {
  GRID_STRIDE(i, n) {
    double mean = sum[0] / n;
    double sd = sqrt(sq[0] / (n > 1 ? n - 1 : 1));
    float* p = x + i * stride;
    *p = (float)(((double)*p - mean) / (sd + 1e-8));
  }
}

// One thread per sample of the PPO loss (ppo_sample). scal holds the
// minibatch's [n, 4] per-sample scalars: old log-prob, advantage, return,
// old value. act has A values per sample (1 when discrete).
extern "C" __global__ void ultra_ppo_loss(int n, int A, int discrete, const float* head, const float* value,
                                          const float* act, const float* scal, const float* log_std, double clip,
                                          double vf, double ent, int clip_vloss, float* dhead, float* dv,
                                          double* stats, double* dls) {
  PPOCoef c = {clip, vf, ent, 1.0 / n, clip_vloss};
  int aw = discrete ? 1 : A;
  GRID_STRIDE(i, n) {
    const float* s = scal + i * 4;
    ppo_sample(A, discrete, head + i * A, value[i], act + i * aw, s[0], s[1], s[2], s[3], log_std, c,
               dhead + i * A, dv + i, stats + i * ST_N, discrete ? dls : dls + i * A);
  }
}

// loss_finish on one thread.
extern "C" __global__ void ultra_loss_finish(int A, int discrete, const double* sums, const double* dls,
                                             const float* log_std, float ent_coef, float vf_coef, int n,
                                             float* g_log_std, double* out) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    loss_finish(A, discrete, sums, dls, log_std, ent_coef, vf_coef, 1.0 / n, g_log_std, out);
}

// out[p] = Σ g[i]² over i ≡ p (mod parts), in double (first pass of the
// global gradient norm).
extern "C" __global__ void ultra_sumsq(const float* g, long long n, int parts, double* out) {
  GRID_STRIDE(p, parts) {
    double s = 0;
    for (long long i = p; i < n; i += parts) s += (double)g[i] * (double)g[i];
    out[p] = s;
  }
}

// Gradient clipping and one Adam step over all n parameters. sumsq[0] is the
// squared global norm; when it is not finite nothing changes (the host
// reports the error).
extern "C" __global__ void ultra_adam(float* p, float* g, float* m, float* v, long long n, const double* sumsq,
                                      double b1, double b2, double eps, double step_size, double sqrt_bc2,
                                      double max_norm) {
  double norm = sqrt(sumsq[0]);
  if (!isfinite(norm)) return;
  double coef = clip_coef(norm, max_norm);
  AdamCoef c = {b1, b2, eps, step_size, sqrt_bc2, max_norm};
  GRID_STRIDE(i, n) { adam_elem(p + i, g + i, m + i, v + i, coef, c); }
}

// col = im2col(x) for the convolution g.
extern "C" __global__ void ultra_im2col(const float* x, float* col, int n, int c, int h, int w, int k, int s, int oh,
                                        int ow, int nhwc) {
  ConvGeom g = {n, c, h, w, k, s, oh, ow, nhwc};
  GRID_STRIDE(i, (long long)n * oh * ow * c * k * k) { col[i] = im2col_elem(g, x, i); }
}

// dx = col2im(dcol) for the convolution g (dx in the input's layout).
extern "C" __global__ void ultra_col2im(const float* dcol, float* dx, int n, int c, int h, int w, int k, int s,
                                        int oh, int ow, int nhwc) {
  ConvGeom g = {n, c, h, w, k, s, oh, ow, nhwc};
  GRID_STRIDE(i, (long long)n * c * h * w) { dx[i] = col2im_elem(g, dcol, i); }
}

// dst[b, j, i] = src[b, i, j] for batch matrices of [rows, cols].
extern "C" __global__ void ultra_transpose(const float* src, float* dst, int batch, int rows, int cols) {
  long long per = (long long)rows * cols;
  GRID_STRIDE(t, (long long)batch * per) {
    long long b = t / per;
    long long r = t - b * per;
    long long i = r / cols, j = r - i * cols;
    dst[b * per + j * rows + i] = src[t];
  }
}
