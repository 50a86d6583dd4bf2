#include "shim.h"
#include "guard.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void ultraGoWarning(char* msg);

static void ultra_warning_hook(const char* msg) { ultraGoWarning((char*)msg); }

// MuJoCo reports a fatal error (out of memory, stack overflow, a corrupt
// model) through mju_error. Its default handler prints "Press Enter to exit",
// waits on stdin and exits, and a user handler must not return to MuJoCo. So
// every binding call that can reach mju_error runs under ULTRA_GUARD, which
// sets a thread-local jump target; the hook copies MuJoCo's text and jumps
// back there, and the call returns the text as an error. A cgo call runs on
// one OS thread from start to end, so a thread-local target is exact. An
// error outside any guard cannot be returned, so it aborts with the text on
// stderr; it never waits on stdin.
__thread jmp_buf* ultra_jmp;
__thread char ultra_errmsg[ULTRA_ERRMSG_SIZE];

static void ultra_error_hook(const char* msg) {
  if (ultra_jmp != NULL) {
    snprintf(ultra_errmsg, sizeof ultra_errmsg, "%s", msg ? msg : "(no message)");
    longjmp(*ultra_jmp, 1);
  }
  fprintf(stderr, "ultra: fatal MuJoCo error outside a guarded call: %s\n", msg ? msg : "");
  abort();
}

// ultra_install_hooks routes MuJoCo's warning text to Go instead of stdout and
// MUJOCO_LOG.TXT, and its errors to the guard above.
void ultra_install_hooks(void) {
  mju_user_warning = ultra_warning_hook;
  mju_user_error = ultra_error_hook;
}

mjModel* ultra_load_xml(const char* path, char* err, int errn) {
  mjModel* m = NULL;
  ULTRA_GUARD(err, errn, NULL, (void)0, m = mj_loadXML(path, NULL, err, errn));
  return m;
}

// ultra_make_data allocates data for m and computes its derived quantities.
mjData* ultra_make_data(const mjModel* m, char* err, int errn) {
  mjData* volatile d = NULL;
  ULTRA_GUARD(err, errn, NULL, if (d != NULL) mj_deleteData(d), {
    d = mj_makeData(m);
    if (d != NULL) mj_forward(m, d);
  });
  if (d == NULL) snprintf(err, (size_t)errn, "mj_makeData returned no data (out of memory?)");
  return d;
}

// After an error MuJoCo's data may be half-updated (its stack pointer is not
// unwound), so the calls below reset it before they return the error.
int ultra_forward(const mjModel* m, mjData* d, char* err, int errn) {
  ULTRA_GUARD(err, errn, -1, mj_resetData(m, d), mj_forward(m, d));
  return 0;
}

int ultra_reset(const mjModel* m, mjData* d, char* err, int errn) {
  ULTRA_GUARD(err, errn, -1, (void)0, mj_resetData(m, d));
  return 0;
}

// ultra_reset_state sets what mj_resetData sets — the header's counters and
// sizes, time, the state, the inputs and the arrays mj_forward does not
// compute (MuJoCo 2.x's own list) — without clearing the rest of the main
// buffer, which mj_forward and mj_step write before they read it. mj_resetData
// clears all of it: 221 KB for hopper, 34 µs, and with several datas stepped
// in turn on one core the clearing also evicts the others from the caches.
// MuJoCo 3.x changed what its data holds (an arena, plugins, sleeping
// islands), so there mj_resetData itself is called.
void ultra_reset_state(const mjModel* m, mjData* d) {
#if mjVERSION_HEADER >= 300
  mj_resetData(m, d);
#else
  d->pstack = 0;
  d->maxuse_stack = 0;
  d->maxuse_con = 0;
  d->maxuse_efc = 0;
  memset(d->warning, 0, sizeof d->warning);
  memset(d->timer, 0, sizeof d->timer);
  memset(d->solver, 0, sizeof d->solver);
  d->solver_iter = 0;
  d->solver_nnz = 0;
  mju_zero(d->solver_fwdinv, 2);
  d->ne = 0;
  d->nf = 0;
  d->nefc = 0;
  d->ncon = 0;
  d->time = 0;
  mju_zero(d->energy, 2);
  mju_copy(d->qpos, m->qpos0, m->nq);
  mju_zero(d->qvel, m->nv);
  mju_zero(d->act, m->na);
  mju_zero(d->ctrl, m->nu);
  mju_zero(d->qfrc_applied, m->nv);
  mju_zero(d->xfrc_applied, 6 * m->nbody);
  mju_zero(d->qacc, m->nv);
  mju_zero(d->qacc_warmstart, m->nv);
  mju_zero(d->act_dot, m->na);
  mju_zero(d->userdata, m->nuserdata);
  mju_zero(d->sensordata, m->nsensordata);
  mju_zero(d->mocap_pos, 3 * m->nmocap);
  mju_zero(d->mocap_quat, 4 * m->nmocap);
  for (int i = 0; i < m->nbody; i++) {
    int id = m->body_mocapid[i];
    if (id >= 0) {
      mju_copy3(d->mocap_pos + 3 * id, m->body_pos + 3 * i);
      mju_copy4(d->mocap_quat + 4 * id, m->body_quat + 4 * i);
    }
  }
#endif
}

