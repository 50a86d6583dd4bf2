//go:build render

// EGL for the offscreen renderer (MUJOCO_GL=egl): a headless OpenGL
// context on an EGL device, without a window system, as dm_control makes
// one. With an NVIDIA driver this renders on the GPU; with Mesa's EGL
// (Debian libegl1 + libegl-mesa0) on its software device.
//
// libEGL is opened with dlopen on first use, so that a render build needs
// neither EGL's headers nor its library, and a machine without them still
// runs every other path (OSMesa included); MUJOCO_GL=egl there gets an
// error naming what to install.

#include "render_egl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// The EGL 1.5 and EGL_EXT_device_* values used here, from the Khronos
// registry (checked against the system's headers below when it has them).
#define U_EGL_SUCCESS 0x3000
#define U_EGL_ALPHA_SIZE 0x3021
#define U_EGL_BLUE_SIZE 0x3022
#define U_EGL_GREEN_SIZE 0x3023
#define U_EGL_RED_SIZE 0x3024
#define U_EGL_DEPTH_SIZE 0x3025
#define U_EGL_STENCIL_SIZE 0x3026
#define U_EGL_SURFACE_TYPE 0x3033
#define U_EGL_NONE 0x3038
#define U_EGL_RENDERABLE_TYPE 0x3040
#define U_EGL_VENDOR 0x3053
#define U_EGL_OPENGL_API 0x30A2
#define U_EGL_PBUFFER_BIT 0x0001
#define U_EGL_OPENGL_BIT 0x0008
#define U_EGL_PLATFORM_DEVICE_EXT 0x313F

#if defined(__has_include)
#if __has_include(<EGL/egl.h>) && __has_include(<EGL/eglext.h>)
#include <EGL/egl.h>
#include <EGL/eglext.h>
_Static_assert(U_EGL_SUCCESS == EGL_SUCCESS && U_EGL_ALPHA_SIZE == EGL_ALPHA_SIZE &&
                   U_EGL_BLUE_SIZE == EGL_BLUE_SIZE && U_EGL_GREEN_SIZE == EGL_GREEN_SIZE &&
                   U_EGL_RED_SIZE == EGL_RED_SIZE && U_EGL_DEPTH_SIZE == EGL_DEPTH_SIZE &&
                   U_EGL_STENCIL_SIZE == EGL_STENCIL_SIZE && U_EGL_SURFACE_TYPE == EGL_SURFACE_TYPE &&
                   U_EGL_NONE == EGL_NONE && U_EGL_RENDERABLE_TYPE == EGL_RENDERABLE_TYPE &&
                   U_EGL_VENDOR == EGL_VENDOR && U_EGL_OPENGL_API == EGL_OPENGL_API &&
                   U_EGL_PBUFFER_BIT == EGL_PBUFFER_BIT && U_EGL_OPENGL_BIT == EGL_OPENGL_BIT &&
                   U_EGL_PLATFORM_DEVICE_EXT == EGL_PLATFORM_DEVICE_EXT,
               "an EGL constant in render_egl.c differs from <EGL/egl.h>");
#endif
#endif

typedef void* u_egl_ptr;  // EGLDisplay, EGLConfig, EGLContext, EGLSurface, EGLDeviceEXT
typedef unsigned int u_egl_bool;
typedef int u_egl_int;

#define EGL_MAX_DEVICES 64

// The loaded library (kept once loaded: dlclose of a GL vendor library is
// not safe) and a display per device, opened on first use; guarded by mu.
static struct {
  pthread_mutex_t mu;
  void* lib;
  int ndevices;
  u_egl_ptr devices[EGL_MAX_DEVICES];
  struct {
    u_egl_ptr display, config;
    char vendor[96];
  } open[EGL_MAX_DEVICES];

