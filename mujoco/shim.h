// Small C helpers for the Go binding: they keep per-step work in one cgo call
// and hide the few signature differences between MuJoCo 2.2 and 3.x.
#ifndef ULTRA_MUJOCO_SHIM_H
#define ULTRA_MUJOCO_SHIM_H
#include <mujoco/mujoco.h>

void ultra_install_hooks(void);
int ultra_step(const mjModel* m, mjData* d, int n);
int ultra_warning_info(const mjData* d, int w);
const char* ultra_warning_text(int w, int info);
double ultra_timestep(const mjModel* m);
void ultra_cloop(const mjModel* m, mjData* d, long steps, int frameskip, int reset_every, unsigned long long seed);
#endif
