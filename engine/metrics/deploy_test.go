package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"
)

// deployDir is the repository's deploy/ directory.
const deployDir = "../../deploy"

// dashboard is the parts of a Grafana dashboard the tests look at.
type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // inside collapsed rows
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "grafana", "ultra.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/grafana/ultra.json: %v", err)
	}
	return d, raw
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// exprs returns every PromQL expression of the dashboard: panel targets and
// template variable queries, each with where it came from.
func exprs(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Query, &s) == nil:
		case json.Unmarshal(v.Query, &q) == nil:
			s = q.Query
		default:
			t.Fatalf("variable %s: query %s is neither a string nor an object", v.Name, v.Query)
		}
		out["variable "+v.Name] = s
		if v.Definition != "" {
			out["variable "+v.Name+" definition"] = v.Definition
		}
	}
	return out
}

// familyTypes gathers a fully fed Metrics' families and their types.
func familyTypes(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	feedAll(m, 1)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for _, f := range fams {
		out[f.GetName()] = f.GetType()
	}
	return out
}

var metricIdent = regexp.MustCompile(`ultra_[a-z0-9_]+`)

func TestDashboardUsesDefinedMetrics(t *testing.T) {
	d, _ := loadDashboard(t)
	defined := map[string]bool{}
	for _, n := range Names() {
		defined[n] = true
	}
	types := familyTypes(t)

	used := map[string]bool{}
	for where, e := range exprs(t, d) {
		if strings.TrimSpace(e) == "" {
			t.Errorf("%s: empty expression", where)
		}
		for _, id := range metricIdent.FindAllString(e, -1) {
			used[id] = true
			if defined[id] {
				if types[id] == dto.MetricType_HISTOGRAM {
					t.Errorf("%s: %s is a histogram; query its _bucket, _sum or _count series", where, id)
				}
				continue
			}
			ok := false
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(id, suffix); cut && defined[base] && types[base] == dto.MetricType_HISTOGRAM {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: %s is not a metric engine/metrics defines (nor a histogram's _bucket/_sum/_count)", where, id)
			}
		}
		if strings.HasPrefix(where, "panel ") && !strings.Contains(e, `run=~"$run"`) {
			t.Errorf("%s: %q does not filter on the run variable", where, e)
		}
	}
	// The panels the dashboard promises.
	for _, id := range []string{
		"ultra_env_steps_total", "ultra_train_steps_per_second", "ultra_train_episodic_return_bucket",
		"ultra_train_episodic_return_sum", "ultra_train_episodic_return_count",
		"ultra_ppo_policy_loss", "ultra_ppo_value_loss", "ultra_ppo_entropy",
		"ultra_ppo_approx_kl", "ultra_ppo_clip_fraction", "ultra_advisor_tokens_total",
		"ultra_advisor_requests_total", "ultra_advisor_request_duration_seconds_bucket",
		"ultra_modulator_events_total", "ultra_advisor_queue_depth_batches",
		"ultra_advisor_dropped_batches_total", "ultra_checkpoint_writes_total",
	} {
		if !used[id] {
			t.Errorf("the dashboard does not query %s", id)
		}
	}
}

func TestDashboardStructure(t *testing.T) {
	d, _ := loadDashboard(t)
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard lacks a uid or title")
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s does not use the datasource variable", v.Name)
		}
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("no datasource variable (have %v)", vars)
	}
	ex := exprs(t, d)
	for _, name := range []string{"run", "env", "variant"} {
		if vars[name] != "query" {
			t.Errorf("no query variable %s (have %v)", name, vars)
		}
		if q := ex["variable "+name]; !strings.HasPrefix(q, "label_values(") || !strings.HasSuffix(q, ", "+name+")") {
			t.Errorf("variable %s: query %q, want label_values(…, %s)", name, q, name)
		}
	}
	ids := map[int]bool{}
	titles := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d repeats", p.ID)
		}
		ids[p.ID] = true
		titles[p.Title] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q target %s does not use the datasource variable", p.Title, tg.RefID)
			}
		}
	}
	if len(ids) < 10 {
		t.Errorf("%d panels; the dashboard should cover throughput, returns, PPO, LLM, modulator, queue and checkpoints", len(ids))
	}
}

// TestDashboardPromQL has promtool parse every expression, as recording
// rules with Grafana's variables filled in.
func TestDashboardPromQL(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found on PATH (Debian package prometheus provides /usr/bin/promtool); skipping the PromQL syntax check")
	}
	d, _ := loadDashboard(t)
	fill := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$run", ".*", "$env", ".*", "$variant", ".*")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	ex := exprs(t, d)
	keys := make([]string, 0, len(ex))
	for k := range ex {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if strings.HasPrefix(ex[k], "label_values(") {
			continue // Grafana syntax, not PromQL
		}
		rules = append(rules, rule{Record: fmt.Sprintf("ultra:dashboard_expr_%d", i), Expr: fill.Replace(ex[k])})
	}
	doc := map[string]any{"groups": []map[string]any{{"name": "dashboard", "rules": rules}}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's expressions: %v\n%s\n%s", err, out, b)
	}
}

func TestPrometheusConfig(t *testing.T) {
	path := filepath.Join(deployDir, "prometheus", "prometheus.yml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	if !slices.Contains(targets, DefaultAddr) {
		t.Errorf("%s scrapes %v, want %s among them", path, targets, DefaultAddr)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "config", "--syntax-only", path).CombinedOutput(); err != nil {
			t.Errorf("promtool check config: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not found; checked the scrape config's structure only")
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, Type, URL, Access string
		} `yaml:"datasources"`
	}
	raw, err := os.ReadFile(filepath.Join(deployDir, "grafana", "provisioning", "datasources", "prometheus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil {
		t.Fatalf("datasource provisioning: %v", err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL == "" {
		t.Errorf("datasource provisioning %+v: want apiVersion 1 and one prometheus datasource with a url", ds)
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	raw, err = os.ReadFile(filepath.Join(deployDir, "grafana", "provisioning", "dashboards", "ultra.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &dp); err != nil {
		t.Fatalf("dashboard provisioning: %v", err)
	}
	if dp.APIVersion != 1 || len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options.Path == "" {
		t.Fatalf("dashboard provisioning %+v: want apiVersion 1 and one file provider with a path", dp)
	}
	// The README mounts the dashboard where the provider looks.
	readme, err := os.ReadFile(filepath.Join(deployDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ultra.json:" + dp.Providers[0].Options.Path + "/ultra.json"; !strings.Contains(string(readme), want) {
		t.Errorf("deploy/README.md does not mount the dashboard at the provider's path (%s)", want)
	}
}
