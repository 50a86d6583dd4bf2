//go:build render

#include "render.h"

#include <GL/osmesa.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "render_egl.h"

struct ultra_renderer {
  int backend;           // ULTRA_GL_OSMESA or ULTRA_GL_EGL
  OSMesaContext gl;      // OSMesa: the context
  unsigned char* glbuf;  // OSMesa: the context's own colour buffer; MuJoCo draws into its offscreen FBO
  void* egl;             // EGL: the context
  int device;            // EGL: its device
  char describe[256];    // the backend and OpenGL renderer, for logs
  const mjModel* m;
  int w, h;
  int track;             // tracked body, or -1
  mjvScene scn;
  mjrContext con;
  mjvOption opt;
  mjvCamera cam;
  int made;              // scene and context made (need freeing)
};

// An OpenGL context is current on one thread at a time, and a cgo call runs
// on one OS thread from start to end, so every call below makes the context
// current on entry and releases it on exit: a Renderer may then be used from
// any goroutine (one at a time).
static int ultra_gl_bind(ultra_renderer* r, char* err, int errn) {
  if (r->backend == ULTRA_GL_EGL) return ultra_egl_bind(r->device, r->egl, err, errn);
  if (!OSMesaMakeCurrent(r->gl, r->glbuf, GL_UNSIGNED_BYTE, r->w, r->h)) {
    snprintf(err, (size_t)errn, "OSMesaMakeCurrent failed");
    return -1;
  }
  return 0;
}

static void ultra_gl_release(ultra_renderer* r) {
  if (r->backend == ULTRA_GL_EGL) {
    ultra_egl_release(r->device);
  } else {
    OSMesaMakeCurrent(NULL, NULL, 0, 0, 0);
  }
}

// ultra_gl_describe names the backend and, from the bound context, the
// OpenGL renderer (llvmpipe for Mesa in software, the GPU's name otherwise).
static void ultra_gl_describe(ultra_renderer* r) {
  typedef const unsigned char* (*get_string)(unsigned int);
  get_string gs;
  char where[160];
  if (r->backend == ULTRA_GL_EGL) {
    *(void**)&gs = ultra_egl_proc("glGetString");
    ultra_egl_describe(r->device, where, sizeof where);
  } else {
    *(void**)&gs = (void*)OSMesaGetProcAddress("glGetString");
    snprintf(where, sizeof where, "OSMesa");
  }
  const unsigned char* name = gs ? gs(GL_RENDERER) : NULL;
  snprintf(r->describe, sizeof r->describe, "%s: %s", where, name ? (const char*)name : "unknown OpenGL renderer");
}

static void ultra_render_destroy(ultra_renderer* r) {
  if (r->made) {
    char err[8];
    if (ultra_gl_bind(r, err, sizeof err) == 0) {
      mjr_freeContext(&r->con);
      ultra_gl_release(r);
    }
    mjv_freeScene(&r->scn);
  }
  if (r->gl) OSMesaDestroyContext(r->gl);
  if (r->egl) ultra_egl_context_free(r->device, r->egl);
  free(r->glbuf);
  free(r);
}

static void ultra_render_make(ultra_renderer* r) {
  mjv_defaultOption(&r->opt);
  mjv_defaultCamera(&r->cam);
  mjv_defaultScene(&r->scn);
  mjr_defaultContext(&r->con);
  r->made = 1;
  mjv_makeScene(r->m, &r->scn, 2000);
  mjr_makeContext(r->m, &r->con, mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
}

ultra_renderer* ultra_render_new(const mjModel* m, int w, int h, int backend, int device, char* err, int errn) {
  ultra_renderer* r = calloc(1, sizeof *r);
  if (r == NULL) {
    snprintf(err, (size_t)errn, "out of memory");
    return NULL;
  }
  r->m = m;
  r->w = w;
  r->h = h;
  r->track = -1;
  r->backend = backend;
  r->device = device;
  if (backend == ULTRA_GL_EGL) {
    r->egl = ultra_egl_context_new(device, err, errn);
    if (r->egl == NULL) {
      ultra_render_destroy(r);
      return NULL;
    }
  } else {
    r->glbuf = malloc((size_t)w * (size_t)h * 4);
    r->gl = OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 0, NULL);
    if (r->glbuf == NULL || r->gl == NULL) {
      snprintf(err, (size_t)errn, "OSMesaCreateContextExt failed (out of memory, or Mesa without OSMesa support)");
      ultra_render_destroy(r);
      return NULL;
    }
  }
  if (ultra_gl_bind(r, err, errn) != 0) {
    ultra_render_destroy(r);
    return NULL;
  }
  ultra_renderer* volatile rv = r;
  ULTRA_GUARD(err, errn, NULL, { ultra_gl_release(rv); ultra_render_destroy(rv); }, ultra_render_make(r));
  int offscreen = r->con.currentBuffer == mjFB_OFFSCREEN;
  ultra_gl_describe(r);
  ultra_gl_release(r);
  if (!offscreen) {
    snprintf(err, (size_t)errn, "MuJoCo could not select its offscreen framebuffer (%s)", r->describe);
    ultra_render_destroy(r);
    return NULL;
  }
  return r;
}

const char* ultra_render_describe(ultra_renderer* r) { return r->describe; }

void ultra_render_camera(ultra_renderer* r, int body, double distance, double azimuth, double elevation) {
  mjv_defaultFreeCamera(r->m, &r->cam);
  r->track = body;
  if (body >= 0) {
    r->cam.type = mjCAMERA_TRACKING;
    r->cam.trackbodyid = body;
  }
  if (distance > 0) r->cam.distance = distance;
  r->cam.azimuth = azimuth;
  r->cam.elevation = elevation;
}

static void ultra_render_body(ultra_renderer* r, mjData* d, unsigned char* rgb) {
  // The tracking camera moves its look-at point towards the body with a
  // filter; starting it on the body makes each image depend on d alone.
  if (r->track >= 0) {
    for (int i = 0; i < 3; i++) r->cam.lookat[i] = d->subtree_com[3 * r->track + i];
  }
  mjv_updateScene(r->m, d, &r->opt, NULL, &r->cam, mjCAT_ALL, &r->scn);
  mjrRect vp = {0, 0, r->w, r->h};
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  mjr_render(vp, &r->scn, &r->con);
  mjr_readPixels(rgb, NULL, vp, &r->con);
}

int ultra_render(ultra_renderer* r, mjData* d, unsigned char* rgb, char* err, int errn) {
  if (ultra_gl_bind(r, err, errn) != 0) return -1;
  ULTRA_GUARD(err, errn, -1, ultra_gl_release(r), ultra_render_body(r, d, rgb));
  ultra_gl_release(r);
  return 0;
}

void ultra_render_free(ultra_renderer* r) {
  if (r != NULL) ultra_render_destroy(r);
}