  void* (*getProcAddress)(const char*);
  u_egl_int (*getError)(void);
  u_egl_bool (*initialize)(u_egl_ptr, u_egl_int*, u_egl_int*);
  const char* (*queryString)(u_egl_ptr, u_egl_int);
  u_egl_bool (*chooseConfig)(u_egl_ptr, const u_egl_int*, u_egl_ptr*, u_egl_int, u_egl_int*);
  u_egl_bool (*bindAPI)(unsigned int);
  u_egl_ptr (*createContext)(u_egl_ptr, u_egl_ptr, u_egl_ptr, const u_egl_int*);
  u_egl_bool (*destroyContext)(u_egl_ptr, u_egl_ptr);
  u_egl_bool (*makeCurrent)(u_egl_ptr, u_egl_ptr, u_egl_ptr, u_egl_ptr);
  u_egl_bool (*queryDevices)(u_egl_int, u_egl_ptr*, u_egl_int*);
  u_egl_ptr (*getPlatformDisplay)(unsigned int, void*, const u_egl_int*);
} egl = {.mu = PTHREAD_MUTEX_INITIALIZER};

// egl_load loads libEGL from lib and lists its devices; called with egl.mu
// held. A failure leaves nothing loaded, so that a later call may retry.
static int egl_load(const char* lib, char* err, int errn) {
  size_t en = (size_t)errn;
  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char* why = dlerror();
    snprintf(err, en, "%s could not be loaded (%s): install EGL (Debian: sudo apt-get install libegl1 libegl-mesa0; in an NVIDIA container, NVIDIA_DRIVER_CAPABILITIES must include graphics), or set MUJOCO_GL=osmesa",
             lib, why ? why : "not found");
    return -1;
  }
  *(void**)&egl.getProcAddress = dlsym(h, "eglGetProcAddress");
  if (egl.getProcAddress == NULL) {
    snprintf(err, en, "%s has no eglGetProcAddress: it is not an EGL library", lib);
    dlclose(h);
    return -1;
  }
#define LOAD(field, name)                                                          \
  do {                                                                             \
    *(void**)&egl.field = egl.getProcAddress(name);                                \
    if (egl.field == NULL) *(void**)&egl.field = dlsym(h, name);                   \
    if (egl.field == NULL) {                                                       \
      snprintf(err, en, "%s lacks %s (EGL 1.4 with EGL_EXT_device_enumeration and " \
               "EGL_EXT_platform_device is needed), or set MUJOCO_GL=osmesa", lib, name); \
      return -1;                                                                   \
    }                                                                              \
  } while (0)
  LOAD(getError, "eglGetError");
  LOAD(initialize, "eglInitialize");
  LOAD(queryString, "eglQueryString");
  LOAD(chooseConfig, "eglChooseConfig");
  LOAD(bindAPI, "eglBindAPI");
  LOAD(createContext, "eglCreateContext");
  LOAD(destroyContext, "eglDestroyContext");
  LOAD(makeCurrent, "eglMakeCurrent");
  LOAD(queryDevices, "eglQueryDevicesEXT");
  LOAD(getPlatformDisplay, "eglGetPlatformDisplayEXT");
#undef LOAD
  u_egl_int n = 0;
  if (!egl.queryDevices(EGL_MAX_DEVICES, egl.devices, &n) || n < 1) {
    snprintf(err, en, "EGL lists no device (eglQueryDevicesEXT: 0x%x): no EGL vendor library is installed (Debian: libegl-mesa0; NVIDIA: the driver's libEGL_nvidia, which containers get when NVIDIA_DRIVER_CAPABILITIES includes graphics), or set MUJOCO_GL=osmesa",
             egl.getError());
    return -1;  // h stays loaded: its vendor libraries may be in use
  }
  egl.ndevices = n;
  egl.lib = h;
  return 0;
}

// egl_display opens device i's display once; called with egl.mu held.
static int egl_display(int i, char* err, int errn) {
  if (egl.open[i].display != NULL) return 0;
  static const u_egl_int attrs[] = {
      U_EGL_RED_SIZE,     8,  U_EGL_GREEN_SIZE,   8, U_EGL_BLUE_SIZE,    8,                 U_EGL_ALPHA_SIZE,      8,
      U_EGL_DEPTH_SIZE,   24, U_EGL_STENCIL_SIZE, 8, U_EGL_SURFACE_TYPE, U_EGL_PBUFFER_BIT, U_EGL_RENDERABLE_TYPE, U_EGL_OPENGL_BIT,
      U_EGL_NONE};
  u_egl_ptr dpy = egl.getPlatformDisplay(U_EGL_PLATFORM_DEVICE_EXT, egl.devices[i], NULL);
  u_egl_int major = 0, minor = 0, nconf = 0;
  u_egl_ptr cfg = NULL;
  const char* why = NULL;
  if (dpy == NULL) {
    why = "eglGetPlatformDisplayEXT failed";
  } else if (!egl.initialize(dpy, &major, &minor)) {
    why = "eglInitialize failed";
  } else if (!egl.chooseConfig(dpy, attrs, &cfg, 1, &nconf) || nconf < 1) {
    why = "no RGBA8 config with a 24-bit depth buffer for desktop OpenGL";
  }
  if (why != NULL) {
    snprintf(err, (size_t)errn, "EGL device %d: %s (0x%x)", i, why, egl.getError());
    return -1;
  }
  const char* vendor = egl.queryString(dpy, U_EGL_VENDOR);
  snprintf(egl.open[i].vendor, sizeof egl.open[i].vendor, "%s", vendor ? vendor : "?");
  egl.open[i].display = dpy;
  egl.open[i].config = cfg;
  return 0;
}

