// Command gpucheck runs every GPU check of the CUDA backend in one call
// (make gpu-check, scripts/gpu-check.sh), for a machine lent for minutes:
// each check under its own time limit inside one total budget, cheapest and
// most important first, the benchmark last; it prints one JSON summary at
// the end and writes it, with every check's log, into one directory.
//
//	make gpu-check     (scripts/gpu-check.sh builds bin/gpucheck and runs it from the repository's root)
//
// It reads:
//
//	GPU_CHECK_OUT=DIR          where summary.json and the logs go (default: a new temporary directory)
//	GPU_CHECK_EMULATOR=1       run the GPU checks on the CPU emulator of the driver (cuda/cudatest);
//	                           0 insists on a GPU; unset: the emulator when nvidia-smi lists no GPU
//	GPU_CHECK_BUDGET=SECONDS   the total budget (default 420)
//	GPU_CHECK_BENCH_ROUNDS=N   rounds of bench/gpu.sh (default 2)
//
// The exit status is 1 when a check failed, 2 when the checks could not start.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A check is one command whose exit status passes or fails it, and whose log
// holds the figures it measured.
type check struct {
	name    string        // short and stable: the key in the summary and the log's name
	what    string        // what it checks, one line
	limit   time.Duration // its own cap; what is left of the budget may lower it
	cmd     []string      // run from the repository's root
	env     []string      // added to the environment
	skip    string        // when not empty, the check is not run and reports this reason
	figures func(log string) (map[string]any, []string)
}

// Result is one check's entry in the summary.
type Result struct {
	Name         string         `json:"name"`
	What         string         `json:"what"`
	Status       string         `json:"status"`           // pass, fail or skip
	Reason       string         `json:"reason,omitempty"` // why it failed or was skipped
	Seconds      float64        `json:"seconds"`
	LimitSeconds float64        `json:"limit_seconds,omitempty"`
	Command      string         `json:"command,omitempty"`
	Log          string         `json:"log,omitempty"` // relative to the summary's directory
	Figures      map[string]any `json:"figures,omitempty"`
	Lines        []string       `json:"lines,omitempty"` // the log lines the figures come from
}

// Summary is what gpucheck prints and writes to summary.json.
type Summary struct {
	Mode          string   `json:"mode"` // gpu or emulator
	ModeReason    string   `json:"mode_reason"`
	GPU           string   `json:"gpu,omitempty"` // nvidia-smi: name, driver, memory, compute capability
	Commit        string   `json:"commit"`
	Go            string   `json:"go"`
	Started       string   `json:"started"`
	BudgetSeconds float64  `json:"budget_seconds"`
	Seconds       float64  `json:"seconds"`
	Passed        int      `json:"passed"`
	Failed        int      `json:"failed"`
	Skipped       int      `json:"skipped"`
	Out           string   `json:"out"`
	Checks        []Result `json:"checks"`
}

// runner runs checks one after another within a budget.
type runner struct {
	out      string
	budget   time.Duration
	grace    time.Duration // between SIGQUIT (a Go program prints its goroutines) and SIGKILL
	progress io.Writer
	stop     chan os.Signal // SIGINT or SIGTERM: stop the running check, skip the rest, write the summary
	stopped  os.Signal
}

const minLimit = 10 * time.Second // a check is not started with less left than this

func main() {
	s, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpu-check:", err)
		os.Exit(2)
	}
	r := runner{out: s.Out, budget: time.Duration(s.BudgetSeconds * float64(time.Second)), grace: 5 * time.Second,
		progress: os.Stderr, stop: make(chan os.Signal, 1)}
	// The checks run in their own process groups, out of reach of a terminal's ^C: gpucheck
	// stops them itself, and still writes the summary.
	signal.Notify(r.stop, os.Interrupt, syscall.SIGTERM)
	rounds, err := envInt("GPU_CHECK_BENCH_ROUNDS", 2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpu-check:", err)
		os.Exit(2)
	}
	r.run(s, checks(s.Mode == "gpu", rounds))
	b, err := r.write(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpu-check:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "\ngpu-check: %d passed, %d failed, %d skipped in %.0f s (budget %.0f s); summary and logs in %s\n",
		s.Passed, s.Failed, s.Skipped, s.Seconds, s.BudgetSeconds, s.Out)
	os.Stdout.Write(b)
	if s.Failed > 0 {
		os.Exit(1)
	}
}

