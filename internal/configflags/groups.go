package configflags

import (
	"flag"
	"os"
	"time"

	"github.com/ultra-rl/ultra/engine/metrics"
)

// The option groups several commands share, each declared once here: its
// flags' names, help and defaults. A command binds the groups it needs with
// New and reads them after Apply. The task's own options (ppo.Config) and
// the ULTRA knobs (ultra.Settings) are declared beside what they configure.

// Output is how a command that trains logs, serves metrics and stops. All
// of it may change when a run resumes.
type Output struct {
	LogFormat   string        `yaml:"log-format" help:"log format: text or json" resume:"ok"`
	MetricsAddr string        `yaml:"metrics-addr" help:"serve Prometheus /metrics on this address (empty disables; default $ULTRA_METRICS_ADDR if set, else 127.0.0.1:9464, or a free port when that one is taken; one endpoint for every run of the process)" resume:"ok"`
	Shutdown    time.Duration `yaml:"shutdown-timeout" help:"on SIGTERM/SIGINT, how long to let running iterations finish before abandoning them for the checkpoint taken before" resume:"ok"`
}

// DefaultOutput is Output's defaults: text logs, $ULTRA_METRICS_ADDR (when
// set, even empty) or metrics.DefaultAddr — loopback only, so a laptop run
// does not expose its endpoint; containers set ULTRA_METRICS_ADDR=:9464 so
// that a published port reaches it — and a 30 s shutdown.
func DefaultOutput() Output {
	addr := metrics.DefaultAddr
	if a, ok := os.LookupEnv("ULTRA_METRICS_ADDR"); ok {
		addr = a
	}
	return Output{LogFormat: "text", MetricsAddr: addr, Shutdown: 30 * time.Second}
}

// MetricsAddrDefault reports whether o.MetricsAddr is ultra's default
// address, which neither --metrics-addr (given on fs) nor
// $ULTRA_METRICS_ADDR chose: a busy default port may fall back to a free
// one, a chosen address is kept to.
func (o Output) MetricsAddrDefault(fs *flag.FlagSet) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "metrics-addr" })
	_, env := os.LookupEnv("ULTRA_METRICS_ADDR")
	return !given && !env && o.MetricsAddr == metrics.DefaultAddr
}

// Loop is how one run's training loop checkpoints and shows progress; it
// may change on resume.
type Loop struct {
	Every    int    `yaml:"checkpoint-every" help:"write a checkpoint every N iterations (and always at the end), ≥ 1" resume:"ok"`
	Progress string `yaml:"progress" help:"progress display: bar, log or auto (bar on a terminal)" resume:"ok"`
	// CaptureVideo and CaptureEvery: clips of the policy as it trains
	// (run.Capture), as CleanRL's --capture-video.
	CaptureVideo bool `yaml:"capture-video" help:"record a clip of the current policy (its first 300 steps, deterministic, the run's seed) every --capture-every iterations and at the end into DIR/videos/ (MP4 with ffmpeg, else GIF); needs the render build for MuJoCo tasks" resume:"ok"`
	CaptureEvery int  `yaml:"capture-every" help:"iterations between --capture-video clips, ≥ 1" resume:"ok"`
}

// DefaultLoop is Loop's defaults.
func DefaultLoop() Loop { return Loop{Every: 10, Progress: "auto", CaptureEvery: 100} }

// Advisor chooses the advisor that annotates and configures it (annotate,
// refine's live annotation, experiment and sweep plan).
type Advisor struct {
	Name        string `yaml:"advisor" help:"advisor: llm, scripted, expert or random (default llm when $ULTRA_LLM_URL is set, else scripted)"`
	LLMURL      string `yaml:"llm-url" help:"OpenAI-compatible base URL for --advisor llm (default $ULTRA_LLM_URL)"`
	Model       string `yaml:"model" help:"model name for --advisor llm (default $ULTRA_LLM_MODEL)"`
	LLMConfig   string `yaml:"llm-config" help:"YAML file with the llm advisor's settings (timeouts, limits, budget, cache, prompts)"`
	LLMDeadline string `yaml:"llm-deadline" help:"time the llm advisor may take in all, retries and waits included, e.g. 20m; 0 = none (default: the --llm-config deadline, else 5m)"`
	Critical    int    `yaml:"critical" help:"critical steps per episode at most (scripted, expert, random)"`
	Expert      string `yaml:"expert" help:"the expert advisor's checkpoint: a stronger policy of the same task (--advisor expert; bash bench/expert.sh TASK trains one)"`
}

// DefaultAdvisor is Advisor's defaults, from the environment.
func DefaultAdvisor() Advisor {
	a := Advisor{Name: "scripted", LLMURL: os.Getenv("ULTRA_LLM_URL"), Model: os.Getenv("ULTRA_LLM_MODEL"), Critical: 5}
	if a.LLMURL != "" {
		a.Name = "llm"
	}
	return a
}
