// fake_driver.cc — a CPU stand-in for libcuda.so.1 and libcublas.so, for the
// tests of the `cuda` build tag on machines without a GPU.
//
// The tests build it with g++ into one shared library and point
// ULTRA_CUDA_DRIVER and ULTRA_CUDA_CUBLAS at it. The Go binding then runs its
// real code path — dlopen, dlsym of every entry point in ucuda.h, the
// primary context, the stream, the pooled allocator, the packed kernel
// arguments of cuLaunchKernel, column-major cublasSgemm — against:
//
//   - device memory in host memory (every allocation is tracked, so copies
//     and kernel pointer arguments outside live allocations are errors),
//     and page-locked host memory (cuMemHostAlloc, tracked too);
//   - the kernels of kernels.cu compiled for the host with emu.h, looked up
//     by name in cuModuleGetFunction; cuLaunchKernel unpacks the argument
//     buffer with each kernel's own parameter types and fails on any size
//     mismatch, which catches a Go launcher that packs the wrong arguments,
//     and checks that every pointer argument spans, inside one live
//     allocation, all the elements the kernel indexes from it for those
//     arguments (the extents below, which follow kernels.cu); a failure
//     names the kernel and the argument (cuGetErrorString);
//   - the threads and blocks of each launch run in a shuffled order (a
//     fixed seed, a new permutation per launch), or as
//     ULTRA_FAKE_CUDA_ORDER says: shuffle, reverse or index;
//   - a reference sgemm (column-major, float accumulation in k order);
//   - a module image that must be a fatbin (magic 0xBA55ED50).
//
// Copies, memsets, kernels and matrix products are asynchronous as on a
// GPU: each is queued on its device's stream and runs when the host waits —
// cuStreamSynchronize, a device-to-host copy into pageable memory (which
// the driver makes synchronous), or a call that frees or releases memory
// or the context. A host-to-device copy from pageable memory reads its
// source during the call (the driver stages it); from page-locked memory
// it reads the source when it runs, and a device-to-host copy into
// page-locked memory writes there when it runs, so a host that writes a
// staging buffer before the copy that reads it has run, or reads one
// before waiting, gets wrong numbers here as on a GPU. Everything runs on
// the calling thread, under one lock (so concurrent callers, e.g.
// parallel backends, are serialised). Each device
// has its primary context; like the driver, a context is current per
// thread, every call that needs one fails without it, a stream, module,
// cuBLAS handle or allocation belongs to the context it was made in and is
// refused in another, and every cuBLAS call needs its handle's context
// current on the calling thread. ultra_fake_get_counters reports the
// host's waits, copies (and which were pageable), launches and cuBLAS
// calls (counters.h).
//
// Environment knobs (read at each call): ULTRA_FAKE_CUDA=nodevice makes
// cuInit fail with CUDA_ERROR_NO_DEVICE (100); ULTRA_FAKE_CUDA_MEMORY=N caps
// the bytes allocated at once (CUDA_ERROR_OUT_OF_MEMORY beyond it);
// ULTRA_FAKE_CUDA_DEVICES=N shows N devices (1 to 4, default 1);
// ULTRA_FAKE_CUDA_MIGRATE=1 clears the calling thread's current context
// after every cuBLAS call, as when a goroutine moves to another OS thread
// between two cgo calls, so a binding that makes a cuBLAS call without
// making its context current in the same cgo call fails;
// ULTRA_FAKE_CUDA_FAULT=<kernel> makes that kernel fault on the device: its
// launch returns success (launches are asynchronous) and the context gets
// the sticky error CUDA_ERROR_ILLEGAL_ADDRESS (700), which every later call
// in it returns, as the driver does; the emulator clears it when the last
// user releases the primary context, so that later tests run (the driver
// needs a new process); ULTRA_FAKE_CUDA_ORDER=shuffle|reverse|index orders
// the threads of every launch (default shuffle).
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "../../ucuda.h"
#include "../kernels.cu"
#include "../list.h"
#include "counters.h"

