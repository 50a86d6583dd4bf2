// counters.h — what the CPU emulator of the driver (fake_driver.cc) counts,
// for tests that pin the host's waits and copies (cudatest.Counters reads
// them). Every field counts since the library was loaded; tests take
// differences.
#ifndef ULTRA_EMU_COUNTERS_H
#define ULTRA_EMU_COUNTERS_H

typedef struct {
  long long syncs;       // cuStreamSynchronize calls: the host waited for the device
  long long htod;        // host-to-device copies
  long long htod_bytes;  // their bytes
  long long htod_pageable; // of which from pageable host memory (not cuMemHostAlloc's)
  long long dtoh;        // device-to-host copies
  long long dtoh_bytes;  // their bytes
  long long dtoh_pageable; // of which into pageable host memory: the driver waits for the stream
  long long dtod;        // device-to-device copies
  long long dtod_bytes;  // their bytes
  long long launches;    // kernel launches
  long long blas_calls;  // cuBLAS calls, each made with its handle's context current
} ultra_fake_counters;

#endif
