// list.h — every kernel in kernels.cu, for code that must name them all: the
// host emulation's launch table (emu/fake_driver.cc) and the Go binding's
// test that its kernel names match (cuda/kernels.go). Keep it in the order
// of kernels.cu.
#pragma once
#define ULTRA_KERNELS(X) \
  X(ultra_bias_act)      \
  X(ultra_act_back)      \
  X(ultra_colsum_f)      \
  X(ultra_colsum_fd)     \
  X(ultra_colsum_d)      \
  X(ultra_gather_rows)   \
  X(ultra_sqdev)         \
  X(ultra_adv_norm)      \
  X(ultra_ppo_loss)      \
  X(ultra_loss_finish)   \
  X(ultra_sumsq)         \
  X(ultra_adam)          \
  X(ultra_im2col)        \
  X(ultra_col2im)        \
  X(ultra_transpose)
