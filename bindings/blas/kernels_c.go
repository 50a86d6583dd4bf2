//go:build !noblas

package blas

/*
// -std=c11: ISO C, where GCC does not contract a*b+c into a fused
// multiply-add (GNU C's default does), so every element sees exactly the
// Go loops' IEEE operations, in the same order.
#cgo CFLAGS: -O2 -std=c11
#cgo LDFLAGS: -lm
#include <math.h>

// The scalar loops: the same operations as kernels.go's Go loops, used
// for the tails of the vector loops and on CPUs without AVX2.
static inline float tanh1(float xf) {
	double x = xf;
	x = x > 9 ? 9 : x;
	x = x < -9 ? -9 : x;
	double s = x * x, s2 = s * s, s4 = s2 * s2;
	double p = ((4.89352455891786e-03 + 6.37261928875436e-04 * s) + s2 * (1.48572235717979e-05 + 5.12229709037114e-08 * s)) +
		s4 * ((-8.60467152213735e-11 + 2.00018790482477e-13 * s) + s2 * -2.76076847742355e-16);
	double q = (4.89352518554385e-03 + 2.26843463243900e-03 * s) + s2 * (1.18534705686654e-04 + 1.19825839466702e-06 * s);
	return (float)(x * p / q);
}

typedef struct { double scale, b1, b2, c1, c2, eps, step, sqrt_bc2; } adam_k;

static inline void adam1(float *p, float *g, float *m, float *v, const adam_k *k) {
	float gs = (float)((double)*g * k->scale);
	*g = gs;
	double gj = gs;
	double mj = k->b1 * (double)*m + k->c1 * gj;
	double vj = k->b2 * (double)*v + k->c2 * gj * gj;
	*m = (float)mj;
	*v = (float)vj;
	*p = (float)((double)*p - k->step * mj / (sqrt(vj) / k->sqrt_bc2 + k->eps));
}

static void tanh_scalar(float *z, long i, long n) {
	for (; i < n; i++) z[i] = tanh1(z[i]);
}

static void tanh_grad_scalar(float *dh, const float *h, long i, long n) {
	for (; i < n; i++) dh[i] *= 1 - h[i] * h[i];
}

static void col_sums_scalar(float *s, const float *m, long rows, long cols, long j) {
	for (; j < cols; j++) {
		float acc = 0;
		for (long i = 0; i < rows; i++) acc += m[i * cols + j];
		s[j] = acc;
	}
}

static void relu_scalar(float *z, long i, long n) {
	for (; i < n; i++) z[i] = z[i] <= 0 ? 0 : z[i];
}

static void relu_grad_scalar(float *dh, const float *h, long i, long n) {
	for (; i < n; i++) dh[i] = h[i] > 0 ? dh[i] : 0;
}

static void add_scalar(float *dst, const float *src, long i, long n) {
	for (; i < n; i++) dst[i] += src[i];
}

static double sum_squares_scalar(const float *x, long n, double s[8]) {
	long m = n / 8 * 8;
	for (long i = 0; i < m; i += 8) {
		for (int j = 0; j < 8; j++) {
			double v = x[i + j];
			s[j] += v * v;
		}
	}
	double tail = 0;
	for (long i = m; i < n; i++) tail += (double)x[i] * (double)x[i];
	return tail;
}

static void adam_scalar(float *p, float *g, float *m, float *v, long j, long n, const adam_k *k) {
	for (; j < n; j++) adam1(p + j, g + j, m + j, v + j, k);
}

// The vector loops. One body, written with GCC/Clang vector extensions
// over W doubles, is instantiated for AVX-512 (W = 8) and AVX2 (W = 4);
// only sqrt, min and max need the intrinsics of each width. min_pd(c, x)
// is (c < x ? c : x) and max_pd(c, x) is (c > x ? c : x): a NaN x is kept,
// as in the scalar clamp. Each loop ends with vzeroupper before the
// scalar tail and the return to Go: Go's float arithmetic is legacy SSE,
// which runs at half speed or worse while the upper halves of the vector
// registers are dirty (GCC does not insert it before a tail call).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ULTRA_VECTOR 1

#define KERNELS(SUF, TARGET, W, VD, VS, VI, LOADF, STOREF, SQRT, MIN, MAX)                                  \
	__attribute__((target(TARGET))) static inline VD cvt_in_##SUF(const float *x) {                   \
		return __builtin_convertvector(LOADF(x), VD);                                                   \
	}                                                                                                     \
	__attribute__((target(TARGET))) static inline void cvt_out_##SUF(float *x, VD y) {                \
		STOREF(x, __builtin_convertvector(y, VS));                                                      \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void tanh_##SUF(float *z, long n) {                        \
		const VD c9 = (VD){0} + 9.0, cm9 = c9 * -1.0;                                                      \
		long i = 0;                                                                                       \
		for (; i + W <= n; i += W) {                                                                      \
			VD x = MAX(cm9, MIN(c9, cvt_in_##SUF(z + i)));                                              \
			VD s = x * x, s2 = s * s, s4 = s2 * s2;                                                      \
			VD p = ((4.89352455891786e-03 + 6.37261928875436e-04 * s) + s2 * (1.48572235717979e-05 + 5.12229709037114e-08 * s)) + \
				s4 * ((-8.60467152213735e-11 + 2.00018790482477e-13 * s) + s2 * -2.76076847742355e-16);  \
			VD q = (4.89352518554385e-03 + 2.26843463243900e-03 * s) + s2 * (1.18534705686654e-04 + 1.19825839466702e-06 * s); \
			cvt_out_##SUF(z + i, x * p / q);                                                             \
		}                                                                                                 \
		_mm256_zeroupper();                                                                                \
		tanh_scalar(z, i, n);                                                                             \
	}                                                                                                     \
	__attribute__((target(TARGET))) static double sum_squares_##SUF(const float *x, long n, double s[8]) { \
		VD acc[8 / W];                                                                                    \
		for (int l = 0; l < 8 / W; l++) acc[l] = (VD){0};                                               \
		long m = n / 8 * 8;                                                                               \
		for (long i = 0; i < m; i += 8) {                                                                 \
			for (int l = 0; l < 8 / W; l++) {                                                               \
				VD v = cvt_in_##SUF(x + i + l * W);                                                         \
				acc[l] += v * v;                                                                              \
			}                                                                                               \
		}                                                                                                 \
		for (int l = 0; l < 8 / W; l++)                                                                   \
			for (int j = 0; j < W; j++) s[l * W + j] = acc[l][j];                                       \
		_mm256_zeroupper();                                                                                \
		double tail = 0;                                                                                  \
		for (long i = m; i < n; i++) tail += (double)x[i] * (double)x[i];                                \
		return tail;                                                                                      \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void adam_##SUF(float *p, float *g, float *m, float *v, long n, const adam_k *k) { \
		const VD zero = (VD){0}, scale = zero + k->scale, b1 = zero + k->b1, b2 = zero + k->b2, c1 = zero + k->c1, \
			c2 = zero + k->c2, eps = zero + k->eps, step = zero + k->step, sbc2 = zero + k->sqrt_bc2;       \
		long j = 0;                                                                                       \
		for (; j + W <= n; j += W) {                                                                      \
			VS gs = __builtin_convertvector(cvt_in_##SUF(g + j) * scale, VS);                           \
			STOREF(g + j, gs);                                                                              \
			VD gj = __builtin_convertvector(gs, VD);                                                       \
			VD mj = b1 * cvt_in_##SUF(m + j) + c1 * gj;                                                    \
			VD vj = b2 * cvt_in_##SUF(v + j) + c2 * gj * gj;                                               \
			cvt_out_##SUF(m + j, mj);                                                                      \
			cvt_out_##SUF(v + j, vj);                                                                      \
			cvt_out_##SUF(p + j, cvt_in_##SUF(p + j) - step * mj / (SQRT(vj) / sbc2 + eps));             \
		}                                                                                                 \
		_mm256_zeroupper();                                                                                \
		adam_scalar(p, g, m, v, j, n, k);                                                                 \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void tanh_grad_##SUF(float *dh, const float *h, long n) {  \
		long i = 0;                                                                                       \
		for (; i + 2 * W <= n; i += 2 * W) {                                                              \
			VS y = LOADF(h + i), d = LOADF(dh + i);                                                        \
			STOREF(dh + i, d * (1.0f - y * y));                                                             \
			y = LOADF(h + i + W), d = LOADF(dh + i + W);                                                   \
			STOREF(dh + i + W, d * (1.0f - y * y));                                                         \
		}                                                                                                 \
		_mm256_zeroupper();                                                                                \
		tanh_grad_scalar(dh, h, i, n);                                                                    \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void col_sums_##SUF(float *s, const float *m, long rows, long cols) { \
		long j = 0;                                                                                       \
		for (; j + 2 * W <= cols; j += 2 * W) {                                                           \
			VS a = (VS){0}, b = (VS){0};                                                                    \
			for (long i = 0; i < rows; i++) {                                                               \
				a += LOADF(m + i * cols + j);                                                                 \
				b += LOADF(m + i * cols + j + W);                                                             \
			}                                                                                               \
			STOREF(s + j, a);                                                                               \
			STOREF(s + j + W, b);                                                                           \
		}                                                                                                 \
		_mm256_zeroupper();                                                                                \
		col_sums_scalar(s, m, rows, cols, j);                                                             \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void add_##SUF(float *dst, const float *src, long n) {      \
		long i = 0;                                                                                       \
		for (; i + 2 * W <= n; i += 2 * W) {                                                              \
			STOREF(dst + i, LOADF(dst + i) + LOADF(src + i));                                              \
			STOREF(dst + i + W, LOADF(dst + i + W) + LOADF(src + i + W));                                  \
		}                                                                                                 \
		_mm256_zeroupper();                                                                                \
		add_scalar(dst, src, i, n);                                                                       \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void relu_##SUF(float *z, long n) {                        \
		long i = 0;                                                                                       \
		for (; i + W <= n; i += W) {                                                                      \
			VS x = LOADF(z + i);                                                                            \
			STOREF(z + i, (VS)((VI)x & ~(VI)(x <= 0)));                                                    \
		}                                                                                                 \
		_mm256_zeroupper();                                                                               \
		relu_scalar(z, i, n);                                                                             \
	}                                                                                                     \
	__attribute__((target(TARGET))) static void relu_grad_##SUF(float *dh, const float *h, long n) {  \
		long i = 0;                                                                                       \
		for (; i + W <= n; i += W) {                                                                      \
			VS d = LOADF(dh + i);                                                                           \
			STOREF(dh + i, (VS)((VI)d & (VI)(LOADF(h + i) > 0)));                                          \
		}                                                                                                 \
		_mm256_zeroupper();                                                                               \
		relu_grad_scalar(dh, h, i, n);                                                                    \
	}

typedef double vd8 __attribute__((vector_size(64)));
typedef float vs8 __attribute__((vector_size(32)));
typedef double vd4 __attribute__((vector_size(32)));
typedef float vs4 __attribute__((vector_size(16)));
typedef int vi8 __attribute__((vector_size(32)));
typedef int vi4 __attribute__((vector_size(16)));

#define LOAD8(x) ((vs8)_mm256_loadu_ps(x))
#define STORE8(x, y) _mm256_storeu_ps(x, (__m256)(y))
#define LOAD4(x) ((vs4)_mm_loadu_ps(x))
#define STORE4(x, y) _mm_storeu_ps(x, (__m128)(y))
#define SQRT512(x) ((vd8)_mm512_sqrt_pd((__m512d)(x)))
#define MIN512(a, b) ((vd8)_mm512_min_pd((__m512d)(a), (__m512d)(b)))
#define MAX512(a, b) ((vd8)_mm512_max_pd((__m512d)(a), (__m512d)(b)))
#define SQRT256(x) ((vd4)_mm256_sqrt_pd((__m256d)(x)))
#define MIN256(a, b) ((vd4)_mm256_min_pd((__m256d)(a), (__m256d)(b)))
#define MAX256(a, b) ((vd4)_mm256_max_pd((__m256d)(a), (__m256d)(b)))

KERNELS(avx512, "avx512f", 8, vd8, vs8, vi8, LOAD8, STORE8, SQRT512, MIN512, MAX512)
KERNELS(avx2, "avx2", 4, vd4, vs4, vi4, LOAD4, STORE4, SQRT256, MIN256, MAX256)
#endif

// level is the instruction set the kernels use: 2 AVX-512, 1 AVX2, 0 none.
static int level;

static int ultra_kernels_init(void) {
#ifdef ULTRA_VECTOR
	__builtin_cpu_init();
	level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
	return level;
}

// ultra_kernels_set_level lowers (never raises) the level, for tests of
// the AVX2 and scalar loops on a machine with more; it returns the level.
static int ultra_kernels_set_level(int l) {
	int best = ultra_kernels_init();
	level = l < best ? l : best;
	return level;
}

// DISPATCH runs kernel name's AVX-512 or AVX2 loop and returns when the
// CPU has one; otherwise the caller goes on to its scalar loop.
#ifdef ULTRA_VECTOR
#define DISPATCH(name, ...)                \
	do {                                   \
		if (level == 2) {                  \
			name##_avx512(__VA_ARGS__);    \
			return;                        \
		}                                  \
		if (level == 1) {                  \
			name##_avx2(__VA_ARGS__);      \
			return;                        \
		}                                  \
	} while (0)
#else
#define DISPATCH(name, ...) do { } while (0)
#endif

static void ultra_tanh(float *z, long n) {
	DISPATCH(tanh, z, n);
	tanh_scalar(z, 0, n);
}

static void ultra_tanh_grad(float *dh, const float *h, long n) {
	DISPATCH(tanh_grad, dh, h, n);
	tanh_grad_scalar(dh, h, 0, n);
}

static void ultra_relu(float *z, long n) {
	DISPATCH(relu, z, n);
	relu_scalar(z, 0, n);
}

static void ultra_relu_grad(float *dh, const float *h, long n) {
	DISPATCH(relu_grad, dh, h, n);
	relu_grad_scalar(dh, h, 0, n);
}

static void ultra_col_sums(float *s, const float *m, long rows, long cols) {
	DISPATCH(col_sums, s, m, rows, cols);
	col_sums_scalar(s, m, rows, cols, 0);
}

static void ultra_add(float *dst, const float *src, long n) {
	DISPATCH(add, dst, src, n);
	add_scalar(dst, src, 0, n);
}

static double ultra_sum_squares(const float *x, long n) {
	double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, tail;
#ifdef ULTRA_VECTOR
	if (level == 2) tail = sum_squares_avx512(x, n, s);
	else if (level == 1) tail = sum_squares_avx2(x, n, s);
	else
#endif
	tail = sum_squares_scalar(x, n, s);
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

static void ultra_adam(float *p, float *g, float *m, float *v, long n,
		double scale, double b1, double b2, double eps, double step, double sqrt_bc2) {
	adam_k k = {scale, b1, b2, 1 - b1, 1 - b2, eps, step, sqrt_bc2};
	DISPATCH(adam, p, g, m, v, n, &k);
	adam_scalar(p, g, m, v, 0, n, &k);
}
*/
import "C"

