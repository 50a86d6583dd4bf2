#!/usr/bin/env bash
# bench/before-after.sh — this tree against an earlier commit, in one run, so
# that every figure is a ratio taken at the same time on the same machine:
#
#   [HOPPER_SEEDS=... PLACEBO_SEEDS=... COMPARE_SEEDS=...] bash bench/before-after.sh REF [ROUNDS [SECTIONS]]
#
# e.g. bash bench/before-after.sh f4f740e, or bash bench/before-after.sh f4f740e 5 1
# for section 1 alone with 5 rounds (SECTIONS: any of 1234, default all):
#
# 1. The MLP PPO update (`ultra bench update --backend native`) of both
#    builds and PyTorch eager (1 and 2 threads), interleaved rounds.
# 2. `ultra train --env pong-pixels --steps 4096` (ppo_atari defaults): the
#    steps per second of each build, one after the other.
# 3. A 1M-step hopper run (seeds 1 and 2) of each build, the two builds side
#    by side on the two cores: wall time and final return.
# 4. Where the native update's time goes now (`-cpuprofile`, top functions).
#
# Needs Debian's python3-torch (run with /usr/bin/python3). Writes to
# runs/before-after/.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:?usage: bash bench/before-after.sh REF [ROUNDS [SECTIONS]]}
rounds=${2:-3}
sections=${3:-1234}
case $sections in *[!1-4]* | '') echo "bench/before-after.sh: SECTIONS is '$sections', want digits 1-4 (e.g. 13)" >&2; exit 2 ;; esac
want() { [[ $sections == *$1* ]]; }
py=${PYTHON:-/usr/bin/python3}
out=runs/before-after
mkdir -p "$out" bin
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$wt" "$ref" >/dev/null
(cd "$wt" && go build -o "$OLDPWD/bin/ultra-before" ./cmd/ultra)
go build -o bin/ultra ./cmd/ultra
before=bin/ultra-before after=bin/ultra
echo "before: $(git rev-parse --short "$ref"); after: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes')"

if want 1; then
echo "== 1. MLP PPO update (10 epochs x 32 minibatches of 64, 64-64 tanh), median of $rounds rounds"
: >"$out/update.jsonl"
for r in $(seq "$rounds"); do
  "$before" bench update --backend native --rounds 3 --json | sed 's/"impl": *"[^"]*"/"impl": "native-before"/' >>"$out/update.jsonl"
  "$after" bench update --backend native --rounds 3 --json | sed 's/"impl": *"[^"]*"/"impl": "native-after"/' >>"$out/update.jsonl"
  "$py" bench/ppo_update_torch.py --rounds 3 >>"$out/update.jsonl"
  "$py" bench/ppo_update_torch.py --rounds 3 --threads 2 | sed 's/pytorch-eager/pytorch-eager-2threads/' >>"$out/update.jsonl"
done
python3 bench/ratios.py "$out/update.jsonl" pytorch-eager
python3 bench/ratios.py "$out/update.jsonl" native-before | tail -n +2

fi

if want 2; then
echo "== 2. ultra train --env pong-pixels --steps 4096 (8 envs x 128 steps, 4 epochs)"
for b in before after; do
  bin=$before; [ $b = after ] && bin=$after
  rm -rf "$out/pong-pixels-$b"
  t0=$(date +%s.%N)
  "$bin" train --env pong-pixels --steps 4096 --out "$out/pong-pixels-$b" --metrics-addr '' --progress log >"$out/pong-pixels-$b.log" 2>&1
  t1=$(date +%s.%N)
  python3 -c "import sys; print(f'$b: {4096/($t1-$t0):.1f} steps/s end to end ({$t1-$t0:.1f} s)')"
done

fi

if want 3; then
# HOPPER_SEEDS: the seeds both builds run in section 3 (default "1 2").
# PLACEBO_SEEDS: seeds the before build runs once more, a placebo group: two
# sets of seeds of the same build, which shows how far noise alone moves
# the comparison. COMPARE_SEEDS: the seeds compared (default HOPPER_SEEDS),
# so finished runs can be compared again without rerunning them. The
# comparison is go run ./bench/seedcompare: ultra's report statistics,
# nothing compared below 5 seeds.
seeds=${HOPPER_SEEDS-1 2}
placebo=${PLACEBO_SEEDS:-}
compare=${COMPARE_SEEDS:-$seeds}
echo "== 3. hopper, 1M steps, the two builds side by side (seeds: ${seeds:-none}; placebo seeds: ${placebo:-none})"
train() { # build seed [dir name]
  local bin=$before; [ "$1" = after ] && bin=$after
  local dir="$out/hopper-${3:-$1}-s$2"
  rm -rf "$dir"
  local t0=$(date +%s)
  "$bin" train --env hopper --seed "$2" --steps 1000000 --out "$dir" --progress log --checkpoint-every 50 --metrics-addr '' >"$dir.log" 2>&1
  echo $(( $(date +%s) - t0 )) >"$dir.wall"
}
for s in $seeds; do
  train before "$s" & a=$!
  train after "$s" & b=$!
  wait "$a"
  wait "$b"
done
set -- $placebo
while [ $# -gt 0 ]; do
  train before "$1" placebo & a=$!
  b=
  if [ $# -gt 1 ]; then train before "$2" placebo & b=$!; fi
  wait "$a"
  [ -z "$b" ] || wait "$b"
  shift $(( $# > 1 ? 2 : 1 ))
done
for b in before after placebo; do
  for s in $compare $placebo; do
    if [ -f "$out/hopper-$b-s$s.wall" ]; then echo "hopper seed $s $b: wall $(cat "$out/hopper-$b-s$s.wall") s"; fi
  done
done
groups=()
for b in before after; do
  groups+=("$b=$(for s in $compare; do printf '%s,' "$out/hopper-$b-s$s"; done | sed 's/,$//')")
done
[ -n "$placebo" ] && groups+=("placebo=$(for s in $placebo; do printf '%s,' "$out/hopper-placebo-s$s"; done | sed 's/,$//')")
go run ./bench/seedcompare "${groups[@]}"

fi

if want 4; then
echo "== 4. where the native update's time goes"
go test -run '^$' -bench 'PPOUpdateNative$' -benchtime 800x -cpuprofile "$out/update.prof" -o bin/nn.test ./engine/nn | grep -E 'Benchmark|samples'
go tool pprof -top -cum -nodecount 40 bin/nn.test "$out/update.prof" 2>/dev/null | grep -E "flat%|cgocall|blas\.[A-Z]|nn\.\(\*nativeBackend\)|nn\.linear|math\."
fi
