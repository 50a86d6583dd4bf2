package cluster

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestK8sDecodesStrictly decodes the rendered manifests with the upstream
// API types, rejecting unknown fields, and checks what the scheduler relies
// on (issue 17).
func TestK8sDecodesStrictly(t *testing.T) {
	o := Options{Dir: "/runs/hopper", Units: 90, Image: "ghcr.io/ultra-rl/ultra:1.0", Parallelism: 16,
		PVC: "ultra-runs", CPU: "2", Memory: "4Gi", Shutdown: 45 * time.Second, BackoffPerIndex: 3}
	var job, rep batchv1.Job
	for _, d := range []struct {
		report bool
		job    *batchv1.Job
	}{{false, &job}, {true, &rep}} {
		text, err := K8s(o, d.report)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict([]byte(text), d.job); err != nil {
			t.Fatalf("report %v: %v\n%s", d.report, err, text)
		}
	}
	s := job.Spec
	switch {
	case job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Name != "ultra-hopper":
		t.Errorf("type meta %s %s %s", job.APIVersion, job.Kind, job.Name)
	case s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion:
		t.Errorf("completion mode %v", s.CompletionMode)
	case s.Completions == nil || *s.Completions != 90 || s.Parallelism == nil || *s.Parallelism != 16:
		t.Errorf("completions %v parallelism %v", s.Completions, s.Parallelism)
	case s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 3:
		t.Errorf("backoffLimitPerIndex %v", s.BackoffLimitPerIndex)
	case s.PodReplacementPolicy == nil || *s.PodReplacementPolicy != batchv1.Failed:
		// Issue 27: a replacement pod started while the old one
		// terminates ran the same unit twice.
		t.Errorf("podReplacementPolicy %v, want Failed", s.PodReplacementPolicy)
	}
	// --retries 0 means no retry (it rendered 3).
	o0 := o
	o0.BackoffPerIndex = 0
	text, err := K8s(o0, false)
	var job0 batchv1.Job
	if err != nil || yaml.UnmarshalStrict([]byte(text), &job0) != nil || job0.Spec.BackoffLimitPerIndex == nil || *job0.Spec.BackoffLimitPerIndex != 0 {
		t.Errorf("retries 0: %v, %v", job0.Spec.BackoffLimitPerIndex, err)
	}
	if p := s.PodFailurePolicy; p == nil || len(p.Rules) != 1 || p.Rules[0].Action != batchv1.PodFailurePolicyActionIgnore ||
		len(p.Rules[0].OnPodConditions) != 1 || p.Rules[0].OnPodConditions[0].Type != corev1.DisruptionTarget {
		t.Errorf("podFailurePolicy %+v: want preemptions (DisruptionTarget) ignored", p)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s: a podFailurePolicy needs Never", pod.RestartPolicy)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= 45 {
		t.Errorf("grace period %v, want above the 45 s shutdown timeout", g)
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("pod security context %+v", sc)
	}
	c := pod.Containers[0]
	if got := strings.Join(c.Args, " "); got != "sweep unit --out /runs/hopper --shutdown-timeout 45s" {
		t.Errorf("args %q", got)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/runs" || pod.Volumes[0].PersistentVolumeClaim == nil ||
		pod.Volumes[0].PersistentVolumeClaim.ClaimName != "ultra-runs" {
		t.Errorf("mount %+v, volumes %+v", c.VolumeMounts, pod.Volumes)
	}
	if r := c.Resources.Requests; r.Cpu().String() != "2" || r.Memory().String() != "4Gi" {
		t.Errorf("requests %v", r)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != MetricsPort || s.Template.Annotations["prometheus.io/scrape"] != "true" {
		t.Errorf("metrics port %+v, annotations %v", c.Ports, s.Template.Annotations)
	}
	if got := strings.Join(rep.Spec.Template.Spec.Containers[0].Args, " "); got != "sweep report --out /runs/hopper" {
		t.Errorf("report args %q", got)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Dir: "/runs/x", Units: 0, Image: "i", PVC: "p"}, "0 units"},
		{Options{Dir: "runs/x", Units: 2, Image: "i", PVC: "p"}, "absolute path"},
		{Options{Dir: "/data/x", Units: 2, Image: "i", PVC: "p"}, "not under the volume's mount path /runs"},
		{Options{Dir: "/runs/x", Units: 2}, "an image and a PersistentVolumeClaim"},
		{Options{Dir: "/runs/x", Units: 2, Image: "i", PVC: "p", Name: "!!!"}, `job name "!!!" has no letters or digits`},
		{Options{Dir: "/runs/x", Units: 2, Image: "i", PVC: "p", BackoffPerIndex: -1}, "retries per unit -1"},
	} {
		if _, err := K8s(tc.o, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

func TestSlurm(t *testing.T) {
	text, err := Slurm(Options{Dir: "/scratch/hopper", Units: 90, Parallelism: 20, Partition: "cpu", Memory: "8Gi"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#SBATCH --array=0-89%20", "#SBATCH --partition=cpu", "#SBATCH --mem=8G\n", "#SBATCH --signal=B:TERM@60",
		`exec ultra sweep unit --out "/scratch/hopper"`, "--dependency=afterany:$jobid", "#SBATCH --requeue",
		`--metrics-addr ""`} { // array tasks on one node would fight over the default port
		if !strings.Contains(text, want) {
			t.Errorf("script lacks %q:\n%s", want, text)
		}
	}
}
