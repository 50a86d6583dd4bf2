package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// envScaling is the environment-scaling benchmark, run when it exists.
const envScaling = "bench/env-scaling.sh"

// checks returns the checks in the order they run: the build everything
// else needs, then the cheapest and most telling, the benchmark last. On
// the emulator (gpu false) the tests run on the CPU emulator of the driver
// and what needs a real GPU is skipped.
func checks(gpu bool, benchRounds int) []check {
	goTest := func(pkg, run string) []string {
		return []string{"go", "test", "-tags", "ultracuda", "-count=1", "-v", "-run", run, pkg}
	}
	var onGPU []string
	if gpu {
		onGPU = []string{"ULTRA_TEST_GPU=1"}
	}
	cs := []check{{
		name:  "build",
		what:  "compile the tests of ./cuda/, ./engine/nn/, ./engine/ppo/, ./cmd/ultra/ and bin/ultra-cuda (tag ultracuda)",
		limit: 240 * time.Second,
		cmd: []string{"bash", "-c", "go test -tags ultracuda -count=1 -run '^$' ./cuda/ ./engine/nn/ ./engine/ppo/ ./cmd/ultra/ && " +
			"go build -tags ultracuda -o bin/ultra-cuda ./cmd/ultra"},
	}, {
		name:  "device",
		what:  "bin/ultra-cuda opens GPU 0 (driver, cuBLAS, the embedded kernels) and times one PPO update",
		limit: 60 * time.Second,
		cmd:   []string{"bin/ultra-cuda", "bench", "update", "--device", "cuda", "--epochs", "1", "--rounds", "1"},
		figures: scan(rule{`^PPO update, \S+ on (.*): \d+×.*: ([\d.]+) s/update, (\d+) samples/s`,
			both(str("device", 1), num("update_seconds", 2), num("samples_per_second", 3)), last}),
	}, {
		name:    "prototypes",
		what:    "ucuda.h's prototypes against the installed cuda.h and cublas_api.h",
		limit:   60 * time.Second,
		cmd:     goTest("./cuda/", "^TestPrototypes$"),
		figures: scan(rule{`prototypes match the headers in (\S+)`, str("headers", 1), last}),
	}, {
		name:    "kernels",
		what:    "./cuda/'s tests: kernels, sgemm, reductions, im2col, the allocator, faults",
		limit:   120 * time.Second,
		cmd:     goTest("./cuda/", "."),
		env:     onGPU,
		figures: scan(rule{`^(ok|FAIL)\s`, nil, last}),
	}, {
		name:  "agreement",
		what:  "the CUDA backend against native (MLP) and gorgonia (CNN): forward, every gradient, 20 Adam steps",
		limit: 120 * time.Second,
		cmd:   goTest("./engine/nn/", "TestCUDAInit|TestCUDAMatchesNative|TestCUDATraining|TestCUDACNN|TestCUDAKernels|TestCUDAHostMirrors"),
		env:   onGPU,
		figures: scan(
			rule{`worst \|diff\|/max\|x\| = (\S+)`, worst("mlp_forward_gradients_worst"), none},
			rule{`after 20 steps: worst param \|diff\|/max = ([^,\s]+), worst norm rel diff (\S+)`,
				both(worst("mlp_adam20_params_worst"), worstOf("mlp_adam20_grad_norm_worst", 2)), none},
			rule{`after 20 steps: worst param \|diff\|/max = ([^,\s]+)$`, worst("cnn_adam20_params_worst"), none},
			rule{`gradients: worst \|diff\|/max = (\S+)`, worst("cnn_gradients_worst"), none},
			rule{`\}: worst (\S+)`, worst("kernels_gradients_worst"), none},
		),
	}, {
		name:  "hopper",
		what:  "hopper trained on the CPU and on the CUDA backend side by side (20 iterations on a GPU, 5 on the emulator)",
		limit: 150 * time.Second,
		cmd:   goTest("./engine/ppo/", "^TestCUDATracksCPU$"),
		env:   onGPU,
		figures: scan(
			rule{`iteration +1: .*worst rel diff (\S+)`, num("first_iteration_rel_diff", 1), last},
			rule{`worst relative difference over (\d+) iterations: ([^;\s]+); return of the last 10 episodes (\S+) \(cpu\), (\S+) \(cuda\)`,
				both(num("iterations", 1), num("worst_rel_diff", 2), num("return_cpu", 3), num("return_cuda", 4)), last},
		),
	}, {
		name:  "render",
		what:  "MuJoCo's renderer through EGL (MUJOCO_GL=egl: on the GPU with NVIDIA's EGL) against OSMesa: the same images, ms per 480×480 hopper frame each",
		limit: 120 * time.Second,
		cmd: []string{"bash", "-c", "MUJOCO_GL=egl go test -tags render -count=1 -v -run '^TestRendererEGL$' ./mujoco/ && " +
			"for gl in egl osmesa; do echo \"== render: $gl\"; MUJOCO_GL=$gl go test -tags render -count=1 -run '^$' -bench 'Render$' -benchtime 40x ./mujoco/tasks/ || exit 1; done"},
		figures: renderFigures,
	}, {
		name:    "env-scaling",
		what:    "environment steps/s as the number of envs grows (bash " + envScaling + ")",
		limit:   120 * time.Second,
		cmd:     []string{"bash", envScaling},
		figures: scan(rule{`([\d.]+) +steps/s`, list("steps_per_second", 1), all}),
	}, {
		name:    "bench",
		what:    "bench/gpu.sh: PPO update against PyTorch eager on this GPU, pong-pixels end to end",
		limit:   300 * time.Second,
		cmd:     []string{"bash", "bench/gpu.sh", strconv.Itoa(benchRounds)},
		figures: benchFigures,
	}}
	byName := func(name string) *check {
		for i := range cs {
			if cs[i].name == name {
				return &cs[i]
			}
		}
		panic("gpucheck: no check " + name)
	}
	if _, err := os.Stat(envScaling); err != nil {
		byName("env-scaling").skip = envScaling + " not present"
	}
	if _, err := os.Stat(osmesaHeader); err != nil {
		byName("render").skip = "no " + osmesaHeader + ": the render build links OSMesa (Debian/Ubuntu: libosmesa6-dev)"
	}
	if !gpu {
		d := byName("device")
		d.what = "the ultra binary trains on the emulated GPU and resumes on the CPU (TestTrainOnEmulatedGPU)"
		d.cmd, d.figures = goTest("./cmd/ultra/", "^TestTrainOnEmulatedGPU$"), nil
		byName("bench").skip = "emulator mode: bench/gpu.sh needs a GPU and python3 with CUDA-enabled PyTorch"
	}
	return cs
}

