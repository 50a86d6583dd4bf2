package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/cluster"
	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/internal/configflags"
	"github.com/ultra-rl/ultra/internal/interrupt"
)

const sweepUsage = `ultra sweep: an experiment as numbered work units for a cluster's scheduler

  ultra sweep plan   --out DIR [every flag of ultra experiment]   write DIR/plan.json; prints "units N"
  ultra sweep unit   --out DIR [--index I]                        run unit I ($JOB_COMPLETION_INDEX, $SLURM_ARRAY_TASK_ID)
  ultra sweep report --out DIR                                    write the tables; fails naming missing units
  ultra sweep k8s    --out DIR --image IMAGE --pvc NAME [...]     print the Kubernetes Indexed Job (--report: the report Job)
  ultra sweep slurm  --out DIR [--partition P --time 02:00:00]    print an sbatch array script
`

func cmdSweep(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, sweepUsage)
		return errors.New("sweep: no subcommand given")
	}
	if isHelp(args[0]) {
		fmt.Fprint(stderr, sweepUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "plan":
		fs := newFlags("sweep plan", stderr)
		ef := addExperimentFlags(fs, stderr)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		c, err := ef.config(fs, stderr)
		if err != nil {
			return fmt.Errorf("sweep plan: %w", err)
		}
		if *ef.dose != "" {
			return errors.New("sweep plan: --dose runs a dose–response experiment in one process: use ultra experiment --dose (a sweep plans one dose; give --target-hit-rate)")
		}
		units, err := experiment.Plan(c)
		if err != nil {
			return fmt.Errorf("sweep plan: %w", err)
		}
		fmt.Fprintf(stdout, "planned %s\nunits %d\n", filepath.Join(c.Out, experiment.PlanFile), len(units))
		return nil
	case "unit":
		return sweepUnit(args[1:], stderr)
	case "report":
		fs := newFlags("sweep report", stderr)
		out := fs.String("out", "", "planned directory (required)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		c, units, err := loadPlan(*out, stderr)
		if err != nil {
			return fmt.Errorf("sweep report: %w", err)
		}
		res, err := experiment.Report(c, units)
		if err != nil {
			return fmt.Errorf("sweep report: %w", err)
		}
		printResult(stdout, res)
		return nil
	case "k8s", "slurm":
		return sweepRender(args[0], args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, sweepUsage)
	return fmt.Errorf("sweep: unknown subcommand %q: valid ones are plan, unit, report, k8s, slurm", args[0])
}

// loadPlan reads a planned directory's settings for this process.
func loadPlan(dir string, stderr io.Writer) (experiment.Config, []experiment.Unit, error) {
	if dir == "" {
		return experiment.Config{}, nil, errors.New("--out DIR is required")
	}
	c, units, err := experiment.LoadPlan(dir, registry())
	c.AdvisorLog = stderr
	return c, units, err
}

func sweepUnit(args []string, stderr io.Writer) error {
	fs := newFlags("sweep unit", stderr)
	out := fs.String("out", "", "planned directory (required)")
	index := fs.String("index", firstEnv("JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"), "unit to run (default $JOB_COMPLETION_INDEX, else $SLURM_ARRAY_TASK_ID)")
	wait := fs.Duration("wait", experiment.DefaultStageWait, "how long to wait for another unit running the shared stages")
	dev, devFlags := addDeviceFlags(fs, "device") // empty: the plan's
	output := configflags.DefaultOutput()
	outputFlags := configflags.New(fs, &output)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := errors.Join(devFlags.Apply(""), outputFlags.Apply("")); err != nil {
		return fmt.Errorf("sweep unit: %w", err)
	}
	i, err := strconv.Atoi(*index)
	if err != nil {
		return fmt.Errorf("sweep unit: --index %q: want the unit number (or $JOB_COMPLETION_INDEX / $SLURM_ARRAY_TASK_ID set by the scheduler)", *index)
	}
	c, units, err := loadPlan(*out, stderr)
	if err != nil {
		return fmt.Errorf("sweep unit: %w", err)
	}
	c.Shutdown = output.Shutdown
	if givenFlags(fs)["device"] { // else the plan's
		c.Device = dev.Device
	}
	if c.Logger, err = newLogger(output.LogFormat, stderr); err != nil {
		return fmt.Errorf("sweep unit: %w", err)
	}
	reg, stopMetrics, err := serveMetrics(output, fs, c.Logger)
	if err != nil {
		return fmt.Errorf("sweep unit: %w", err)
	}
	defer stopMetrics()
	c.Metrics = reg
	ctx, stop := interrupt.Context(stderr)
	defer stop()
	err = experiment.RunUnit(ctx, c, units, i, *wait)
	if errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil) {
		c.Logger.Info("unit interrupted; start it again to resume", "unit", i)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep unit %d: %w", i, err)
	}
	return nil
}

func sweepRender(kind string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sweep "+kind, stderr)
	var o cluster.Options
	out := fs.String("out", "", "planned directory (required)")
	fs.StringVar(&o.Name, "name", "", "job name (default ultra-<directory name>)")
	fs.IntVar(&o.Parallelism, "parallelism", 0, "units running at once (default all)")
	fs.StringVar(&o.CPU, "cpu", "2", "CPUs per unit")
	fs.StringVar(&o.Memory, "memory", "4Gi", "memory per unit (request and limit)")
	output := configflags.DefaultOutput() // the units' --shutdown-timeout; the pods' grace period is 30 s more
	outputFlags := configflags.New(fs, &output, "shutdown-timeout")
	fs.StringVar(&o.Image, "image", "", "k8s: container image (required)")
	fs.StringVar(&o.PVC, "pvc", "", "k8s: PersistentVolumeClaim holding the directory (required)")
	fs.StringVar(&o.Mount, "mount", "/runs", "k8s: where the claim is mounted; the directory is <mount>/<its name> in the pods")
	fs.IntVar(&o.BackoffPerIndex, "retries", 3, "k8s: failures allowed per unit (preemptions are not failures)")
	report := fs.Bool("report", false, "k8s: print the Job that writes the report, to apply once the units' Job is complete")
	fs.StringVar(&o.Partition, "partition", "", "slurm: partition")
	fs.StringVar(&o.Time, "time", "02:00:00", "slurm: time limit of one unit")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := outputFlags.Apply(""); err != nil {
		return fmt.Errorf("sweep %s: %w", kind, err)
	}
	o.Shutdown = output.Shutdown
	_, units, err := loadPlan(*out, stderr)
	if err != nil {
		return fmt.Errorf("sweep %s: %w", kind, err)
	}
	o.Units = len(units)
	o.Dir, err = filepath.Abs(*out)
	if err != nil {
		return err
	}
	var text string
	if kind == "k8s" {
		if mount := strings.TrimRight(o.Mount, "/"); !strings.HasPrefix(o.Dir, mount+"/") {
			o.Dir = mount + "/" + filepath.Base(o.Dir) // the directory copied onto the volume
		}
		text, err = cluster.K8s(o, *report)
	} else {
		text, err = cluster.Slurm(o)
	}
	if err != nil {
		return fmt.Errorf("sweep %s: %w", kind, err)
	}
	fmt.Fprint(stdout, text)
	return nil
}

// firstEnv returns the first of the named variables that is set, or "".
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