// setup reads the environment, picks the mode and makes the output directory.
func setup() (*Summary, error) {
	budget, err := envInt("GPU_CHECK_BUDGET", 420)
	if err != nil {
		return nil, err
	}
	s := &Summary{Started: time.Now().UTC().Format(time.RFC3339), BudgetSeconds: float64(budget), Go: runtime.Version(), Commit: commit()}
	switch v := os.Getenv("GPU_CHECK_EMULATOR"); v {
	case "1":
		s.Mode, s.ModeReason = "emulator", "GPU_CHECK_EMULATOR=1"
	case "0", "":
		gpu, err := nvidiaSMI()
		switch {
		case err == nil:
			s.Mode, s.ModeReason, s.GPU = "gpu", "nvidia-smi lists a GPU", gpu
		case v == "0":
			return nil, fmt.Errorf("GPU_CHECK_EMULATOR=0 but %v; unset it to rehearse on the emulator", err)
		default:
			s.Mode, s.ModeReason = "emulator", err.Error()+": the GPU checks run on the CPU emulator and measure no GPU figure"
		}
	default:
		return nil, fmt.Errorf("GPU_CHECK_EMULATOR=%q: want 1 (emulator), 0 (GPU only) or unset (the emulator when no GPU is found)", v)
	}
	s.Out = os.Getenv("GPU_CHECK_OUT")
	if s.Out == "" {
		if s.Out, err = os.MkdirTemp("", "gpu-check-*"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return nil, fmt.Errorf("GPU_CHECK_OUT: %w", err)
	}
	if s.Out, err = filepath.Abs(s.Out); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "gpu-check: mode %s (%s)%s; budget %d s; summary and logs in %s\n",
		s.Mode, s.ModeReason, prefixed("; ", s.GPU), budget, s.Out)
	return s, nil
}

// nvidiaSMI returns the GPUs nvidia-smi lists, one line each (name, driver,
// memory and compute capability where the driver answers the query), or
// why none.
func nvidiaSMI() (string, error) {
	out, err := exec.Command("nvidia-smi", "-L").Output()
	if err != nil {
		return "", fmt.Errorf("no GPU found (nvidia-smi -L: %v)", err)
	}
	gpus := strings.TrimSpace(string(out))
	if !strings.HasPrefix(gpus, "GPU ") {
		return "", fmt.Errorf("no GPU found (nvidia-smi -L lists none: %q)", clip(gpus, 200))
	}
	if q, err := exec.Command("nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv,noheader").Output(); err == nil {
		gpus = strings.TrimSpace(string(q))
	}
	return strings.ReplaceAll(gpus, "\n", "; "), nil
}

// commit names the checked-out commit, "+dirty" when the tree differs from it.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number", name, v)
	}
	return n, nil
}

// run runs the checks in order into s.Checks. A check that is skipped, or
// that the budget left would cut below minLimit (or its own shorter limit),
// is not run; after a failed build nothing else is.
func (r *runner) run(s *Summary, cs []check) {
	start := time.Now()
	for i, c := range cs {
		res := Result{Name: c.name, What: c.what, Command: shellQuote(c.cmd)}
		left := r.budget - time.Since(start)
		limit := min(c.limit, left)
		switch {
		case c.skip != "":
			res.Status, res.Reason = "skip", c.skip
		case r.stopped != nil:
			res.Status, res.Reason = "skip", "gpu-check was interrupted ("+r.stopped.String()+")"
		case i > 0 && cs[0].name == "build" && s.Checks[0].Status == "fail":
			res.Status, res.Reason = "skip", "the build failed: see "+s.Checks[0].Log
		case limit < min(c.limit, minLimit):
			res.Status, res.Reason = "skip", fmt.Sprintf("budget spent: %.0f s of %.0f s left, under the %.0f s a check needs to start",
				max(left, 0).Seconds(), r.budget.Seconds(), min(c.limit, minLimit).Seconds())
		default:
			res.Log = fmt.Sprintf("%02d-%s.log", i+1, c.name)
			res.LimitSeconds = limit.Seconds()
			fmt.Fprintf(r.progress, "== [%d/%d] %s: %s (limit %.0f s)\n", i+1, len(cs), c.name, c.what, limit.Seconds())
			r.runOne(c, limit, &res)
		}
		switch res.Status {
		case "pass":
			s.Passed++
		case "fail":
			s.Failed++
		default:
			s.Skipped++
		}
		fmt.Fprintf(r.progress, "   %s: %s in %.1f s%s\n", c.name, res.Status, res.Seconds, prefixed(": ", res.Reason))
		s.Checks = append(s.Checks, res)
	}
	s.Seconds = round(time.Since(start).Seconds())
}

