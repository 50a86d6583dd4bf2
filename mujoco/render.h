// The offscreen renderer (build tag render): MuJoCo's own renderer
// (mjv_updateScene, mjr_render, mjr_readPixels) drawing into its offscreen
// framebuffer inside an OSMesa or EGL OpenGL context. Only C API present in
// both MuJoCo 2.2 and 3.x is used.
#ifndef ULTRA_MUJOCO_RENDER_H
#define ULTRA_MUJOCO_RENDER_H
#include <mujoco/mujoco.h>

typedef struct ultra_renderer ultra_renderer;

enum { ULTRA_GL_OSMESA = 0, ULTRA_GL_EGL = 1 };

// ultra_render_new makes a w×h renderer of m, which must stay alive (and
// have vis.global.offwidth/offheight ≥ w, h) until ultra_render_free, in a
// context of backend: OSMesa, or EGL on device (opened by ultra_egl_open).
// Set its camera with ultra_render_camera before the first ultra_render.
ultra_renderer* ultra_render_new(const mjModel* m, int w, int h, int backend, int device, char* err, int errn);
// ultra_render_describe names the backend and OpenGL renderer.
const char* ultra_render_describe(ultra_renderer* r);
// ultra_render_camera sets the camera: body ≥ 0 tracks that body's subtree
// centre of mass, body < 0 looks at the whole model (MuJoCo's free camera);
// distance ≤ 0 keeps MuJoCo's default distance.
void ultra_render_camera(ultra_renderer* r, int body, double distance, double azimuth, double elevation);
// ultra_render draws d (of a model with m's layout) and writes w×h RGB
// pixels, bottom row first, to rgb. It returns -1 with the reason in err.
int ultra_render(ultra_renderer* r, mjData* d, unsigned char* rgb, char* err, int errn);
void ultra_render_free(ultra_renderer* r);
#endif
