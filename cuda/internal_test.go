//go:build ultracuda

package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestKernelNamesMatchList checks that the Go launchers name exactly the
// kernels of kernels/list.h, in its order (the emulator's launch table is
// built from the list, so a kernel missing from either side fails here).
func TestKernelNamesMatchList(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("kernels", "list.h"))
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, m := range regexp.MustCompile(`X\((\w+)\)`).FindAllStringSubmatch(string(b), -1) {
		list = append(list, m[1])
	}
	if len(list) != numKernels {
		t.Fatalf("list.h names %d kernels, cuda/kernels.go %d", len(list), numKernels)
	}
	for i, name := range list {
		if kernelNames[i] != name {
			t.Errorf("kernel %d: list.h %s, kernels.go %s", i, name, kernelNames[i])
		}
	}
	src, err := os.ReadFile(filepath.Join("kernels", "kernels.cu"))
	if err != nil {
		t.Fatal(err)
	}
	defined := regexp.MustCompile(`extern "C" __global__ void (\w+)\(`).FindAllStringSubmatch(string(src), -1)
	if len(defined) != numKernels {
		t.Errorf("kernels.cu defines %d kernels, list.h names %d", len(defined), numKernels)
	}
	for i, m := range defined {
		if i < len(list) && m[1] != list[i] {
			t.Errorf("kernels.cu kernel %d is %s, list.h says %s", i, m[1], list[i])
		}
	}
}

func TestSizeClass(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, 256}, {256, 256}, {257, 320}, {320, 320}, {321, 384}, {512, 512}, {513, 640},
		{1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18}, {100 << 20, 112 << 20},
	} {
		if got := sizeClass(tc.n); got != tc.want || got < tc.n || float64(got) > 1.25*float64(tc.n)+256 {
			t.Errorf("sizeClass(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestArgBufAlignment(t *testing.T) {
	var a argBuf
	a.reset().i32(1).ptr(2).f32(3).f64(4).i32(5).i64(6)
	// int at 0, pointer at 8, float at 16, double at 24, int at 32, long long at 40.
	if a.n != 48 {
		t.Errorf("packed size %d, want 48 (C layout of int, ptr, float, double, int, long long)", a.n)
	}
}

// TestNoInit guards the rule that importing the package does nothing: no
// init function (gorgonia.org/cu's calls cuInit and exits the process on
// machines without a GPU).
func TestNoInit(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^func init\(`).Match(b) {
			t.Errorf("%s declares an init function; the package must not run code at import", f)
		}
	}
}

// TestLayoutMatchesKernels checks the layout constants the Go side shares
// with the kernels against their one source: the enums of kernels/ops.cuh,
// and the stride and column order of the per-sample scalars in
// kernels.cu's ultra_ppo_loss (which ppo_sample's parameter names give).
// An enum or a column changed in the kernels without the Go side fails
// here.
func TestLayoutMatchesKernels(t *testing.T) {
	header, err := os.ReadFile(filepath.Join("kernels", "ops.cuh"))
	if err != nil {
		t.Fatal(err)
	}
	enums, err := parseEnums(string(header))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  int
	}{
		{"ACT_NONE", int(ActNone)}, {"ACT_TANH", int(ActTanh)}, {"ACT_RELU", int(ActReLU)},
		{"ST_N", StatsPerSample},
		{"LS_LOSS", LossTotal}, {"LS_PG", LossPolicy}, {"LS_VLOSS", LossValue}, {"LS_ENT", LossEntropy},
		{"LS_KL", LossKL}, {"LS_CLIPFRAC", LossClipFrac}, {"LS_N", NumLossStats},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := enums[tc.name]
			if !ok {
				t.Fatalf("kernels/ops.cuh has no enumerator %s", tc.name)
			}
			if tc.got != want {
				t.Errorf("kernels/ops.cuh: %s = %d, the Go side has %d: update cuda/kernels.go", tc.name, want, tc.got)
			}
		})
	}
	if slotStats+StatsPerSample > scalarSlots || slotLossOut+NumLossStats > slotStats || slotAdvSq >= slotLossOut {
		t.Errorf("scalar slots overlap or overflow: loss out %d+%d, stats %d+%d, %d slots", slotLossOut, NumLossStats,
			slotStats, StatsPerSample, scalarSlots)
	}

	// The scalars: ultra_ppo_loss reads row i at scal + i * stride and
	// passes its columns to ppo_sample, whose parameters name them.
	src, err := os.ReadFile(filepath.Join("kernels", "kernels.cu"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const float\* s = scal \+ i \* (\d+);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("kernels.cu: ultra_ppo_loss's scalar row (const float* s = scal + i * N;) not found: update this test")
	}
	if stride, _ := strconv.Atoi(string(m[1])); stride != ScalarsPerSample {
		t.Errorf("kernels.cu: ultra_ppo_loss reads %d scalars per sample, ScalarsPerSample is %d", stride, ScalarsPerSample)
	}
	params := callArgs(string(header), "UD void ppo_sample(")
	args := callArgs(string(src), "ppo_sample(")
	if len(params) == 0 || len(params) != len(args) {
		t.Fatalf("ppo_sample: %d parameters in ops.cuh, %d arguments in kernels.cu", len(params), len(args))
	}
	for _, col := range []struct {
		param string
		got   int
	}{{"logp_old", ScalarOldLogProb}, {"adv_f", ScalarAdvantage}, {"ret_f", ScalarReturn}, {"v_old", ScalarOldValue}} {
		i := slices.IndexFunc(params, func(p string) bool { return strings.HasSuffix(p, " "+col.param) })
		if i < 0 {
			t.Errorf("ops.cuh: ppo_sample has no parameter %s", col.param)
			continue
		}
		if want := fmt.Sprintf("s[%d]", col.got); args[i] != want {
			t.Errorf("kernels.cu passes %s as ppo_sample's %s, the Go side puts it in column %d", args[i], col.param, col.got)
		}
	}
}

// parseEnums returns the value of every enumerator of the C enums in src
// (enumerators without "= value" count on from the previous one).
func parseEnums(src string) (map[string]int, error) {
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`enum\s*\{([^}]*)\}`).FindAllStringSubmatch(src, -1) {
		next := 0
		for _, e := range strings.Split(m[1], ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(e), "=")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if hasVal {
				v, err := strconv.Atoi(strings.TrimSpace(val))
				if err != nil {
					return nil, fmt.Errorf("enumerator %s: %w", name, err)
				}
				next = v
			}
			out[name] = next
			next++
		}
	}
	return out, nil
}

// callArgs returns the comma-separated, trimmed items between the
// parenthesis that ends prefix's first occurrence in src and its match
// (none of ultra's kernels nests parentheses there).
func callArgs(src, prefix string) []string {
	i := strings.Index(src, prefix)
	if i < 0 {
		return nil
	}
	rest := src[i+len(prefix):]
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return nil
	}
	var out []string
	for _, a := range strings.Split(rest[:end], ",") {
		out = append(out, strings.Join(strings.Fields(a), " "))
	}
	return out
}