// runOne runs c's command with its log in r.out and fills res.
func (r *runner) runOne(c check, limit time.Duration, res *Result) {
	logPath := filepath.Join(r.out, res.Log)
	f, err := os.Create(logPath)
	if err != nil {
		res.Status, res.Reason = "fail", err.Error()
		return
	}
	fmt.Fprintf(f, "$ %s\n", res.Command)
	t0 := time.Now()
	stopped, err := r.exec(c, limit, f)
	res.Seconds = round(time.Since(t0).Seconds())
	if err := f.Close(); err != nil {
		res.Status, res.Reason = "fail", err.Error()
		return
	}
	b, _ := os.ReadFile(logPath)
	_, log, _ := strings.Cut(string(b), "\n") // what the command printed, after the "$ command" line
	res.Figures, res.Lines = goTestCounts(log), nil
	if c.figures != nil {
		fig, lines := c.figures(log)
		for k, v := range fig {
			res.Figures[k] = v
		}
		res.Lines = lines
	}
	if len(res.Figures) == 0 {
		res.Figures = nil
	}
	switch {
	case stopped != "":
		res.Status, res.Reason = "fail", stopped
	case err != nil:
		res.Status, res.Reason = "fail", err.Error()+firstFailure(log)
	case allSkipped(log):
		res.Status, res.Reason = "skip", skipReason(log)
	default:
		res.Status = "pass"
	}
	if res.Status == "fail" {
		fmt.Fprintf(r.progress, "   last lines of %s:\n%s", logPath, tail(log, 30))
	}
}

// exec runs c in its own process group with stdout and stderr into w. At
// the limit, or on a signal to gpucheck, the group gets SIGQUIT (a Go test
// prints every goroutine's stack), then SIGKILL after r.grace; stopped says
// which.
func (r *runner) exec(c check, limit time.Duration, w io.Writer) (stopped string, err error) {
	cmd := exec.Command(c.cmd[0], c.cmd[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
		return "", err
	case <-time.After(limit):
		stopped = fmt.Sprintf("timed out after %.0f s (its limit; the log ends with where it was)", limit.Seconds())
	case r.stopped = <-r.stop:
		stopped = "interrupted (" + r.stopped.String() + ")"
	}
	pg := -cmd.Process.Pid
	syscall.Kill(pg, syscall.SIGQUIT)
	select {
	case err = <-done:
	case <-time.After(r.grace):
		syscall.Kill(pg, syscall.SIGKILL)
		err = <-done
	}
	syscall.Kill(pg, syscall.SIGKILL) // whatever of the group outlived its leader
	return stopped, err
}

// write puts the summary in r.out/summary.json and returns it.
func (r *runner) write(s *Summary) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return b, os.WriteFile(filepath.Join(r.out, "summary.json"), b, 0o644)
}

// goTestCounts counts the tests and subtests a `go test -v` log reports.
func goTestCounts(log string) map[string]any {
	f := map[string]any{}
	for _, line := range lines(log) {
		for _, st := range []string{"PASS", "FAIL", "SKIP"} {
			if strings.HasPrefix(strings.TrimSpace(line), "--- "+st+": ") {
				k := "tests_" + map[string]string{"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[st]
				n, _ := f[k].(int)
				f[k] = n + 1
			}
		}
	}
	return f
}

// allSkipped tells whether a go test log's tests all skipped.
func allSkipped(log string) bool {
	f := goTestCounts(log)
	return f["tests_skipped"] != nil && f["tests_passed"] == nil && f["tests_failed"] == nil
}

// skipReason is the message of a go test log's first skip.
func skipReason(log string) string {
	ls := lines(log)
	for i, line := range ls {
		if strings.HasPrefix(strings.TrimSpace(line), "--- SKIP: ") && i+1 < len(ls) {
			return strings.TrimSpace(trimFileLine(ls[i+1]))
		}
	}
	return "skipped"
}

// firstFailure is ": " and the first line a failing go test reports, if any.
func firstFailure(log string) string {
	ls := lines(log)
	for i, line := range ls {
		if strings.HasPrefix(strings.TrimSpace(line), "--- FAIL: ") {
			msg := strings.TrimSpace(line)
			if i+1 < len(ls) && strings.Contains(ls[i+1], "_test.go:") {
				msg += " " + strings.TrimSpace(ls[i+1])
			}
			return ": " + clip(msg, 300)
		}
	}
	return ""
}

// trimFileLine drops the "    x_test.go:12: " a test's log line starts with.
func trimFileLine(line string) string {
	s := strings.TrimSpace(line)
	if i := strings.Index(s, ".go:"); i > 0 && !strings.Contains(s[:i], " ") {
		if j := strings.Index(s[i:], ": "); j > 0 {
			return s[i+j+2:]
		}
	}
	return s
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func tail(s string, n int) string {
	ls := lines(s)
	ls = ls[max(0, len(ls)-n):]
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("   | " + l + "\n")
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func round(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

// shellQuote writes argv as one line a shell would read back.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
