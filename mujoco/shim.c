#include "shim.h"

extern void ultraGoWarning(char* msg);

static void ultra_warning_hook(const char* msg) { ultraGoWarning((char*)msg); }

// ultra_install_hooks routes MuJoCo's warning text to Go instead of stdout and
// MUJOCO_LOG.TXT.
void ultra_install_hooks(void) { mju_user_warning = ultra_warning_hook; }

// ultra_step advances d by n calls of mj_step. Warning counters are cleared
// first, so every warning raised during these steps shows in the returned bit
// mask (bit i = mjtWarning i); MuJoCo's own auto-reset on a bad state sets the
// counter back to 1, which a before/after comparison would miss. Stepping stops
// at the first warning that means the state went bad (MuJoCo has then already
// reset the data).
int ultra_step(const mjModel* m, mjData* d, int n) {
  for (int i = 0; i < mjNWARNING; i++) d->warning[i].number = 0;
  for (int k = 0; k < n; k++) {
    mj_step(m, d);
    if (d->warning[mjWARN_BADQPOS].number || d->warning[mjWARN_BADQVEL].number ||
        d->warning[mjWARN_BADQACC].number) {
      break;
    }
  }
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

// ultra_cloop is the reference for the env benchmark: a plain C loop that
// writes uniform random controls inside each actuator's ctrlrange, calls
// mj_step frameskip times per step, and resets the data every reset_every
// steps. It uses a xorshift generator so drawing controls costs next to nothing.
void ultra_cloop(const mjModel* m, mjData* d, long steps, int frameskip, int reset_every,
                 unsigned long long seed) {
  unsigned long long x = seed ? seed : 0x9e3779b97f4a7c15ULL;
  for (long s = 0; s < steps; s++) {
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