int ultra_egl_open(const char* lib, int device, char* err, int errn) {
  pthread_mutex_lock(&egl.mu);
  int rc = egl.lib != NULL ? 0 : egl_load(lib, err, errn);
  if (rc == 0 && device >= egl.ndevices) {
    snprintf(err, (size_t)errn, "MUJOCO_EGL_DEVICE_ID=%d: EGL lists %d device%s (0 to %d)", device, egl.ndevices,
             egl.ndevices == 1 ? "" : "s", egl.ndevices - 1);
    rc = -1;
  } else if (rc == 0 && device >= 0) {
    rc = egl_display(device, err, errn);
  } else if (rc == 0) {
    // The first device that opens: libglvnd lists vendors in the order
    // of their files, NVIDIA's (10_nvidia.json) before Mesa's (50_mesa).
    char tried[400] = "";
    rc = -1;
    for (int i = 0; i < egl.ndevices && rc != 0; i++) {
      char why[200];
      if ((rc = egl_display(i, why, sizeof why)) == 0) {
        device = i;
      } else {
        size_t k = strlen(tried);
        snprintf(tried + k, sizeof tried - k, "%s%s", k ? "; " : "", why);
      }
    }
    if (rc != 0) snprintf(err, (size_t)errn, "no EGL device opens for desktop OpenGL (%s); set MUJOCO_GL=osmesa", tried);
  }
  pthread_mutex_unlock(&egl.mu);
  return rc == 0 ? device : -1;
}

// An open display is never closed (eglTerminate would end every context on
// it), so the fields read below do not change once set.

void* ultra_egl_context_new(int device, char* err, int errn) {
  // EGL's current API is per thread; bind it on this one.
  if (!egl.bindAPI(U_EGL_OPENGL_API)) {
    snprintf(err, (size_t)errn, "eglBindAPI(EGL_OPENGL_API) failed (0x%x): the EGL device has no desktop OpenGL",
             egl.getError());
    return NULL;
  }
  u_egl_ptr ctx = egl.createContext(egl.open[device].display, egl.open[device].config, NULL, NULL);
  if (ctx == NULL) snprintf(err, (size_t)errn, "eglCreateContext failed (0x%x)", egl.getError());
  return ctx;
}

int ultra_egl_bind(int device, void* ctx, char* err, int errn) {
  egl.bindAPI(U_EGL_OPENGL_API);
  // No surface: MuJoCo draws into its own offscreen framebuffer object
  // (EGL_KHR_surfaceless_context, which Mesa and NVIDIA provide).
  if (!egl.makeCurrent(egl.open[device].display, NULL, NULL, ctx)) {
    snprintf(err, (size_t)errn, "eglMakeCurrent failed (0x%x): the EGL device needs EGL_KHR_surfaceless_context",
             egl.getError());
    return -1;
  }
  return 0;
}

void ultra_egl_release(int device) { egl.makeCurrent(egl.open[device].display, NULL, NULL, NULL); }

void ultra_egl_context_free(int device, void* ctx) {
  if (ctx != NULL) egl.destroyContext(egl.open[device].display, ctx);
}

void ultra_egl_describe(int device, char* out, int outn) {
  snprintf(out, (size_t)outn, "EGL device %d of %d, %s", device, egl.ndevices, egl.open[device].vendor);
}

void* ultra_egl_proc(const char* name) { return egl.getProcAddress(name); }