import "unsafe"

// kernelLevels names the instruction sets ultra_kernels_init can choose.
var kernelLevels = [...]string{"C, scalar (no AVX2)", "C, AVX2", "C, AVX-512"}

// KernelsImpl names the element-wise kernels of this build on this CPU.
var KernelsImpl = kernelLevels[C.ultra_kernels_init()]

// setKernelLevel makes the kernels use level l of kernelLevels, or the
// best this CPU has if that is lower, and returns the level used.
func setKernelLevel(l int) int { return int(C.ultra_kernels_set_level(C.int(l))) }

func fp(x []float32) *C.float { return (*C.float)(unsafe.Pointer(&x[0])) }

func tanhKernel(z []float32) { C.ultra_tanh(fp(z), C.long(len(z))) }

func tanhGradKernel(dh, h []float32) { C.ultra_tanh_grad(fp(dh), fp(h), C.long(len(dh))) }

func colSumsKernel(s, m []float32, rows int) {
	C.ultra_col_sums(fp(s), fp(m), C.long(rows), C.long(len(s)))
}

func reluKernel(z []float32) { C.ultra_relu(fp(z), C.long(len(z))) }

func reluGradKernel(dh, h []float32) { C.ultra_relu_grad(fp(dh), fp(h), C.long(len(dh))) }

func addKernel(dst, src []float32) { C.ultra_add(fp(dst), fp(src), C.long(len(dst))) }

func sumSquaresKernel(x []float32) float64 {
	return float64(C.ultra_sum_squares(fp(x), C.long(len(x))))
}

func adamKernel(p, g, m, v []float32, k AdamCoefs) {
	C.ultra_adam(fp(p), fp(g), fp(m), fp(v), C.long(len(p)), C.double(k.Scale), C.double(k.Beta1), C.double(k.Beta2),
		C.double(k.Eps), C.double(k.StepSize), C.double(k.SqrtBC2))
}
