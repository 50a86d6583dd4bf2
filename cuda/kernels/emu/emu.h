// emu.h — runs kernels.cu on the CPU: compile it with
//
//	g++ -std=c++17 -include emu/emu.h -x c++ kernels.cu
//
// CUDA's qualifiers become nothing, the built-in index variables become
// globals, and emu_launch calls the kernel body once per (block, thread), in
// index order, in reverse or shuffled (emu_order). That is a faithful model
// of ultra's kernels because none of them shares memory between threads or
// synchronises (see kernels.cu): each thread's work depends only on its
// indices, so running the threads one after another, in any order,
// computes what the GPU computes, with the same per-element code (ops.cuh).
#pragma once
#include <math.h>
#include <stddef.h>

#include <utility>
#include <vector>

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

// emu_order is the order in which emu_launch runs a launch's (block,
// thread) pairs. The GPU promises none, so a kernel whose result depends on
// it has a race; running the threads in other orders than the index order
// finds such a kernel (the results differ between orders).
enum emu_order { EMU_ORDER_INDEX, EMU_ORDER_REVERSE, EMU_ORDER_SHUFFLE };

// emu_launch runs body() once for every block and thread index of the
// launch <<<grid, block>>>, in the given order; a shuffle is a permutation
// drawn from seed (the same seed, the same order).
template <typename F>
void emu_launch(dim3 grid, dim3 block, emu_order order, unsigned long long seed, F body) {
  emu::gridDim = grid;
  emu::blockDim = block;
  unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
  unsigned long long n = threads * grid.x * grid.y * grid.z;
  std::vector<unsigned long long> ids(n);
  for (unsigned long long i = 0; i < n; i++) ids[i] = order == EMU_ORDER_REVERSE ? n - 1 - i : i;
  if (order == EMU_ORDER_SHUFFLE) {
    for (unsigned long long i = n; i > 1; i--) {  // Fisher-Yates with splitmix64
      seed += 0x9e3779b97f4a7c15ull;
      unsigned long long z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::swap(ids[i - 1], ids[z % i]);
    }
  }
  for (unsigned long long id : ids) {
    unsigned long long b = id / threads, t = id % threads;
    emu::blockIdx = {(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y)};
    emu::threadIdx = {(unsigned)(t % block.x), (unsigned)(t / block.x % block.y), (unsigned)(t / block.x / block.y)};
    body();
  }
}
