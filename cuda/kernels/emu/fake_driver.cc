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
//     and kernel pointer arguments outside live allocations are errors);
//   - the kernels of kernels.cu compiled for the host with emu.h, looked up
//     by name in cuModuleGetFunction; cuLaunchKernel unpacks the argument
//     buffer with each kernel's own parameter types and fails on any size
//     mismatch, which catches a Go launcher that packs the wrong arguments;
//   - a reference sgemm (column-major, float accumulation in k order);
//   - a module image that must be a fatbin (magic 0xBA55ED50).
//
// Everything runs synchronously on the calling thread, under one lock (so
// concurrent callers, e.g. parallel backends, are serialised). Each device
// has its primary context; like the driver, a context is current per
// thread, every call that needs one fails without it, a stream, module,
// cuBLAS handle or allocation belongs to the context it was made in and is
// refused in another, and every cuBLAS call needs its handle's context
// current on the calling thread. ultra_fake_get_counters reports the
// host's waits, copies, launches and cuBLAS calls (counters.h).
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
// needs a new process).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <map>
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

// inside reports whether [p, p+n) lies in one live allocation of the
// current context's device.
bool inside(uintptr_t p, size_t n) {
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second.bytes && it->second.dev == cur();
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
    if constexpr (std::is_pointer_v<T>) {
      if (v != nullptr && !inside((uintptr_t)v, 1)) bad = true;
    }
    return v;
  }
};

template <typename... A>
ucu_result invoke(void (*k)(A...), dim3 grid, dim3 block, const void* buf, size_t size) {
  Args r{(const unsigned char*)buf, size, 0, false};
  std::tuple<A...> args{r.get<A>()...};  // braced: evaluated left to right
  if (r.bad || r.off != size) return ERR_INVALID_VALUE;
  emu_launch(grid, block, [&] { std::apply(k, args); });
  return OK;
}

struct Kernel {
  const char* name;
  std::function<ucu_result(dim3, dim3, const void*, size_t)> run;
};

#define ULTRA_ENTRY(k) {#k, [](dim3 g, dim3 b, const void* p, size_t n) { return invoke(k, g, b, p, n); }},
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
  if (ucu_result r = need_ctx()) return r;
  return own_stream(s) ? OK : ERR_INVALID_HANDLE;
}
ucu_result cuStreamSynchronize(ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  counters.syncs++;
  if (ucu_result r = need_ctx()) return r;
  return own_stream(s) ? OK : ERR_INVALID_HANDLE;
}
ucu_result cuMemAlloc_v2(ucu_deviceptr* p, size_t bytes) {
  if (ucu_result r = need_ctx()) return r;
  if (bytes == 0) return ERR_INVALID_VALUE;
  std::lock_guard<std::mutex> l(mu);
  if (const char* cap = getenv("ULTRA_FAKE_CUDA_MEMORY")) {
    if (allocated + bytes > strtoull(cap, nullptr, 10)) return ERR_OUT_OF_MEMORY;
  }
  void* m = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!m) return ERR_OUT_OF_MEMORY;
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
ucu_result cuMemcpyHtoDAsync_v2(ucu_deviceptr dst, const void* src, size_t n, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s) || !inside((uintptr_t)dst, n)) return ERR_INVALID_VALUE;
  memcpy((void*)(uintptr_t)dst, src, n);
  counters.htod++;
  counters.htod_bytes += n;
  return OK;
}
ucu_result cuMemcpyDtoHAsync_v2(void* dst, ucu_deviceptr src, size_t n, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s) || !inside((uintptr_t)src, n)) return ERR_INVALID_VALUE;
  memcpy(dst, (const void*)(uintptr_t)src, n);
  counters.dtoh++;
  counters.dtoh_bytes += n;
  return OK;
}
ucu_result cuMemcpyDtoDAsync_v2(ucu_deviceptr dst, ucu_deviceptr src, size_t n, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s) || !inside((uintptr_t)dst, n) || !inside((uintptr_t)src, n)) return ERR_INVALID_VALUE;
  memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n);
  counters.dtod++;
  counters.dtod_bytes += n;
  return OK;
}
ucu_result cuMemsetD32Async(ucu_deviceptr dst, unsigned int v, size_t count, ucu_stream s) {
  std::lock_guard<std::mutex> l(mu);
  if (ucu_result r = need_ctx()) return r;
  if (!own_stream(s) || !inside((uintptr_t)dst, count * 4)) return ERR_INVALID_VALUE;
  unsigned int* p = (unsigned int*)(uintptr_t)dst;
  for (size_t i = 0; i < count; i++) p[i] = v;
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
  if (ucu_result r = need_ctx()) return r;
  return m == &module_token[cur()] ? OK : ERR_INVALID_HANDLE;
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
  counters.launches++;
  const Kernel* k = (const Kernel*)f;
  if (env_is("ULTRA_FAKE_CUDA_FAULT", k->name)) {
    sticky[cur()] = ERR_ILLEGAL_ADDRESS;  // found by the next call, like an asynchronous fault
    return OK;
  }
  return k->run(dim3(gx, gy, gz), dim3(bx, by, bz), buf, size);
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
ucu_result cuGetErrorString(ucu_result e, const char** desc) {
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
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        float s = 0;
        for (int l = 0; l < k; l++) {
          float x = ta ? a[(size_t)i * lda + l] : a[(size_t)l * lda + i];
          float y = tb ? b[(size_t)l * ldb + j] : b[(size_t)j * ldb + l];
          s += x * y;
        }
        float* out = &c[(size_t)j * ldc + i];
        *out = *beta == 0 ? *alpha * s : *alpha * s + *beta * *out;
      }
    return 0;
  });
}

// ultra_fake_get_counters copies the counters (counters.h) to *out.
void ultra_fake_get_counters(ultra_fake_counters* out) {
  std::lock_guard<std::mutex> l(mu);
  *out = counters;
}

}  // extern "C"
