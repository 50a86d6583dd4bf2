package configflags

import (
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// FuzzDecode feeds arbitrary YAML to the config decoder, into both configs
// users write: ppo.Config (--config) and llm.Config (--llm-config) (issue
// 14's fuzzing). Decoding must not panic; what it accepts must survive the
// config's own validation without panicking.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"env: hopper\nsteps: 1000000\nnum-steps: 2048\nlearning-rate: 3e-4\nhidden: [64, 64]\nnorm-obs: true\n",
		"num-steps: 2048.5\n",
		"base_url: http://localhost:8000/v1\nmodel: qwen\ntimeout: 90s\nmax_tokens: 1500\nconcurrency: 4\nbudget_tokens: 200000\ndeadline: 20m\n",
		"hidden:\n  - 256\n  - 256\n", "{a: [b, {c: d}]}", "- - - x", "&a [*a]", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pc := ppo.Defaults()
		if Decode(b, &pc) == nil {
			_ = pc.Validate()
		}
		lc := llm.DefaultConfig()
		if Decode(b, &lc) == nil {
			_ = lc.Validate()
		}
	})
}