namespace {

enum : ucu_result {
  OK = 0,
  ERR_INVALID_VALUE = 1,
  ERR_OUT_OF_MEMORY = 2,
  ERR_NOT_INITIALIZED = 3,
  ERR_NO_DEVICE = 100,
  ERR_INVALID_DEVICE = 101,
  ERR_INVALID_IMAGE = 200,
  ERR_INVALID_CONTEXT = 201,
  ERR_INVALID_HANDLE = 400,
  ERR_NOT_FOUND = 500,
  ERR_ILLEGAL_ADDRESS = 700,
  ERR_LAUNCH_FAILED = 719,
};

constexpr int kMaxDevices = 4;

std::mutex mu;
bool initialised = false;
// Live device allocations: start -> bytes and the device they belong to.
struct Alloc {
  size_t bytes;
  int dev;
};
std::map<uintptr_t, Alloc> allocs;
size_t allocated = 0;
// Live page-locked host allocations (cuMemHostAlloc): start -> bytes.
std::map<uintptr_t, size_t> host_allocs;
// Per device: the work queued on its stream, run in order by drain.
std::vector<std::function<void()>> queued[kMaxDevices];
// msg explains the last failure of a copy or launch, for cuGetErrorString
// (the Go binding asks right after the failing call); "" when none.
char msg[512];
ultra_fake_counters counters;
// Per device: its primary context's users, its sticky error, and the
// tokens of the handles made in it.
int ctx_refs[kMaxDevices];
ucu_result sticky[kMaxDevices];
char ctx_token[kMaxDevices], stream_token[kMaxDevices], module_token[kMaxDevices], blas_token[kMaxDevices];
thread_local void* current_ctx = nullptr;

bool env_is(const char* name, const char* value) {
  const char* v = getenv(name);
  return v && strcmp(v, value) == 0;
}

int device_count() {
  const char* v = getenv("ULTRA_FAKE_CUDA_DEVICES");
  int n = v ? atoi(v) : 1;
  return n < 1 ? 1 : n > kMaxDevices ? kMaxDevices : n;
}

bool valid_device(ucu_device d) { return d >= 0 && d < device_count(); }

// cur is the device whose context is current on the calling thread, or -1.
int cur() { return current_ctx ? (int)((char*)current_ctx - ctx_token) : -1; }

// room returns the bytes from p to the end of the live allocation of the
// current context's device that holds p, or 0 when none holds it.
size_t room(uintptr_t p) {
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return 0;
  --it;
  if (p < it->first || p >= it->first + it->second.bytes || it->second.dev != cur()) return 0;
  return it->first + it->second.bytes - p;
}

// inside reports whether [p, p+n) lies in one live allocation of the
// current context's device.
bool inside(uintptr_t p, size_t n) {
  size_t r = room(p);
  return r > 0 && r >= n;
}

// pinned reports whether [p, p+n) lies in one live page-locked host
// allocation.
bool pinned(const void* ptr, size_t n) {
  uintptr_t p = (uintptr_t)ptr;
  auto it = host_allocs.upper_bound(p);
  if (it == host_allocs.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second;
}

// fail records why a call failed (cuGetErrorString returns it) and returns
// CUDA_ERROR_INVALID_VALUE.
ucu_result fail(const char* format, ...) __attribute__((format(printf, 1, 2)));
ucu_result fail(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg, sizeof msg, format, ap);
  va_end(ap);
  return ERR_INVALID_VALUE;
}

// check_span fails unless [p, p+n) lies in one live allocation of the
// current context's device; call names the caller, what the pointer.
ucu_result check_span(const char* call, const char* what, uintptr_t p, size_t n) {
  if (inside(p, n)) return OK;
  size_t r = room(p);
  if (r == 0) return fail("%s: %s %#lx (%zu bytes) is not in a live allocation of this device", call, what, (unsigned long)p, n);
  return fail("%s: %s %#lx spans %zu bytes, but only %zu bytes of its allocation lie from there", call, what,
              (unsigned long)p, n, r);
}

// drain runs the work queued on device dev's stream.
void drain(int dev) {
  std::vector<std::function<void()>> q;
  q.swap(queued[dev]);
  for (auto& f : q) f();
}

// drain_all drains every device (freeing page-locked memory waits for
// all of them: any may be copying it).
void drain_all() {
  for (int d = 0; d < kMaxDevices; d++) drain(d);
}

// order reads ULTRA_FAKE_CUDA_ORDER; it returns false when the value is
// unknown.
bool order(emu_order* o) {
  const char* v = getenv("ULTRA_FAKE_CUDA_ORDER");
  if (!v || strcmp(v, "shuffle") == 0) {
    *o = EMU_ORDER_SHUFFLE;
  } else if (strcmp(v, "reverse") == 0) {
    *o = EMU_ORDER_REVERSE;
  } else if (strcmp(v, "index") == 0) {
    *o = EMU_ORDER_INDEX;
  } else {
    return false;
  }
  return true;
}

// Args reads a kernel's packed parameters: each at its natural alignment,
// as the CUDA driver lays out CU_LAUNCH_PARAM_BUFFER_POINTER.
struct Args {
  const unsigned char* buf;
  size_t size, off;
  bool bad;
  template <typename T>
  T get() {
    off = (off + alignof(T) - 1) / alignof(T) * alignof(T);
    T v{};
    if (off + sizeof(T) > size) {
      bad = true;
      return v;
    }
    memcpy(&v, buf + off, sizeof(T));
    off += sizeof(T);
    return v;
  }
};

// Span is what a kernel indexes from one pointer argument: elems elements
// of size bytes (none when elems <= 0; the pointer may then be null).
struct Span {
  int index;         // the argument's position in the kernel's parameter list
  const char* name;  // its name in kernels.cu
  const void* p;
  long long elems;
  size_t size;
};

// F and D are spans of float and double elements; I of int.
Span F(int i, const char* name, const void* p, long long n) { return {i, name, p, n, 4}; }
Span D(int i, const char* name, const void* p, long long n) { return {i, name, p, n, 8}; }
Span I(int i, const char* name, const void* p, long long n) { return {i, name, p, n, 4}; }

// The spans_* functions take a kernel's arguments and return the spans
// its body indexes (read off kernels.cu and ops.cuh; keep them in step).
// A pointer argument must hold all of its span inside one live allocation.
std::vector<Span> spans_ultra_bias_act(float* z, const float* bias, int rows, int cols, int) {
  return {F(0, "z", z, (long long)rows * cols), F(1, "bias", bias, bias && rows > 0 ? cols : 0)};
}
std::vector<Span> spans_ultra_act_back(float* d, const float* y, long long n, int) {
  return {F(0, "d", d, n), F(1, "y", y, n)};
}
long long colsum_in(long long rows, int cols, int ld) { return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0; }
std::vector<Span> spans_ultra_colsum_f(const float* x, long long rows, int cols, int ld, int parts, float* out) {
  return {F(0, "x", x, colsum_in(rows, cols, ld)), F(5, "out", out, (long long)parts * cols)};
}
std::vector<Span> spans_ultra_colsum_fd(const float* x, long long rows, int cols, int ld, int parts, double* out) {
  return {F(0, "x", x, colsum_in(rows, cols, ld)), D(5, "out", out, (long long)parts * cols)};
}
std::vector<Span> spans_ultra_colsum_d(const double* x, long long rows, int cols, int ld, int parts, double* out) {
  return {D(0, "x", x, colsum_in(rows, cols, ld)), D(5, "out", out, (long long)parts * cols)};
}
// The rows gather_rows reads depend on idx: the highest index sets src's
// span (idx is read after the stream's earlier work has run).
std::vector<Span> spans_ultra_gather_rows(float* dst, const float* src, const int* idx, int n, int width) {
  long long rows = 0;
  if (n > 0 && width > 0 && inside((uintptr_t)idx, (size_t)n * 4)) {
    for (int i = 0; i < n; i++) rows = idx[i] < 0 ? (long long)1 << 60 : std::max(rows, (long long)idx[i] + 1);
  }
  return {F(0, "dst", dst, (long long)n * width), F(1, "src", src, rows * width), I(2, "idx", idx, n)};
}
long long strided(int n, int stride) { return n > 0 ? (long long)(n - 1) * stride + 1 : 0; }
std::vector<Span> spans_ultra_sqdev(const float* x, int n, int stride, const double* sum, double* out) {
  return {F(0, "x", x, strided(n, stride)), D(3, "sum", sum, n > 0), D(4, "out", out, n)};
}
std::vector<Span> spans_ultra_adv_norm(float* x, int n, int stride, const double* sum, const double* sq) {
  return {F(0, "x", x, strided(n, stride)), D(3, "sum", sum, n > 0), D(4, "sq", sq, n > 0)};
}
std::vector<Span> spans_ultra_ppo_loss(int n, int A, int discrete, const float* head, const float* value,
                                       const float* act, const float* scal, const float* log_std, double, double,
                                       double, int, float* dhead, float* dv, double* stats, double* dls) {
  long long na = (long long)n * A;
  return {F(3, "head", head, na),          F(4, "value", value, n),
          F(5, "act", act, discrete ? n : na), F(6, "scal", scal, 4LL * n),
          F(7, "log_std", log_std, discrete || n == 0 ? 0 : A), F(12, "dhead", dhead, na),
          F(13, "dv", dv, n),               D(14, "stats", stats, (long long)ST_N * n),
          D(15, "dls", dls, discrete ? 0 : na)};
}
std::vector<Span> spans_ultra_loss_finish(int A, int discrete, const double* sums, const double* dls,
                                          const float* log_std, float, float, int, float* g_log_std,
                                          double* out) {
  int a = discrete ? 0 : A;
  return {D(2, "sums", sums, ST_N), D(3, "dls", dls, a), F(4, "log_std", log_std, a),
          F(8, "g_log_std", g_log_std, a), D(9, "out", out, LS_N)};
}
std::vector<Span> spans_ultra_sumsq(const float* g, long long n, int parts, double* out) {
  return {F(0, "g", g, parts > 0 ? n : 0), D(3, "out", out, parts)};
}
std::vector<Span> spans_ultra_adam(float* p, float* g, float* m, float* v, long long n, const double* sumsq, double,
                                   double, double, double, double, double) {
  return {F(0, "p", p, n), F(1, "g", g, n), F(2, "m", m, n), F(3, "v", v, n), D(5, "sumsq", sumsq, 1)};
}
long long conv_in(int n, int c, int h, int w) { return (long long)n * c * h * w; }
long long conv_col(int n, int c, int k, int oh, int ow) { return (long long)n * oh * ow * c * k * k; }
std::vector<Span> spans_ultra_im2col(const float* x, float* col, int n, int c, int h, int w, int k, int, int oh,
                                     int ow, int) {
  long long cols = conv_col(n, c, k, oh, ow);
  return {F(0, "x", x, cols > 0 ? conv_in(n, c, h, w) : 0), F(1, "col", col, cols)};
}
std::vector<Span> spans_ultra_col2im(const float* dcol, float* dx, int n, int c, int h, int w, int k, int, int oh,
                                     int ow, int) {
  long long in = conv_in(n, c, h, w);
  return {F(0, "dcol", dcol, in > 0 ? conv_col(n, c, k, oh, ow) : 0), F(1, "dx", dx, in)};
}
std::vector<Span> spans_ultra_transpose(const float* src, float* dst, int batch, int rows, int cols) {
  long long n = (long long)batch * rows * cols;
  return {F(0, "src", src, n), F(1, "dst", dst, n)};
}

// check_spans fails unless every span of kernel lies in one live
// allocation, naming the kernel and the argument.
ucu_result check_spans(const char* kernel, const std::vector<Span>& spans) {
  for (const Span& s : spans) {
    if (s.elems <= 0) continue;
    char what[128];
    snprintf(what, sizeof what, "argument %d (%s), indexed for %lld elements,", s.index, s.name, s.elems);
    if (s.elems > (long long)1 << 50) return fail("%s: %s holds a negative index", kernel, what);
    if (ucu_result r = check_span(kernel, what, (uintptr_t)s.p, (size_t)s.elems * s.size)) return r;
  }
  return OK;
}

// invoke unpacks a launch's arguments for kernel k, checks them against
// k's spans and queues the kernel on device dev's stream.
template <typename... A>
ucu_result invoke(const char* name, void (*k)(A...), std::vector<Span> (*spans)(A...), dim3 grid, dim3 block,
                  const void* buf, size_t size, emu_order o, unsigned long long seed, int dev) {
  Args r{(const unsigned char*)buf, size, 0, false};
  std::tuple<A...> args{r.get<A>()...};  // braced: evaluated left to right
  if (r.bad || r.off != size) {
    return fail("%s: the launch packs %zu bytes of arguments; the kernel's parameters take %zu", name, size, r.off);
  }
  if (ucu_result e = check_spans(name, std::apply(spans, args))) return e;
  queued[dev].push_back([=] { emu_launch(grid, block, o, seed, [&] { std::apply(k, args); }); });
  return OK;
}

struct Kernel {
  const char* name;
  // spans_first says that the kernel's spans depend on device memory, which
  // the stream's queued work must have written before they are checked.
  bool spans_first;
  std::function<ucu_result(dim3, dim3, const void*, size_t, emu_order, unsigned long long, int)> run;
};

#define ULTRA_ENTRY(k)                                                                                     \
  {#k, std::string(#k) == "ultra_gather_rows",                                                           \
   [](dim3 g, dim3 b, const void* p, size_t n, emu_order o, unsigned long long seed, int dev) {           \
     return invoke(#k, k, spans_##k, g, b, p, n, o, seed, dev);                                          \
   }},
const Kernel kernels[] = {ULTRA_KERNELS(ULTRA_ENTRY)};

// need_ctx checks that a context is current and returns its sticky
// error, if any.
ucu_result need_ctx() {
  if (!initialised) return ERR_NOT_INITIALIZED;
  if (cur() < 0) return ERR_INVALID_CONTEXT;
  return sticky[cur()];
}

// blas_call runs the body of a cuBLAS call on handle h (the caller holds
// mu): it fails with CUBLAS_STATUS_NOT_INITIALIZED unless h was made in the
// context current on the calling thread, counts the call and, under
// ULTRA_FAKE_CUDA_MIGRATE=1, clears the current context afterwards.
template <typename F>
ucublas_status blas_call(ucublas_handle h, F body) {
  ucublas_status st = 1;
  if (need_ctx() == OK && h == &blas_token[cur()]) st = body();
  counters.blas_calls++;
  if (env_is("ULTRA_FAKE_CUDA_MIGRATE", "1")) current_ctx = nullptr;
  return st;
}

}  // namespace

extern "C" {

ucu_result cuInit(unsigned int flags) {
  if (flags != 0) return ERR_INVALID_VALUE;
  if (env_is("ULTRA_FAKE_CUDA", "nodevice")) return ERR_NO_DEVICE;
  initialised = true;
  return OK;
}
ucu_result cuDriverGetVersion(int* v) {
  *v = 13000;
  return OK;
}
ucu_result cuDeviceGetCount(int* n) {
  if (!initialised) return ERR_NOT_INITIALIZED;
  *n = device_count();
  return OK;
}
ucu_result cuDeviceGet(ucu_device* d, int ordinal) {
  if (!initialised) return ERR_NOT_INITIALIZED;
  if (!valid_device(ordinal)) return ERR_INVALID_DEVICE;
  *d = ordinal;
  return OK;
}
ucu_result cuDeviceGetName(char* name, int len, ucu_device d) {
  if (!valid_device(d)) return ERR_INVALID_DEVICE;
  strncpy(name, "ultra CPU emulator", len);
  if (len > 0) name[len - 1] = 0;
  return OK;
}
ucu_result cuDeviceGetAttribute(int* v, int attr, ucu_device d) {
  if (!valid_device(d)) return ERR_INVALID_DEVICE;
  switch (attr) {
    case UCU_ATTR_MULTIPROCESSOR_COUNT: *v = 1; return OK;
    case UCU_ATTR_CC_MAJOR: *v = 9; return OK;
    case UCU_ATTR_CC_MINOR: *v = 0; return OK;
  }
  return ERR_INVALID_VALUE;
}
ucu_result cuDeviceTotalMem_v2(size_t* bytes, ucu_device d) {
  if (!valid_device(d)) return ERR_INVALID_DEVICE;
  *bytes = (size_t)1 << 34;
  return OK;
}
ucu_result cuDevicePrimaryCtxRetain(ucu_context* c, ucu_device d) {
  if (!initialised) return ERR_NOT_INITIALIZED;
  if (!valid_device(d)) return ERR_INVALID_DEVICE;
  std::lock_guard<std::mutex> l(mu);
  ctx_refs[d]++;
  *c = &ctx_token[d];
  return OK;
}
// cuDevicePrimaryCtxRelease_v2 drops a user; the last one clears the
// context's sticky error (see ULTRA_FAKE_CUDA_FAULT).
ucu_result cuDevicePrimaryCtxRelease_v2(ucu_device d) {
  if (!valid_device(d)) return ERR_INVALID_DEVICE;
  std::lock_guard<std::mutex> l(mu);
  if (ctx_refs[d] == 0) return ERR_INVALID_CONTEXT;
  drain(d);
  if (--ctx_refs[d] == 0) sticky[d] = OK;
  return OK;
}
ucu_result cuCtxSetCurrent(ucu_context c) {
  if (c != nullptr && (c < (void*)&ctx_token[0] || c >= (void*)&ctx_token[kMaxDevices])) return ERR_INVALID_CONTEXT;
  current_ctx = c;
  return OK;
}
ucu_result cuCtxGetCurrent(ucu_context* c) {
  *c = current_ctx;
  return OK;
}
// own_stream reports whether s was made in the current context.
bool own_stream(ucu_stream s) { return s == &stream_token[cur()]; }

ucu_result cuStreamCreate(ucu_stream* s, unsigned int) {
  if (ucu_result r = need_ctx()) return r;
  *s = &stream_token[cur()];
  return OK;
}
ucu_result cuStreamDestroy_v2(ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s)) return ERR_INVALID_HANDLE;
  drain(cur());
  return OK;
}
// cuStreamSynchronize runs the stream's queued work.
ucu_result cuStreamSynchronize(ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  counters.syncs++;
  msg[0] = 0;
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s)) return ERR_INVALID_HANDLE;
  drain(cur());
  return sticky[cur()];
}
ucu_result cuMemAlloc_v2(ucu_deviceptr* p, size_t bytes) {
  if (ucu_result r = need_ctx()) return r;
  if (bytes == 0) return ERR_INVALID_VALUE;
  std::lock_guard<std::mutex> l(mu);
  if (const char* cap = getenv("ULTRA_FAKE_CUDA_MEMORY")) {
    if (allocated + bytes > strtoull(cap, nullptr, 10)) return ERR_OUT_OF_MEMORY;
  }
  // Exactly bytes, so that an AddressSanitizer build (make cuda-asan) finds
  // an access past the end.
  void* m = nullptr;
  if (posix_memalign(&m, 256, bytes) != 0) return ERR_OUT_OF_MEMORY;
  memset(m, 0xff, bytes);  // NaN garbage, as uninitialised device memory may hold
  allocs[(uintptr_t)m] = Alloc{bytes, cur()};
  allocated += bytes;
  *p = (ucu_deviceptr)(uintptr_t)m;
  return OK;
}
ucu_result cuMemFree_v2(ucu_deviceptr p) {
  if (ucu_result r = need_ctx()) return r;
  std::lock_guard<std::mutex> l(mu);
  auto it = allocs.find((uintptr_t)p);
  if (it == allocs.end() || it->second.dev != cur()) return ERR_INVALID_VALUE;
  drain(cur());  // as the driver, which waits for the device before freeing
  allocated -= it->second.bytes;
  allocs.erase(it);
  free((void*)(uintptr_t)p);
  return OK;
}
ucu_result cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  if (ucu_result r = need_ctx()) return r;
  std::lock_guard<std::mutex> l(mu);
  *total = (size_t)1 << 34;
  *free_bytes = *total - allocated;
  return OK;
}
// cuMemHostAlloc allocates page-locked host memory.
ucu_result cuMemHostAlloc(void** p, size_t bytes, unsigned int flags) {
  if (ucu_result r = need_ctx()) return r;
  if (bytes == 0 || flags > 0xf) return ERR_INVALID_VALUE;
  std::lock_guard<std::mutex> l(mu);
  void* m = malloc(bytes);
  if (!m) return ERR_OUT_OF_MEMORY;
  memset(m, 0xff, bytes);
  host_allocs[(uintptr_t)m] = bytes;
  *p = m;
  return OK;
}
// cuMemFreeHost waits for every device's queued work (any of it may copy
// the memory) and frees p.
ucu_result cuMemFreeHost(void* p) {
  if (!initialised) return ERR_NOT_INITIALIZED;
  std::lock_guard<std::mutex> l(mu);
  auto it = host_allocs.find((uintptr_t)p);
  if (it == host_allocs.end()) return ERR_INVALID_VALUE;
  drain_all();
  host_allocs.erase(it);
  free(p);
  return OK;
}
// cuMemcpyHtoDAsync_v2 reads a pageable source now (the driver stages it
// before returning) and a page-locked one when the copy runs.
ucu_result cuMemcpyHtoDAsync_v2(ucu_deviceptr dst, const void* src, size_t n, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  msg[0] = 0;
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s)) return ERR_INVALID_HANDLE;
  if (ucu_result r = check_span("cuMemcpyHtoDAsync", "the destination", (uintptr_t)dst, n)) return r;
  void* d = (void*)(uintptr_t)dst;
  if (pinned(src, n)) {
    queued[cur()].push_back([=] { memcpy(d, src, n); });
  } else {
    std::vector<unsigned char> staged((const unsigned char*)src, (const unsigned char*)src + n);
    queued[cur()].push_back([=] { memcpy(d, staged.data(), n); });
    counters.htod_pageable++;
  }
  counters.htod++;
  counters.htod_bytes += n;
  return OK;
}
// cuMemcpyDtoHAsync_v2 into page-locked memory writes it when the copy
// runs; into pageable memory it waits for the stream and copies now, as
// the driver does.
ucu_result cuMemcpyDtoHAsync_v2(void* dst, ucu_deviceptr src, size_t n, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  msg[0] = 0;
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s)) return ERR_INVALID_HANDLE;
  if (ucu_result r = check_span("cuMemcpyDtoHAsync", "the source", (uintptr_t)src, n)) return r;
  const void* from = (const void*)(uintptr_t)src;
  if (pinned(dst, n)) {
    queued[cur()].push_back([=] { memcpy(dst, from, n); });
  } else {
    drain(cur());
    memcpy(dst, from, n);
    counters.dtoh_pageable++;
  }
  counters.dtoh++;
  counters.dtoh_bytes += n;
  return OK;
}
ucu_result cuMemcpyDtoDAsync_v2(ucu_deviceptr dst, ucu_deviceptr src, size_t n, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  msg[0] = 0;
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s)) return ERR_INVALID_HANDLE;
  if (ucu_result r = check_span("cuMemcpyDtoDAsync", "the destination", (uintptr_t)dst, n)) return r;
  if (ucu_result r = check_span("cuMemcpyDtoDAsync", "the source", (uintptr_t)src, n)) return r;
  queued[cur()].push_back([=] { memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n); });
  counters.dtod++;
  counters.dtod_bytes += n;
  return OK;
}
ucu_result cuMemsetD32Async(ucu_deviceptr dst, unsigned int v, size_t count, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  msg[0] = 0;
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s)) return ERR_INVALID_HANDLE;
  if (ucu_result r = check_span("cuMemsetD32Async", "the destination", (uintptr_t)dst, count * 4)) return r;
  queued[cur()].push_back([=] {
    unsigned int* p = (unsigned int*)(uintptr_t)dst;
    for (size_t i = 0; i < count; i++) p[i] = v;
  });
  return OK;
}
ucu_result cuModuleLoadData(ucu_module* m, const void* image) {
  if (ucu_result r = need_ctx()) return r;
  uint32_t magic;
  memcpy(&magic, image, 4);
  if (magic != 0xBA55ED50u) return ERR_INVALID_IMAGE;
  *m = &module_token[cur()];
  return OK;
}
ucu_result cuModuleUnload(ucu_module m) {
  std::lock_guard<std::mutex> l(mu);
  if (ucu_result r = need_ctx()) return r;
  if (m != &module_token[cur()]) return ERR_INVALID_HANDLE;
  drain(cur());
  return OK;
}
ucu_result cuModuleGetFunction(ucu_function* f, ucu_module m, const char* name) {
  if (ucu_result r = need_ctx()) return r;
  if (m != &module_token[cur()]) return ERR_INVALID_HANDLE;
  for (const Kernel& k : kernels) {
    if (strcmp(k.name, name) == 0) {
      *f = (void*)&k;
      return OK;
    }
  }
  return ERR_NOT_FOUND;
}
ucu_result cuLaunchKernel(ucu_function f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                          unsigned int by, unsigned int bz, unsigned int shared, ucu_stream s, void** params,
                          void** extra) {
  std::lock_guard<std::mutex> l(mu);
  msg[0] = 0;
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s) || params != nullptr || extra == nullptr || shared != 0) return ERR_INVALID_VALUE;
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || bx * by * bz > 1024) return ERR_INVALID_VALUE;
  const void* buf = nullptr;
  size_t size = 0;
  bool have_size = false;
  for (int i = 0; extra[i] != UCU_LAUNCH_PARAM_END; i += 2) {
    if (extra[i] == UCU_LAUNCH_PARAM_BUFFER_POINTER) {
      buf = extra[i + 1];
    } else if (extra[i] == UCU_LAUNCH_PARAM_BUFFER_SIZE) {
      size = *(size_t*)extra[i + 1];
      have_size = true;
    } else {
      return ERR_INVALID_VALUE;
    }
  }
  if (!buf || !have_size) return ERR_INVALID_VALUE;
  emu_order o;
  if (!order(&o)) return fail("ULTRA_FAKE_CUDA_ORDER=%s: want shuffle, reverse or index", getenv("ULTRA_FAKE_CUDA_ORDER"));
  unsigned long long seed = (unsigned long long)counters.launches++;
  const Kernel* k = (const Kernel*)f;
  if (env_is("ULTRA_FAKE_CUDA_FAULT", k->name)) {
    sticky[cur()] = ERR_ILLEGAL_ADDRESS;  // found by the next call, like an asynchronous fault
    return OK;
  }
  if (k->spans_first) drain(cur());
  return k->run(dim3(gx, gy, gz), dim3(bx, by, bz), buf, size, o, seed, cur());
}
ucu_result cuGetErrorName(ucu_result e, const char** name) {
  switch (e) {
    case OK: *name = "CUDA_SUCCESS"; return OK;
    case ERR_INVALID_VALUE: *name = "CUDA_ERROR_INVALID_VALUE"; return OK;
    case ERR_OUT_OF_MEMORY: *name = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
    case ERR_NOT_INITIALIZED: *name = "CUDA_ERROR_NOT_INITIALIZED"; return OK;
    case ERR_NO_DEVICE: *name = "CUDA_ERROR_NO_DEVICE"; return OK;
    case ERR_INVALID_DEVICE: *name = "CUDA_ERROR_INVALID_DEVICE"; return OK;
    case ERR_INVALID_IMAGE: *name = "CUDA_ERROR_INVALID_IMAGE"; return OK;
    case ERR_INVALID_CONTEXT: *name = "CUDA_ERROR_INVALID_CONTEXT"; return OK;
    case ERR_INVALID_HANDLE: *name = "CUDA_ERROR_INVALID_HANDLE"; return OK;
    case ERR_NOT_FOUND: *name = "CUDA_ERROR_NOT_FOUND"; return OK;
    case ERR_ILLEGAL_ADDRESS: *name = "CUDA_ERROR_ILLEGAL_ADDRESS"; return OK;
    case ERR_LAUNCH_FAILED: *name = "CUDA_ERROR_LAUNCH_FAILED"; return OK;
  }
  *name = nullptr;
  return ERR_INVALID_VALUE;
}
// cuGetErrorString describes e; for CUDA_ERROR_INVALID_VALUE it explains
// the last failed copy or launch when there is one.
ucu_result cuGetErrorString(ucu_result e, const char** desc) {
  {
    std::lock_guard<std::mutex> l(mu);
    if (e == ERR_INVALID_VALUE && msg[0]) {
      *desc = msg;
      return OK;
    }
  }
  switch (e) {
    case ERR_NO_DEVICE: *desc = "no CUDA-capable device is detected"; return OK;
    case ERR_OUT_OF_MEMORY: *desc = "out of memory"; return OK;
    case ERR_INVALID_VALUE: *desc = "invalid argument"; return OK;
    case ERR_ILLEGAL_ADDRESS: *desc = "an illegal memory access was encountered"; return OK;
  }
  const char* n;
  if (cuGetErrorName(e, &n) != OK) return ERR_INVALID_VALUE;
  *desc = "emulated error";
  return OK;
}

