// EGL for the offscreen renderer (build tag render): see render_egl.c.
#ifndef ULTRA_MUJOCO_RENDER_EGL_H
#define ULTRA_MUJOCO_RENDER_EGL_H

// ultra_egl_open loads lib (libEGL.so.1) once per process and opens EGL
// device `device`, or the first that opens when device < 0. It returns the
// device opened, or -1 with the reason in err.
int ultra_egl_open(const char* lib, int device, char* err, int errn);
// ultra_egl_context_new makes a desktop OpenGL context on an open device.
void* ultra_egl_context_new(int device, char* err, int errn);
// ultra_egl_bind makes ctx current on the calling thread, without a surface.
int ultra_egl_bind(int device, void* ctx, char* err, int errn);
// ultra_egl_release makes no context current on the calling thread.
void ultra_egl_release(int device);
void ultra_egl_context_free(int device, void* ctx);
// ultra_egl_describe names an open device and its EGL vendor.
void ultra_egl_describe(int device, char* out, int outn);
// ultra_egl_proc is eglGetProcAddress (after a successful open).
void* ultra_egl_proc(const char* name);
#endif
