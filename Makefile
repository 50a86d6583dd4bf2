# ultra — see README.md. Every entry point installs or names what it needs.
GO          ?= go
BIN         ?= bin/ultra
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
# Packages whose concurrency the race detector checks in `make test`.
RACE_PKGS   ?= ./engine/... ./mujoco/...

.PHONY: all deps build test race lint bench demo clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/ultra

## test: every unit and integration test, then the race detector on the concurrent packages.
test: deps
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

race: deps
	$(GO) test -count=1 -race -timeout 30m ./...

## lint: gofmt, go vet and staticcheck (pinned) must all be clean.
lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: Go micro-benchmarks and the env benchmark against a plain C MuJoCo loop.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN) bench env --env hopper --envs 1
	$(BIN) bench env --env hopper --envs 8

## demo: the main job. For now: baseline policies on every task, then the env benchmark.
demo: build
	$(BIN) envs
	$(BIN) eval --env hopper --policy zero --episodes 5 --seed 1
	$(BIN) eval --env hopper --policy random --episodes 5 --seed 1
	$(BIN) eval --env halfcheetah --policy random --episodes 2 --seed 1
	$(BIN) bench env --env hopper --envs 8 --steps 20000

clean:
	rm -rf bin
