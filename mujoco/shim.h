// Small C helpers for the Go binding: they keep per-step work in one cgo call,
// turn MuJoCo's fatal errors into returned text (see ULTRA_GUARD in shim.c),
// and hide the few signature differences between MuJoCo 2.2 and 3.x. Every
// function taking err/errn writes MuJoCo's message there when it fails.
#ifndef ULTRA_MUJOCO_SHIM_H
#define ULTRA_MUJOCO_SHIM_H
#include <mujoco/mujoco.h>

void ultra_install_hooks(void);
mjModel* ultra_load_xml(const char* path, char* err, int errn);
mjData* ultra_make_data(const mjModel* m, char* err, int errn);
int ultra_forward(const mjModel* m, mjData* d, char* err, int errn);
int ultra_reset(const mjModel* m, mjData* d, char* err, int errn);
int ultra_step(const mjModel* m, mjData* d, int n, char* err, int errn);
int ultra_warning_info(const mjData* d, int w);
const char* ultra_warning_text(int w, int info);
double ultra_timestep(const mjModel* m);
void ultra_data_bytes(const mjData* d, long long* buffer, long long* reserved, long long* used);
void ultra_reset_state(const mjModel* m, mjData* d);
int ultra_cloop(const mjModel* m, mjData* const* ds, int n, long steps, int frameskip, int reset_every,
                unsigned long long seed, char* err, int errn);
#endif
