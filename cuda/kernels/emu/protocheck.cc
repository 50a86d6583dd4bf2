// protocheck.cc — checks ucuda.h's own prototypes against NVIDIA's headers.
//
// ultra binds the driver and cuBLAS by name with its own prototypes (so that
// building needs no CUDA package). This file, compiled where cuda.h and
// cublas_api.h are installed (`go test -tags cuda ./cuda/` does it when it
// finds them, and `make gpu-check`), fails to compile if any entry point's
// ABI differs: the number of parameters, or the size or kind (pointer,
// floating point, integer) of the result or of any parameter.
#include <cublas_v2.h>
#include <cuda.h>

#include <type_traits>

#include "../../ucuda.h"

template <typename T>
constexpr int kind() {
  return std::is_pointer<T>::value ? 1 : std::is_floating_point<T>::value ? 2 : 3;
}

template <typename R1, typename... A1, typename R2, typename... A2>
constexpr bool same_abi(R1 (*)(A1...), R2 (*)(A2...)) {
  if constexpr (sizeof...(A1) != sizeof...(A2)) {
    return false;
  } else {
    return sizeof(R1) == sizeof(R2) && kind<R1>() == kind<R2>() &&
           ((sizeof(A1) == sizeof(A2) && kind<A1>() == kind<A2>()) && ... && true);
  }
}

#define CHECK_DRIVER(name, params)                                                      \
  typedef ucu_result(*own_##name) params;                                               \
  static_assert(same_abi((own_##name) nullptr, &::name), "ucuda.h: " #name " differs from cuda.h");
#define CHECK_CUBLAS(name, params)                                                      \
  typedef ucublas_status(*own_##name) params;                                           \
  static_assert(same_abi((own_##name) nullptr, &::name), "ucuda.h: " #name " differs from cublas_api.h");

UCU_DRIVER_FUNCS(CHECK_DRIVER)
UCU_CUBLAS_FUNCS(CHECK_CUBLAS)

static_assert(sizeof(CUdeviceptr) == sizeof(ucu_deviceptr), "CUdeviceptr");
static_assert(sizeof(CUdevice) == sizeof(ucu_device), "CUdevice");
static_assert(CU_STREAM_NON_BLOCKING == UCU_STREAM_NON_BLOCKING, "CU_STREAM_NON_BLOCKING");
static_assert(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT == UCU_ATTR_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT");
static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR == UCU_ATTR_CC_MAJOR, "COMPUTE_CAPABILITY_MAJOR");
static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR == UCU_ATTR_CC_MINOR, "COMPUTE_CAPABILITY_MINOR");
static_assert(CU_LAUNCH_PARAM_END_AS_INT == UCU_LAUNCH_PARAM_END_AS_INT, "CU_LAUNCH_PARAM_END");
static_assert(CU_LAUNCH_PARAM_BUFFER_POINTER_AS_INT == UCU_LAUNCH_PARAM_BUFFER_POINTER_AS_INT, "CU_LAUNCH_PARAM_BUFFER_POINTER");
static_assert(CU_LAUNCH_PARAM_BUFFER_SIZE_AS_INT == UCU_LAUNCH_PARAM_BUFFER_SIZE_AS_INT, "CU_LAUNCH_PARAM_BUFFER_SIZE");
static_assert(CUBLAS_OP_N == UCUBLAS_OP_N && CUBLAS_OP_T == UCUBLAS_OP_T, "cublasOperation_t");
static_assert(CUBLAS_DEFAULT_MATH == UCUBLAS_DEFAULT_MATH, "CUBLAS_DEFAULT_MATH");
static_assert(CUBLAS_TF32_TENSOR_OP_MATH == UCUBLAS_TF32_TENSOR_OP_MATH, "CUBLAS_TF32_TENSOR_OP_MATH");
