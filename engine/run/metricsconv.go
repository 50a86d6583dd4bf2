package run

import (
	"reflect"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// The metrics package takes plain values and imports no other engine
// package. iterationMetrics fills its iteration input from the trainer's
// statistics by field name, so a counter added to ppo.IterStats reaches
// Prometheus as soon as metrics.IterationStats has a field of that name
// (TestEveryIterStatReachesMetrics fails until it has, and until
// Metrics.Iteration exports it).

// notExported are the ppo.IterStats fields metrics.IterationStats does not
// mirror: the episodes' mean return and length (the loop records each
// episode in the histograms instead, from Finished).
var notExported = map[string]bool{"ReturnMean": true, "LengthMean": true, "Finished": true}

// iterationMetrics is st as metrics.Metrics.Iteration takes it: every
// field of the same name and type.
func iterationMetrics(st ppo.IterStats) metrics.IterationStats {
	var out metrics.IterationStats
	src := reflect.ValueOf(st)
	dst := reflect.ValueOf(&out).Elem()
	for i := 0; i < dst.NumField(); i++ {
		f := dst.Type().Field(i)
		if v := src.FieldByName(f.Name); v.IsValid() && v.Type() == f.Type {
			dst.Field(i).Set(v)
		}
	}
	return out
}