// osmesaHeader is what the render build needs besides MuJoCo.
const osmesaHeader = "/usr/include/GL/osmesa.h"

var (
	renderSection = regexp.MustCompile(`^== render: (\S+)`)
	renderEGL     = regexp.MustCompile(`; (EGL device [^;]*); mean \|EGL-OSMesa\| ([\d.]+)`)
	renderFrame   = regexp.MustCompile(`^BenchmarkRender/hopper-(\d+)x\d+\S*\s+\d+\s+\d+ ns/op\s+([\d.]+) ns/frame\s+([\d.]+) ns/step`)
)

// renderFigures reads the render check's log: the EGL device and OpenGL
// renderer, how far its image is from OSMesa's, and ms per frame for each
// backend and size.
func renderFigures(log string) (map[string]any, []string) {
	f := map[string]any{}
	var kept []string
	gl := ""
	for _, line := range lines(log) {
		line = strings.TrimSpace(line)
		var hit bool
		if m := renderSection.FindStringSubmatch(line); m != nil {
			gl = m[1]
		} else if m := renderEGL.FindStringSubmatch(line); m != nil {
			f["egl_renderer"], hit = m[1], true
			num("egl_vs_osmesa_mean_abs_diff", 2)(f, m)
		} else if m := renderFrame.FindStringSubmatch(line); m != nil && gl != "" {
			if x, ok := parseNum(m[2]); ok {
				f[gl+"_"+m[1]+"_ms_per_frame"] = x / 1e6
			}
			hit = true
		}
		if hit && len(kept) < maxLines {
			kept = append(kept, clip(trimFileLine(line), 200))
		}
	}
	return f, kept
}

