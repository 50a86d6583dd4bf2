// Package cluster renders what a cluster's scheduler needs to run a planned
// experiment (engine/experiment's units): a Kubernetes Indexed Job, one pod
// per unit, and a Slurm array script. Both run `ultra sweep unit` against a
// shared directory; the scheduler starts, retries and preempts the units,
// and `ultra sweep report` writes the tables when they are done.
package cluster

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Options describe the cluster job for a plan.
type Options struct {
	// Name names the job (DNS-1123 for Kubernetes); default "ultra-" and
	// the directory's base name.
	Name string
	// Dir is the plan's directory as the pods see it, e.g. /runs/hopper.
	Dir string
	// Units is the plan's unit count (the Job's completions, the array's
	// size).
	Units int
	// Image is the container image (Kubernetes).
	Image string
	// Parallelism is how many units run at once (default all).
	Parallelism int
	// PVC is the claim holding the directory, mounted at Mount (default
	// /runs) (Kubernetes).
	PVC, Mount string
	// CPU and Memory are each unit's requests (default "2", "4Gi"); Memory
	// is also its limit.
	CPU, Memory string
	// Shutdown is ultra's --shutdown-timeout: the grace period after
	// SIGTERM is set above it, so a preempted unit checkpoints before it
	// is killed.
	Shutdown time.Duration
	// BackoffPerIndex is how often one unit is retried after failing (0:
	// never; `ultra sweep k8s --retries` defaults to 3); preemptions do
	// not count (Kubernetes).
	BackoffPerIndex int
	// Partition and Time are the Slurm partition and the time limit of one
	// unit (default 02:00:00).
	Partition, Time string
}

var dns1123 = regexp.MustCompile(`[^a-z0-9-]+`)

func (o Options) withDefaults() (Options, error) {
	if o.Units < 1 {
		return o, fmt.Errorf("cluster: the plan has %d units", o.Units)
	}
	if o.Dir == "" || !path.IsAbs(o.Dir) {
		return o, fmt.Errorf("cluster: the directory %q must be an absolute path as the jobs see it", o.Dir)
	}
	if o.Name == "" {
		o.Name = "ultra-" + path.Base(o.Dir)
	}
	name := strings.Trim(dns1123.ReplaceAllString(strings.ToLower(o.Name), "-"), "-")
	if len(name) > 52 { // room for Kubernetes' suffixes
		name = strings.TrimRight(name[:52], "-")
	}
	if name == "" {
		return o, fmt.Errorf("cluster: job name %q has no letters or digits (a Kubernetes name is lower-case letters, digits and '-'): give another --name", o.Name)
	}
	o.Name = name
	if o.Parallelism <= 0 || o.Parallelism > o.Units {
		o.Parallelism = o.Units
	}
	if o.Mount == "" {
		o.Mount = "/runs"
	}
	if o.CPU == "" {
		o.CPU = "2"
	}
	if o.Memory == "" {
		o.Memory = "4Gi"
	}
	if o.Shutdown <= 0 {
		o.Shutdown = 30 * time.Second
	}
	if o.BackoffPerIndex < 0 {
		return o, fmt.Errorf("cluster: retries per unit %d, want ≥ 0", o.BackoffPerIndex)
	}
	if o.Time == "" {
		o.Time = "02:00:00"
	}
	return o, nil
}

// MetricsPort is where ultra serves /metrics in the images
// (ULTRA_METRICS_ADDR=:9464).
const MetricsPort = 9464

var funcs = template.FuncMap{
	"q":     strconv.Quote,
	"grace": func(d time.Duration) int { return int(d.Seconds()) + 30 },
	"last":  func(n int) int { return n - 1 },
	// slurmMem writes a Kubernetes quantity (4Gi) as Slurm's 4G.
	"slurmMem": func(q string) string { return strings.TrimSuffix(strings.TrimSuffix(q, "i"), "B") },
}

// K8s renders the Job that runs every unit — batch/v1, completionMode
// Indexed (each pod reads its unit from JOB_COMPLETION_INDEX),
// backoffLimitPerIndex, a podFailurePolicy under which preempted or
// evicted pods (condition DisruptionTarget) are retried without counting
// as failures, a grace period above the shutdown timeout, the volume, the
// resource requests, a non-root security context and the metrics port with
// Prometheus scrape annotations. With report, it renders instead the small
// Job that writes the tables, to apply once the first completes.
func K8s(o Options, report bool) (string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return "", err
	}
	if o.Image == "" || o.PVC == "" {
		return "", fmt.Errorf("cluster: an image and a PersistentVolumeClaim are required")
	}
	if !strings.HasPrefix(o.Dir, strings.TrimRight(o.Mount, "/")+"/") {
		return "", fmt.Errorf("cluster: the directory %s is not under the volume's mount path %s", o.Dir, o.Mount)
	}
	var b strings.Builder
	t := k8sTemplate
	if report {
		t = k8sReportTemplate
	}
	err = t.Execute(&b, struct {
		Options
		Port int
	}{o, MetricsPort})
	return b.String(), err
}

