# ultra — see README.md. Every entry point installs or names what it needs.
GO          ?= go
BIN         ?= bin/ultra
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
# Packages whose concurrency the race detector checks in `make test`.
RACE_PKGS   ?= ./engine/... ./mujoco/...

.PHONY: all deps test-deps build test race lint bench demo clean ale-check build-ale test-ale cuda-kernels build-cuda gpu-check fuzz fuzz-corpus build-render test-render render-check

all: build

## deps: what building needs; test-deps: that and what the tests run (promtool).
deps:
	@bash scripts/deps.sh

test-deps:
	@bash scripts/deps.sh test

build: deps
	$(GO) build -o $(BIN) ./cmd/ultra

## test: every unit and integration test; the CUDA backend (build tag ultracuda) vetted, built and
## tested on the CPU emulator of the driver (no GPU or CUDA package needed); the pure-Go matrix
## kernel (build tag noblas) vetted and tested; then the race detector on the concurrent packages.
CUDA_PKGS   ?= ./cuda/... ./engine/nn/ ./engine/ppo/ ./engine/run/ ./cmd/ultra/
test: test-deps
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) vet -tags ultracuda ./...
	$(GO) build -tags ultracuda -o /dev/null ./cmd/ultra
	$(GO) test -count=1 -timeout 15m -tags ultracuda $(CUDA_PKGS)
	$(GO) vet -tags noblas ./...
	$(GO) test -count=1 -timeout 15m -tags noblas ./bindings/blas/ ./engine/nn/
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)
	@if $(HAVE_OSMESA); then $(MAKE) --no-print-directory test-render; \
	else echo "test: no OSMesa (sudo apt-get install libosmesa6-dev): the offscreen renderer's tests (build tag render) were not run"; fi

## build-render / test-render: the binary and the tests with MuJoCo's offscreen renderer (build tag
## render: `ultra video`), which links OSMesa (Debian: libosmesa6-dev, installed by make deps as root).
## `make test` runs test-render when OSMesa is installed and says so when it is not.
# A shell test, run when a recipe runs (after `deps` may have installed OSMesa).
HAVE_OSMESA  = printf '\043include <GL/osmesa.h>\n' | $${CC:-cc} -E -x c - >/dev/null 2>&1
RENDER_PKGS ?= ./mujoco/ ./mujoco/tasks/ ./engine/pong/ ./engine/video/ ./engine/gallery/
render-check:
	@$(HAVE_OSMESA) || { echo "OSMesa is not installed: run  sudo apt-get install libosmesa6-dev  (or make deps as root)"; exit 1; }

build-render: deps render-check
	$(GO) build -tags render -o $(BIN) ./cmd/ultra

test-render: render-check
	$(GO) vet -tags render $(RENDER_PKGS) ./cmd/ultra/ ./engine/experiment/
	$(GO) test -count=1 -timeout 15m -tags render $(RENDER_PKGS)
	$(GO) test -count=1 -timeout 15m -tags render -run 'Video' ./cmd/ultra/
	$(GO) test -count=1 -timeout 15m -tags render -run 'Seeing' ./engine/experiment/

race: test-deps
	$(GO) test -count=1 -race -timeout 30m ./...

## lint: gofmt, go vet and staticcheck (pinned) must all be clean.
lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) vet -tags ultracuda ./...
	$(GO) run $(STATICCHECK) -tags ultracuda ./...
	@if $(HAVE_OSMESA); then echo "vet + staticcheck with -tags render"; \
		$(GO) vet -tags render ./... && $(GO) run $(STATICCHECK) -tags render ./...; \
	else echo "lint: no OSMesa: the files behind the render tag were not vetted"; fi
	@if [ -f $(ALE_PREFIX)/include/ale/ale_interface.hpp ]; then \
		echo "vet + staticcheck with -tags ale"; \
		$(ALE_ENV) $(GO) vet -tags ale ./bindings/ale/ ./cmd/ultra/ && $(ALE_ENV) $(GO) run $(STATICCHECK) -tags ale ./bindings/ale/ ./cmd/ultra/; \
	else echo "lint: no ALE under $(ALE_PREFIX): the files behind the ale tag were not vetted"; fi

## bench: Go micro-benchmarks, the env benchmark against a plain C MuJoCo loop, and the env's
## scaling over workers × envs per worker (bench/env-scaling.sh) and the ceiling the step barrier puts on
## it (bench/stepcosts).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN) bench env --env hopper --envs 1
	$(BIN) bench env --env hopper --envs 8
	ULTRA_BIN=$(BIN) bash bench/env-scaling.sh
	$(GO) run ./bench/stepcosts

## demo: the main job — a quick ULTRA experiment on hopper: pretrain a sub-optimal PPO agent,
## annotate its episodes (scripted advisor, or the LLM when ULTRA_LLM_URL/ULTRA_LLM_MODEL are set),
## refine every variant × 2 seeds, evaluate, and print the results table. Rerunning resumes.
DEMO_OUT ?= runs/demo
demo: build
	$(BIN) experiment --env hopper --out $(DEMO_OUT) --pretrain-steps 100000 --collect-episodes 16 \
		--variants ppo,ultra-a,ultra-r,ultra-ra,random,rice --seeds 2 --refine-steps 100000 --eval-episodes 5

