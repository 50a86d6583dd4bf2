// The error guard that every binding call reaching mju_error runs under
// (see shim.c): shared by the C files of the package.
#ifndef ULTRA_MUJOCO_GUARD_H
#define ULTRA_MUJOCO_GUARD_H
#include <setjmp.h>
#include <stdio.h>

#define ULTRA_ERRMSG_SIZE 1000

// The jump target of the innermost guard on this thread (NULL outside any)
// and the text of the error that jumped to it; defined in shim.c.
extern __thread jmp_buf* ultra_jmp;
extern __thread char ultra_errmsg[ULTRA_ERRMSG_SIZE];

// ULTRA_GUARD runs body with the error hook's jump target set. If MuJoCo
// raises an error, MuJoCo's text goes to err (of size errn), on_error runs,
// and the enclosing function returns fail. Only locals that body does not
// modify may be read in on_error (setjmp rules).
#define ULTRA_GUARD(err, errn, fail, on_error, body)                 \
  do {                                                               \
    jmp_buf ultra_jb;                                                \
    jmp_buf* ultra_prev = ultra_jmp;                                 \
    if (setjmp(ultra_jb) != 0) {                                     \
      ultra_jmp = ultra_prev;                                        \
      snprintf((err), (size_t)(errn), "%s", ultra_errmsg);           \
      on_error;                                                      \
      return (fail);                                                 \
    }                                                                \
    ultra_jmp = &ultra_jb;                                           \
    body;                                                            \
    ultra_jmp = ultra_prev;                                          \
  } while (0)

#endif
