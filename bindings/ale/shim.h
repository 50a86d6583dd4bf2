//go:build ale

/*
 * shim.h: ultra's C API over ale::ALEInterface (ALE ≥ 0.10 has no C API of
 * its own). Every function catches C++ exceptions and reports them through
 * err (a caller-owned buffer of errlen bytes, NUL-terminated); a function
 * that fails returns a negative value or NULL.
 */
#ifndef ULTRA_ALE_SHIM_H
#define ULTRA_ALE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ultra_ale ultra_ale;

/* Frame geometry every Atari 2600 game shares under ALE. */
enum { ULTRA_ALE_H = 210, ULTRA_ALE_W = 160, ULTRA_ALE_RAM = 128 };

/* Opens rom with per-frame sticky-action probability sticky, emulator seed
 * seed, game mode and difficulty (-1 keeps the game's default). Returns NULL
 * and fills err when the ROM is missing, unreadable or not one ALE supports
 * (ALE itself would exit the process on an unsupported ROM). */
ultra_ale *ultra_ale_open(const char *rom, float sticky, int seed, int mode, int difficulty,
                          char *err, size_t errlen);
void ultra_ale_close(ultra_ale *a);

/* Writes up to cap ALE action ids of the game's minimal action set into out
 * and returns how many the set holds. */
int ultra_ale_minimal_actions(ultra_ale *a, int *out, int cap);

/* Reseeds the sticky-action generator and resets the game. */
int ultra_ale_reset(ultra_ale *a, uint32_t seed, char *err, size_t errlen);

/* Steps: applies ALE action id action for up to skip frames (stopping early
 * at game over) and sums the rewards into *reward. gray, when not NULL,
 * receives the pixel-wise maximum of the grayscale screens of the last two
 * frames (210*160 bytes). ram, when not NULL, receives the 128 RAM bytes
 * after the step. Returns the number of frames emulated; *over is set to 1
 * when the game is over (ALE's game_over without truncation). */
int ultra_ale_step(ultra_ale *a, int action, int skip, int *reward, int *over,
                   uint8_t *gray, uint8_t *ram, char *err, size_t errlen);

/* Current screen: RGB (210*160*3 bytes, row-major, interleaved) or
 * grayscale (210*160 bytes). */
void ultra_ale_screen_rgb(ultra_ale *a, uint8_t *out);
void ultra_ale_screen_gray(ultra_ale *a, uint8_t *out);
void ultra_ale_ram(ultra_ale *a, uint8_t *out);
int ultra_ale_frame(ultra_ale *a); /* frames since the episode started */

/* Serialises the full state, sticky-action generator included, into out
 * when it fits in cap bytes, and returns the state's size (so a caller whose
 * buffer was too small grows it and calls again). */
long ultra_ale_clone(ultra_ale *a, uint8_t *out, long cap, char *err, size_t errlen);
int ultra_ale_restore(ultra_ale *a, const uint8_t *state, long n, char *err, size_t errlen);

/* The ALE version the shim was compiled against, e.g. "0.12.1". */
const char *ultra_ale_version(void);

#ifdef __cplusplus
}
#endif

#endif