## build-ale / test-ale: the binary and the tests with the ALE binding (build tag `ale`). They need
## ALE's C++ library under ALE_PREFIX: scripts/install-ale.sh --prefix $(ALE_PREFIX) builds it.
ALE_PREFIX ?= /usr/local
ALE_ENV     = CGO_CPPFLAGS="-I$(ALE_PREFIX)/include" CGO_LDFLAGS="-L$(ALE_PREFIX)/lib"
ale-check:
	@test -f $(ALE_PREFIX)/include/ale/ale_interface.hpp || { echo "ALE is not installed under $(ALE_PREFIX): run  scripts/install-ale.sh --prefix $(ALE_PREFIX)  (or set ALE_PREFIX)"; exit 1; }

build-ale: deps ale-check
	$(ALE_ENV) $(GO) build -tags ale -o $(BIN) ./cmd/ultra

test-ale: deps ale-check
	ULTRA_ALE_ROMS="$${ULTRA_ALE_ROMS:-$(ALE_PREFIX)/share/ultra/roms}" $(ALE_ENV) $(GO) test -count=1 -tags ale ./bindings/ale/ ./cmd/ultra/
	ULTRA_ALE_ROMS="$${ULTRA_ALE_ROMS:-$(ALE_PREFIX)/share/ultra/roms}" $(ALE_ENV) $(GO) test -count=1 -race -tags ale ./bindings/ale/

## cuda-kernels: recompile cuda/kernels/*.cu into the committed fatbin (SASS for sm_80 and sm_90,
## compute_90 PTX for newer GPUs) and record the sources' SHA-256 next to it. Needs nvcc (on Debian 12:
## sudo bash scripts/install-cuda-toolkit.sh); nvcc 11.8 uses its own gcc-11 wrapper as host compiler.
NVCC            ?= nvcc
CUDA_GENCODE    ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CUDA_NVCC_FLAGS ?= -fatbin -O3 -std=c++14 -Xfatbin=-compress-all
cuda-kernels:
	@command -v $(NVCC) >/dev/null 2>&1 || { echo "cuda-kernels: nvcc not found; on Debian 12 run  sudo bash scripts/install-cuda-toolkit.sh  (or install NVIDIA's CUDA toolkit)"; exit 1; }
	cd cuda/kernels && $(NVCC) $(CUDA_NVCC_FLAGS) $(CUDA_GENCODE) -o ultra.fatbin kernels.cu
	cd cuda/kernels && { sha256sum kernels.cu ops.cuh; echo "# nvcc $$($(NVCC) --version | grep -o 'release .*')"; echo "# $(NVCC) $(CUDA_NVCC_FLAGS) $(CUDA_GENCODE)"; } > ultra.fatbin.sha256

## build-cuda: the binary with the CUDA backend. Needs no CUDA package: the driver and cuBLAS are
## loaded at run time, and the kernels are embedded.
build-cuda: deps
	$(GO) build -tags ultracuda -o $(BIN) ./cmd/ultra

## cuda-asan: the cuda tests and engine/nn's CUDA tests with AddressSanitizer: the CPU emulator of
## the driver built with -fsanitize=address (every access of an emulated kernel, copy or sgemm to
## device memory checked against the allocation's exact size) and go test -asan. Not part of make
## test: it rebuilds the standard library with -asan; 167 s on 2 shared cores with the module cache warm.
.PHONY: cuda-asan
cuda-asan:
	ULTRA_CUDATEST_CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer" ASAN_OPTIONS=detect_leaks=0 \
		$(GO) test -asan -count=1 -tags ultracuda ./cuda/... && \
	ULTRA_CUDATEST_CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer" ASAN_OPTIONS=detect_leaks=0 \
		$(GO) test -asan -count=1 -tags ultracuda -run 'CUDA|TransfersPerStep' ./engine/nn/

## gpu-check: on a machine with an NVIDIA GPU, every GPU check in one call (scripts/gpu-check.sh,
## scripts/gpucheck), each under its own time limit within GPU_CHECK_BUDGET (420 s): the build, the
## device, prototypes against the installed CUDA headers, the kernels and the agreement tests on the
## GPU, a 20-iteration hopper run against the CPU, bench/env-scaling.sh if present, bench/gpu.sh.
## Prints one JSON summary and writes it with every log into GPU_CHECK_OUT (default: a temp dir).
## GPU_CHECK_EMULATOR=1 rehearses it on the CPU emulator of the driver (chosen when no GPU is found).
gpu-check:
	@bash scripts/gpu-check.sh

## fuzz: each fuzz target of a parser of outside data for FUZZTIME (default 1m). `make test` replays
## their seeds and testdata/fuzz corpora (plain go test); new failures land in testdata/fuzz/.
## Minimisation is capped: the seeds are real files of kilobytes, and the default 60 s minimisation of
## every new input stalls the run.
FUZZTIME    ?= 1m
FUZZ_TARGETS = ./engine/experiment/:FuzzLoadPlan ./engine/advisor/llm/:FuzzImportBatch ./engine/ppo/:FuzzDecodeCheckpoint ./engine/ultra/:FuzzTrajectoriesJSONL ./engine/ultra/:FuzzAnnotationsJSONL \
	./engine/advisor/llm/:FuzzParseAnswer ./internal/configflags/:FuzzDecode ./engine/env/:FuzzPoolUnmarshalBinary ./mujoco/:FuzzRestore \
	./engine/ultra/:FuzzRestoreState
fuzz: deps
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg; done

## fuzz-corpus: regenerate the real-file seeds (a run's checkpoint and config, a trajectory, annotations).
fuzz-corpus: deps
	bash scripts/fuzz-corpus.sh

clean:
	rm -rf bin
