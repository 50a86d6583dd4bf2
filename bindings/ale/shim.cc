//go:build ale

// shim.cc: the project's extern "C" wrapper over ale::ALEInterface. It holds
// no policy: frame skip and the max over the last two frames are done here
// only to make one cgo call per env step.

#include "shim.h"

#include <ale/ale_interface.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct ultra_ale {
  ale::ALEInterface ale;
  ale::ActionVect minimal;
  std::vector<unsigned char> gray[2];
};

namespace {

void seterr(char *err, size_t errlen, const std::string &msg) {
  if (err == nullptr || errlen == 0) return;
  size_t n = std::min(errlen - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = 0;
}

std::once_flag quiet_once;

// quiet keeps ALE's banner and per-ROM info off stdout: only its errors
// reach stderr.
void quiet() {
  std::call_once(quiet_once, [] { ale::Logger::setMode(ale::Logger::Error); });
}

// guarded runs f and returns its result; a C++ exception is written to err
// and turned into fail.
template <typename T, typename F>
T guarded(char *err, size_t errlen, T fail, F f) {
  try {
    return f();
  } catch (const std::exception &e) {
    seterr(err, errlen, e.what());
  } catch (...) {
    seterr(err, errlen, "unknown C++ exception");
  }
  return fail;
}

}  // namespace

extern "C" {

ultra_ale *ultra_ale_open(const char *rom, float sticky, int seed, int mode, int difficulty,
                          char *err, size_t errlen) {
  quiet();
  return guarded<ultra_ale *>(err, errlen, nullptr, [&]() -> ultra_ale * {
    // ALE calls exit() on a ROM it does not know: check first.
    if (!ale::ALEInterface::isSupportedROM(rom).has_value()) {
      seterr(err, errlen, "not a ROM this ALE supports (its MD5 matches no supported game)");
      return nullptr;
    }
    auto a = std::make_unique<ultra_ale>();
    a->ale.setInt("random_seed", seed);
    a->ale.setFloat("repeat_action_probability", sticky);
    a->ale.setInt("frame_skip", 1);
    a->ale.setInt("max_num_frames_per_episode", 0);
    a->ale.loadROM(rom);
    if (mode >= 0) a->ale.setMode(static_cast<ale::game_mode_t>(mode));
    if (difficulty >= 0) a->ale.setDifficulty(static_cast<ale::difficulty_t>(difficulty));
    a->minimal = a->ale.getMinimalActionSet();
    const size_t n = ULTRA_ALE_H * ULTRA_ALE_W;
    if (a->ale.getScreen().height() * a->ale.getScreen().width() != n) {
      seterr(err, errlen, "unexpected screen size");
      return nullptr;
    }
    a->gray[0].resize(n);
    a->gray[1].resize(n);
    return a.release();
  });
}

void ultra_ale_close(ultra_ale *a) { delete a; }

int ultra_ale_minimal_actions(ultra_ale *a, int *out, int cap) {
  int n = static_cast<int>(a->minimal.size());
  for (int i = 0; i < n && i < cap; i++) out[i] = static_cast<int>(a->minimal[i]);
  return n;
}

int ultra_ale_reset(ultra_ale *a, uint32_t seed, char *err, size_t errlen) {
  return guarded(err, errlen, -1, [&] {
    a->ale.environment->getEnvironmentRNG().seed(seed);
    a->ale.reset_game();
    return 0;
  });
}

int ultra_ale_step(ultra_ale *a, int action, int skip, int *reward, int *over,
                   uint8_t *gray, uint8_t *ram, char *err, size_t errlen) {
  return guarded(err, errlen, -1, [&] {
    int total = 0, frames = 0;
    bool have_prev = false;  // a->gray[0] holds the second-to-last frame
    while (frames < skip && !a->ale.game_over(false)) {
      total += a->ale.act(static_cast<ale::Action>(action));
      frames++;
      if (gray != nullptr && frames == skip - 1) {
        a->ale.getScreenGrayscale(a->gray[0]);
        have_prev = true;
      }
    }
    if (gray != nullptr) {
      const size_t n = ULTRA_ALE_H * ULTRA_ALE_W;
      a->ale.getScreenGrayscale(a->gray[1]);  // the last frame
      const unsigned char *g0 = a->gray[0].data(), *g1 = a->gray[1].data();
      if (have_prev && frames == skip) {
        for (size_t i = 0; i < n; i++) gray[i] = std::max(g0[i], g1[i]);
      } else {  // skip 1, or the game ended early: the last frame alone
        std::memcpy(gray, g1, n);
      }
    }
    if (ram != nullptr) std::memcpy(ram, a->ale.getRAM().array(), ULTRA_ALE_RAM);
    *reward = total;
    *over = a->ale.game_over(false) ? 1 : 0;
    return frames;
  });
}

void ultra_ale_screen_rgb(ultra_ale *a, uint8_t *out) {
  auto &screen = a->ale.getScreen();
  a->ale.theOSystem->colourPalette().applyPaletteRGB(out, screen.getArray(),
                                                     screen.height() * screen.width());
}

void ultra_ale_screen_gray(ultra_ale *a, uint8_t *out) {
  auto &screen = a->ale.getScreen();
  a->ale.theOSystem->colourPalette().applyPaletteGrayscale(out, screen.getArray(),
                                                           screen.height() * screen.width());
}

void ultra_ale_ram(ultra_ale *a, uint8_t *out) {
  std::memcpy(out, a->ale.getRAM().array(), ULTRA_ALE_RAM);
}

int ultra_ale_frame(ultra_ale *a) { return a->ale.getEpisodeFrameNumber(); }

long ultra_ale_clone(ultra_ale *a, uint8_t *out, long cap, char *err, size_t errlen) {
  return guarded(err, errlen, -1L, [&] {
    std::string s = a->ale.cloneState(true).serialize();
    long n = static_cast<long>(s.size());
    if (out != nullptr && cap >= n) std::memcpy(out, s.data(), s.size());
    return n;
  });
}

int ultra_ale_restore(ultra_ale *a, const uint8_t *state, long n, char *err, size_t errlen) {
  return guarded(err, errlen, -1, [&] {
    ale::ALEState s(std::string(reinterpret_cast<const char *>(state), static_cast<size_t>(n)));
    a->ale.restoreState(s);
    return 0;
  });
}

const char *ultra_ale_version(void) { return ALE_VERSION; }

}  // extern "C"