// cuBLAS.

// cuBLAS. A call without its handle's context current fails with
// CUBLAS_STATUS_NOT_INITIALIZED (1); bad arguments with
// CUBLAS_STATUS_INVALID_VALUE (7).

ucublas_status cublasCreate_v2(ucublas_handle* h) {
  std::lock_guard<std::mutex> l(mu);
  return blas_call(cur() < 0 ? nullptr : &blas_token[cur()], [&] {
    *h = &blas_token[cur()];
    return 0;
  });
}
ucublas_status cublasDestroy_v2(ucublas_handle h) {
  std::lock_guard<std::mutex> l(mu);
  return blas_call(h, [] { return 0; });
}
ucublas_status cublasGetVersion_v2(ucublas_handle h, int* v) {
  std::lock_guard<std::mutex> l(mu);
  return blas_call(h, [&] {
    *v = 130000;
    return 0;
  });
}
ucublas_status cublasSetStream_v2(ucublas_handle h, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  return blas_call(h, [&] { return own_stream(s) ? 0 : 7; });
}
ucublas_status cublasSetMathMode(ucublas_handle h, ucublas_math m) {
  std::lock_guard<std::mutex> l(mu);
  return blas_call(h, [&] { return m == UCUBLAS_DEFAULT_MATH || m == UCUBLAS_TF32_TENSOR_OP_MATH ? 0 : 7; });
}

