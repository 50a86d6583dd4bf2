// emu.h — runs kernels.cu on the CPU: compile it with
//
//	g++ -std=c++17 -include emu/emu.h -x c++ kernels.cu
//
// CUDA's qualifiers become nothing, the built-in index variables become
// globals, and emu_launch loops over every block and thread index in order,
// calling the kernel body once per (block, thread). That is a faithful model
// of ultra's kernels because none of them shares memory between threads or
// synchronises (see kernels.cu): each thread's work depends only on its
// indices, so running the threads one after another computes what the GPU
// computes, with the same per-element code (ops.cuh).
#pragma once
#include <math.h>
#include <stddef.h>

#define __global__
#define __host__
#define __device__
#define __forceinline__ inline

struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  dim3(unsigned int a = 1, unsigned int b = 1, unsigned int c = 1) : x(a), y(b), z(c) {}
};

namespace emu {
inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
}  // namespace emu
using emu::blockDim;
using emu::blockIdx;
using emu::gridDim;
using emu::threadIdx;

// emu_launch runs body() once for every block and thread index of the
// launch <<<grid, block>>>, blocks and threads in increasing order.
template <typename F>
void emu_launch(dim3 grid, dim3 block, F body) {
  emu::gridDim = grid;
  emu::blockDim = block;
  for (unsigned int bz = 0; bz < grid.z; bz++)
    for (unsigned int by = 0; by < grid.y; by++)
      for (unsigned int bx = 0; bx < grid.x; bx++) {
        emu::blockIdx = {bx, by, bz};
        for (unsigned int tz = 0; tz < block.z; tz++)
          for (unsigned int ty = 0; ty < block.y; ty++)
            for (unsigned int tx = 0; tx < block.x; tx++) {
              emu::threadIdx = {tx, ty, tz};
              body();
            }
      }
}