// A rule picks figures out of the log lines its regular expression matches
// (set may be nil when the line alone is the record) and keeps the last of
// them for the summary, or with all set every one up to maxLines; a rule
// whose figure is the worst over many lines sets none.
type rule struct {
	re   string
	set  func(f map[string]any, m []string)
	keep keep
}

type keep int

const (
	last keep = iota
	none
	all
)

const maxLines = 12 // log lines kept per rule in the summary

// scan returns a figures function applying the rules to every line.
func scan(rules ...rule) func(string) (map[string]any, []string) {
	res := make([]*regexp.Regexp, len(rules))
	for i, r := range rules {
		res[i] = regexp.MustCompile(r.re)
	}
	return func(log string) (map[string]any, []string) {
		f := map[string]any{}
		kept := make([][]string, len(rules))
		for _, line := range lines(log) {
			for i, re := range res {
				m := re.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				if rules[i].set != nil {
					rules[i].set(f, m)
				}
				l := clip(trimFileLine(line), 200)
				switch rules[i].keep {
				case last:
					kept[i] = []string{l}
				case all:
					if len(kept[i]) < maxLines {
						kept[i] = append(kept[i], l)
					}
				}
			}
		}
		var out []string
		for _, k := range kept {
			out = append(out, k...)
		}
		return f, out
	}
}

func parseNum(s string) (float64, bool) {
	x, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	return x, err == nil
}

func num(key string, group int) func(map[string]any, []string) {
	return func(f map[string]any, m []string) {
		if x, ok := parseNum(m[group]); ok {
			f[key] = x
		}
	}
}

func str(key string, group int) func(map[string]any, []string) {
	return func(f map[string]any, m []string) { f[key] = m[group] }
}

func worst(key string) func(map[string]any, []string) { return worstOf(key, 1) }

// worstOf keeps the largest value of the group over every matching line.
func worstOf(key string, group int) func(map[string]any, []string) {
	return func(f map[string]any, m []string) {
		if x, ok := parseNum(m[group]); ok {
			if old, seen := f[key].(float64); !seen || x > old {
				f[key] = x
			}
		}
	}
}

func list(key string, group int) func(map[string]any, []string) {
	return func(f map[string]any, m []string) {
		if x, ok := parseNum(m[group]); ok {
			l, _ := f[key].([]float64)
			f[key] = append(l, x)
		}
	}
}

func both(sets ...func(map[string]any, []string)) func(map[string]any, []string) {
	return func(f map[string]any, m []string) {
		for _, s := range sets {
			s(f, m)
		}
	}
}

var (
	benchSection = regexp.MustCompile(`^== update: (\S+)`)
	benchImpl    = regexp.MustCompile(`^(\S+) +([\d.]+) +([\d.]+)x$`)
	benchGPU     = regexp.MustCompile(`^GPU: (.*)`)
	benchPong    = regexp.MustCompile(`^pong-pixels, +(\d+) envs: +([\d.]+) steps/s`)
)

// benchFigures reads bench/gpu.sh's output: bench/ratios.py's table per
// workload (each implementation's samples/s and its ratio to PyTorch eager)
// and pong-pixels' steps/s per number of envs.
func benchFigures(log string) (map[string]any, []string) {
	f := map[string]any{}
	var kept []string
	section := ""
	for _, line := range lines(log) {
		var hit bool
		if m := benchSection.FindStringSubmatch(line); m != nil {
			section, hit = m[1], true
		} else if m := benchGPU.FindStringSubmatch(line); m != nil {
			f["gpu"], hit = m[1], true
		} else if m := benchImpl.FindStringSubmatch(line); m != nil && section != "" {
			side := "ultra"
			if strings.HasPrefix(m[1], "pytorch") {
				side = "pytorch"
			}
			num("update_"+section+"_"+side+"_samples_per_second", 2)(f, m)
			if side == "ultra" {
				num("update_"+section+"_ultra_vs_pytorch", 3)(f, m)
			}
			hit = true
		} else if m := benchPong.FindStringSubmatch(line); m != nil {
			num("pong_pixels_"+m[1]+"_envs_steps_per_second", 2)(f, m)
			hit = true
		}
		if hit && len(kept) < 3*maxLines {
			kept = append(kept, clip(strings.TrimSpace(line), 200))
		}
	}
	return f, kept
}