// ultra_step advances d by n calls of mj_step. Warning counters are cleared
// first, so every warning raised during these steps shows in the returned bit
// mask (bit i = mjtWarning i); MuJoCo's own auto-reset on a bad state sets the
// counter back to 1, which a before/after comparison would miss. Stepping stops
// at the first warning that means the state went bad (MuJoCo has then already
// reset the data). It returns -1, with MuJoCo's text in err, if MuJoCo raised
// an error; the data is then reset.
int ultra_step(const mjModel* m, mjData* d, int n, char* err, int errn) {
  for (int i = 0; i < mjNWARNING; i++) d->warning[i].number = 0;
  ULTRA_GUARD(err, errn, -1, mj_resetData(m, d), {
    for (int k = 0; k < n; k++) {
      mj_step(m, d);
      if (d->warning[mjWARN_BADQPOS].number || d->warning[mjWARN_BADQVEL].number ||
          d->warning[mjWARN_BADQACC].number) {
        break;
      }
    }
  });
  int mask = 0;
  for (int i = 0; i < mjNWARNING; i++) {
    if (d->warning[i].number) mask |= 1 << i;
  }
  return mask;
}

int ultra_warning_info(const mjData* d, int w) { return (int)d->warning[w].lastinfo; }

// mju_warningText takes int info in MuJoCo 2.2 and size_t in 3.x; the implicit
// conversion here serves both.
const char* ultra_warning_text(int w, int info) { return mju_warningText(w, info); }

double ultra_timestep(const mjModel* m) { return m->opt.timestep; }

// ultra_cloop_body is the reference for the env benchmark: a plain C loop that,
// steps times, steps each of the n datas in turn — writing uniform random
// controls inside each actuator's ctrlrange and calling mj_step frameskip
// times — and resets each data every reset_every of its steps. It uses a
// xorshift generator so drawing controls costs next to nothing.
static void ultra_cloop_body(const mjModel* m, mjData* const* ds, int n, long steps, int frameskip,
                             int reset_every, unsigned long long seed) {
  unsigned long long x = seed ? seed : 0x9e3779b97f4a7c15ULL;
  for (long s = 0; s < steps; s++) {
    for (int j = 0; j < n; j++) {
      mjData* d = ds[j];
      if (reset_every > 0 && s % reset_every == 0) mj_resetData(m, d);
      for (int i = 0; i < m->nu; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0;
        double lo = m->actuator_ctrlrange[2*i], hi = m->actuator_ctrlrange[2*i+1];
        d->ctrl[i] = lo + u * (hi - lo);
      }
      for (int k = 0; k < frameskip; k++) mj_step(m, d);
    }
  }
}

static void ultra_reset_all(const mjModel* m, mjData* const* ds, int n) {
  for (int j = 0; j < n; j++) mj_resetData(m, ds[j]);
}

// ultra_cloop runs ultra_cloop_body under the error guard; on an error
// every data is reset.
int ultra_cloop(const mjModel* m, mjData* const* ds, int n, long steps, int frameskip, int reset_every,
                unsigned long long seed, char* err, int errn) {
  ULTRA_GUARD(err, errn, -1, ultra_reset_all(m, ds, n),
              ultra_cloop_body(m, ds, n, steps, frameskip, reset_every, seed));
  return 0;
}

// ultra_data_bytes reports d's memory: its main buffer (which MuJoCo zeroes,
// so it is resident) in *buffer, the stack (2.x; nstack mjtNums) or arena
// (3.x) it reserved in *reserved, and the most of that used so far in *used.
void ultra_data_bytes(const mjData* d, long long* buffer, long long* reserved, long long* used) {
  *buffer = (long long)d->nbuffer;
#if mjVERSION_HEADER >= 300
  *reserved = (long long)d->narena;
  *used = (long long)d->maxuse_arena;
#else
  *reserved = (long long)d->nstack * (long long)sizeof(mjtNum);
  *used = (long long)d->maxuse_stack * (long long)sizeof(mjtNum);
#endif
}