var k8sTemplate = template.Must(template.New("k8s").Funcs(funcs).Parse(`# The units of the sweep planned in {{.Dir}}: one pod per unit, at most
# {{.Parallelism}} at once. Apply, wait, then apply the report Job:
#   kubectl apply -f units.yaml
#   kubectl wait --for=condition=complete --timeout=24h job/{{.Name}}
#   ultra sweep k8s --report ... > report.yaml && kubectl apply -f report.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: {{.Name}}
  labels:
    app.kubernetes.io/name: ultra
    app.kubernetes.io/component: sweep-unit
    ultra.dev/sweep: {{.Name}}
spec:
  completionMode: Indexed
  completions: {{.Units}}
  parallelism: {{.Parallelism}}
  backoffLimitPerIndex: {{.BackoffPerIndex}}
  # A replacement pod starts only once the old one has terminated: two
  # processes of one unit never run at once (the Job API requires Failed
  # with a podFailurePolicy; ultra's unit lock guards against it as well).
  podReplacementPolicy: Failed
  podFailurePolicy:
    rules:
      # Preempted, evicted or drained pods are retried without counting
      # against backoffLimitPerIndex; the unit resumes from its checkpoint.
      - action: Ignore
        onPodConditions:
          - type: DisruptionTarget
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ultra
        app.kubernetes.io/component: sweep-unit
        ultra.dev/sweep: {{.Name}}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "{{.Port}}"
        prometheus.io/path: /metrics
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: {{grace .Shutdown}}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
      containers:
        - name: unit
          image: {{q .Image}}
          args: ["sweep", "unit", "--out", {{q .Dir}}, "--shutdown-timeout", {{q .Shutdown.String}}]
          ports:
            - name: metrics
              containerPort: {{.Port}}
          resources:
            requests:
              cpu: {{q .CPU}}
              memory: {{q .Memory}}
            limits:
              memory: {{q .Memory}}
` + containerTail))

// containerTail ends both Jobs' pod templates: an unprivileged container
// mounting the claim that holds the sweep directory.
const containerTail = `          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: runs
              mountPath: {{q .Mount}}
      volumes:
        - name: runs
          persistentVolumeClaim:
            claimName: {{q .PVC}}
`

var k8sReportTemplate = template.Must(template.New("k8s-report").Funcs(funcs).Parse(`# The report of the sweep in {{.Dir}}, once every unit is done: results.md/csv,
# plots and report.html there. It fails, naming them, while units are missing.
apiVersion: batch/v1
kind: Job
metadata:
  name: {{.Name}}-report
  labels:
    app.kubernetes.io/name: ultra
    app.kubernetes.io/component: sweep-report
    ultra.dev/sweep: {{.Name}}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ultra
        app.kubernetes.io/component: sweep-report
    spec:
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
      containers:
        - name: report
          image: {{q .Image}}
          args: ["sweep", "report", "--out", {{q .Dir}}]
          resources:
            requests:
              cpu: "1"
              memory: 1Gi
` + containerTail))

// Slurm renders an sbatch script running the units as a job array
// (--array=0-N-1, at most Parallelism at once): each task runs the unit of
// its SLURM_ARRAY_TASK_ID; Slurm sends SIGTERM a little before the time
// limit (--signal) so the unit checkpoints, and requeues it. The report
// command to run after the array is in the header.
func Slurm(o Options) (string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = slurmTemplate.Execute(&b, o)
	return b.String(), err
}

var slurmTemplate = template.Must(template.New("slurm").Funcs(funcs).Parse(`#!/usr/bin/env bash
# The units of the sweep planned in {{.Dir}} (a directory on a shared file
# system that supports locks), as a Slurm job array. Submit, then the report
# once the array is done:
#   jobid=$(sbatch --parsable this.sh)
#   sbatch --dependency=afterany:$jobid --wrap "ultra sweep report --out {{.Dir}}"
#SBATCH --job-name={{.Name}}
#SBATCH --array=0-{{last .Units}}%{{.Parallelism}}
#SBATCH --cpus-per-task={{.CPU}}
#SBATCH --mem={{slurmMem .Memory}}
#SBATCH --time={{.Time}}
{{- if .Partition}}
#SBATCH --partition={{.Partition}}
{{- end}}
#SBATCH --signal=B:TERM@{{grace .Shutdown}}
#SBATCH --requeue
#SBATCH --output=%x-%A_%a.out
set -euo pipefail
# ultra reads SLURM_ARRAY_TASK_ID as the unit index; on SIGTERM it
# checkpoints within the shutdown timeout and exits 0, and a requeued task
# resumes from the checkpoint. Array tasks may share a node, so none serves
# /metrics on a fixed port.
exec ultra sweep unit --out {{q .Dir}} --shutdown-timeout {{.Shutdown}} --metrics-addr ""
`))