// cublasSgemm_v2: C = alpha·op(A)·op(B) + beta·C, column-major; C is not
// read when beta is 0 (as cuBLAS).
ucublas_status cublasSgemm_v2(ucublas_handle h, ucublas_op ta, ucublas_op tb, int m, int n, int k,
                              const float* alpha, const float* a, int lda, const float* b, int ldb,
                              const float* beta, float* c, int ldc) {
  std::lock_guard<std::mutex> l(mu);
  return blas_call(h, [&]() -> ucublas_status {
    if (m < 0 || n < 0 || k < 0 || ta > 1 || tb > 1) return 7;
    if (lda < (ta ? (k > 1 ? k : 1) : (m > 1 ? m : 1)) || ldb < (tb ? (n > 1 ? n : 1) : (k > 1 ? k : 1)) ||
        ldc < (m > 1 ? m : 1))
      return 7;
    size_t a_cols = ta ? m : k, b_cols = tb ? k : n;
    if (m && n && k &&
        (!inside((uintptr_t)a, ((a_cols - 1) * lda + (ta ? k : m)) * 4) ||
         !inside((uintptr_t)b, ((b_cols - 1) * ldb + (tb ? n : k)) * 4)))
      return 7;
    if (m && n && !inside((uintptr_t)c, ((size_t)(n - 1) * ldc + m) * 4)) return 7;
    float al = *alpha, be = *beta;  // host scalars: read during the call, as cuBLAS
    queued[cur()].push_back([=] {
      for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
          float s = 0;
          for (int l = 0; l < k; l++) {
            float x = ta ? a[(size_t)i * lda + l] : a[(size_t)l * lda + i];
            float y = tb ? b[(size_t)l * ldb + j] : b[(size_t)j * ldb + l];
            s += x * y;
          }
          float* out = &c[(size_t)j * ldc + i];
          *out = be == 0 ? al * s : al * s + be * *out;
        }
    });
    return 0;
  });
}

// ultra_fake_get_counters copies the counters (counters.h) to *out.
void ultra_fake_get_counters(ultra_fake_counters* out) {
  std::lock_guard<std::mutex> l(mu);
  *out = counters;
}

}  // extern "C"
