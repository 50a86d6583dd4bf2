// ucuda.h — the CUDA driver and cuBLAS entry points ultra calls, with the
// project's own prototypes.
//
// ultra loads libcuda.so.1 and libcublas.so.{13,12,11} with dlopen at run time
// and binds exactly these symbols with dlsym, so building the `ultracuda` tag needs
// no CUDA package and one binary runs on CUDA 11, 12 and 13 drivers. The
// symbol names are the ABI names (the `_v2` ones where cuda.h's macros map to
// them). The types here only have to match the ABI: handles are pointers,
// enums and CUdevice are 32-bit integers, CUdeviceptr is 64-bit.
// cuda/kernels/emu/protocheck.cc checks every prototype against NVIDIA's
// headers where they are installed (go test -tags cuda ./cuda/ runs it).
#ifndef ULTRA_UCUDA_H
#define ULTRA_UCUDA_H

#include <stddef.h>

typedef unsigned int ucu_result;          // CUresult (an enum)
typedef int ucu_device;                   // CUdevice
typedef unsigned long long ucu_deviceptr; // CUdeviceptr
typedef void* ucu_context;                // CUcontext
typedef void* ucu_module;                 // CUmodule
typedef void* ucu_function;               // CUfunction
typedef void* ucu_stream;                 // CUstream, cudaStream_t
typedef void* ucublas_handle;             // cublasHandle_t
typedef unsigned int ucublas_status;      // cublasStatus_t (an enum)
typedef unsigned int ucublas_op;          // cublasOperation_t (an enum)
typedef unsigned int ucublas_math;        // cublasMath_t (an enum)

// X(name, parameter list) for every driver entry point, all returning CUresult.
#define UCU_DRIVER_FUNCS(X)                                                                               \
  X(cuInit, (unsigned int flags))                                                                         \
  X(cuDriverGetVersion, (int* version))                                                                   \
  X(cuDeviceGetCount, (int* count))                                                                       \
  X(cuDeviceGet, (ucu_device * dev, int ordinal))                                                         \
  X(cuDeviceGetName, (char* name, int len, ucu_device dev))                                               \
  X(cuDeviceGetAttribute, (int* value, int attrib, ucu_device dev))                                       \
  X(cuDeviceTotalMem_v2, (size_t * bytes, ucu_device dev))                                                \
  X(cuDevicePrimaryCtxRetain, (ucu_context * ctx, ucu_device dev))                                        \
  X(cuDevicePrimaryCtxRelease_v2, (ucu_device dev))                                                       \
  X(cuCtxSetCurrent, (ucu_context ctx))                                                                   \
  X(cuCtxGetCurrent, (ucu_context * ctx))                                                                 \
  X(cuStreamCreate, (ucu_stream * stream, unsigned int flags))                                            \
  X(cuStreamDestroy_v2, (ucu_stream stream))                                                              \
  X(cuStreamSynchronize, (ucu_stream stream))                                                             \
  X(cuMemAlloc_v2, (ucu_deviceptr * ptr, size_t bytes))                                                   \
  X(cuMemFree_v2, (ucu_deviceptr ptr))                                                                    \
  X(cuMemGetInfo_v2, (size_t * free_bytes, size_t * total_bytes))                                         \
  X(cuMemHostAlloc, (void** ptr, size_t bytes, unsigned int flags))                                       \
  X(cuMemFreeHost, (void* ptr))                                                                           \
  X(cuMemcpyHtoDAsync_v2, (ucu_deviceptr dst, const void* src, size_t bytes, ucu_stream stream))          \
  X(cuMemcpyDtoHAsync_v2, (void* dst, ucu_deviceptr src, size_t bytes, ucu_stream stream))                \
  X(cuMemcpyDtoDAsync_v2, (ucu_deviceptr dst, ucu_deviceptr src, size_t bytes, ucu_stream stream))        \
  X(cuMemsetD32Async, (ucu_deviceptr dst, unsigned int value, size_t count, ucu_stream stream))           \
  X(cuModuleLoadData, (ucu_module * mod, const void* image))                                              \
  X(cuModuleUnload, (ucu_module mod))                                                                     \
  X(cuModuleGetFunction, (ucu_function * fn, ucu_module mod, const char* name))                           \
  X(cuLaunchKernel, (ucu_function fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,  \
                     unsigned int by, unsigned int bz, unsigned int shared_bytes, ucu_stream stream,       \
                     void** params, void** extra))                                                         \
  X(cuGetErrorName, (ucu_result err, const char** name))                                                  \
  X(cuGetErrorString, (ucu_result err, const char** desc))

// X(name, parameter list) for every cuBLAS entry point, all returning
// cublasStatus_t.
#define UCU_CUBLAS_FUNCS(X)                                                                               \
  X(cublasCreate_v2, (ucublas_handle * handle))                                                           \
  X(cublasDestroy_v2, (ucublas_handle handle))                                                            \
  X(cublasGetVersion_v2, (ucublas_handle handle, int* version))                                           \
  X(cublasSetStream_v2, (ucublas_handle handle, ucu_stream stream))                                       \
  X(cublasSetMathMode, (ucublas_handle handle, ucublas_math mode))                                        \
  X(cublasSgemm_v2, (ucublas_handle handle, ucublas_op transa, ucublas_op transb, int m, int n, int k,    \
                     const float* alpha, const float* a, int lda, const float* b, int ldb,                 \
                     const float* beta, float* c, int ldc))

// Constants from cuda.h and cublas_api.h (values are part of the ABI).
#define UCU_STREAM_NON_BLOCKING 0x1
#define UCU_ATTR_MULTIPROCESSOR_COUNT 16
#define UCU_ATTR_CC_MAJOR 75
#define UCU_ATTR_CC_MINOR 76
#define UCU_LAUNCH_PARAM_END_AS_INT 0x00
#define UCU_LAUNCH_PARAM_BUFFER_POINTER_AS_INT 0x01
#define UCU_LAUNCH_PARAM_BUFFER_SIZE_AS_INT 0x02
#define UCU_LAUNCH_PARAM_END ((void*)UCU_LAUNCH_PARAM_END_AS_INT)
#define UCU_LAUNCH_PARAM_BUFFER_POINTER ((void*)UCU_LAUNCH_PARAM_BUFFER_POINTER_AS_INT)
#define UCU_LAUNCH_PARAM_BUFFER_SIZE ((void*)UCU_LAUNCH_PARAM_BUFFER_SIZE_AS_INT)
#define UCUBLAS_OP_N 0
#define UCUBLAS_OP_T 1
#define UCUBLAS_DEFAULT_MATH 0
#define UCUBLAS_TF32_TENSOR_OP_MATH 3

#endif
