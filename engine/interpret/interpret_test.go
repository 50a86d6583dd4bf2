package interpret

import (
	"math"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func specOf(t *testing.T, id string) env.Spec {
	t.Helper()
	s, err := env.NewRegistry(tasks.Specs()...).Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// obsWith builds an observation of spec from field names (as in the
// layout) to values; unnamed fields are 0 and a missing name fails.
func obsWith(t *testing.T, spec env.Spec, vals map[string]float64) []float32 {
	t.Helper()
	obs := make([]float32, spec.Observation.Dim)
	for name, v := range vals {
		i := fieldIndex(t, spec, name)
		obs[i] = float32(v)
	}
	return obs
}

func fieldIndex(t *testing.T, spec env.Spec, name string) int {
	t.Helper()
	for i, f := range spec.ObsLayout {
		if f.Name == name {
			return i
		}
	}
	t.Fatalf("%s layout has no field %q", spec.ID, name)
	return -1
}

func rad(d float64) float64 { return d * math.Pi / 180 }

// quatAxis is the quaternion (w, x, y, z) of a rotation by deg about axis.
func quatAxis(axis [3]float64, d float64) [4]float64 {
	h := rad(d) / 2
	return [4]float64{math.Cos(h), axis[0] * math.Sin(h), axis[1] * math.Sin(h), axis[2] * math.Sin(h)}
}

func quatMul(a, b [4]float64) [4]float64 {
	return [4]float64{
		a[0]*b[0] - a[1]*b[1] - a[2]*b[2] - a[3]*b[3],
		a[0]*b[1] + a[1]*b[0] + a[2]*b[3] - a[3]*b[2],
		a[0]*b[2] - a[1]*b[3] + a[2]*b[0] + a[3]*b[1],
		a[0]*b[3] + a[1]*b[2] - a[2]*b[1] + a[3]*b[0],
	}
}

func scaled(q [4]float64, k float64) [4]float64 {
	return [4]float64{k * q[0], k * q[1], k * q[2], k * q[3]}
}

func antQuat(q [4]float64) map[string]float64 {
	return map[string]float64{"torso height": 0.55, "torso orientation w": q[0], "torso orientation x": q[1],
		"torso orientation y": q[2], "torso orientation z": q[3]}
}

func merged(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestDescribe(t *testing.T) {
	x, y, z := [3]float64{1, 0, 0}, [3]float64{0, 1, 0}, [3]float64{0, 0, 1}
	for _, tc := range []struct {
		name, env string
		obs       map[string]float64
		want      []string
		not       []string
	}{
		{"hopper healthy", "hopper", map[string]float64{
			"torso height": 1.0, "torso pitch": 0.1, "thigh_joint angle": rad(-12), "leg_joint angle": rad(-30), "foot_joint angle": rad(8),
			"forward velocity": 1.32, "vertical velocity": -0.1, "torso pitch rate": rad(20), "thigh_joint angular velocity": rad(57)},
			[]string{"torso 1.00 m high (0.30 m above the 0.7 m fall limit)", "pitched 5.7° forward (limit ±11.5°)",
				"thigh -12° (57°/s), leg -30° (0°/s), foot 8° (0°/s)", "moving forward 1.32 m/s, down 0.10 m/s, pitching forward 20°/s"},
			[]string{"unhealthy", "upper limit"}},
		{"hopper fallen", "hopper", map[string]float64{"torso height": 0.6, "torso pitch": -0.3, "forward velocity": -0.5},
			[]string{"0.10 m BELOW the 0.7 m fall limit: unhealthy", "pitched 17.2° back (beyond the ±11.5° limit: unhealthy)", "moving backward 0.50 m/s"}, nil},
		{"hopper clipped velocities", "hopper", map[string]float64{"torso height": 1.2, "forward velocity": 10, "leg_joint angular velocity": -10},
			[]string{"moving forward ≥10.00 m/s", "leg 0° (≤-573°/s)"}, nil},
		{"walker2d", "walker2d", map[string]float64{"torso height": 1.9, "torso pitch": -0.5,
			"thigh_joint angle": rad(-6), "thigh_left_joint angle": rad(-40), "foot_left_joint angular velocity": rad(-15)},
			[]string{"torso 1.90 m high (1.10 m above the 0.8 m fall limit, 0.10 m below the 2 m upper limit)", "pitched 28.6° back (limit ±57.3°)",
				"right: thigh -6° (0°/s), leg 0° (0°/s), foot 0° (0°/s); left: thigh -40° (0°/s), leg 0° (0°/s), foot 0° (-15°/s)"},
			[]string{"unhealthy"}},
		{"walker2d too high", "walker2d", map[string]float64{"torso height": 2.1},
			[]string{"0.10 m ABOVE the 2 m upper limit: unhealthy"}, nil},
		{"halfcheetah", "halfcheetah", map[string]float64{"torso height offset": 0.05, "torso pitch": 0.2, "bthigh angle": rad(30),
			"ffoot angle": rad(-20), "forward velocity": 3.2, "torso pitch rate": rad(-40)},
			[]string{"torso 0.05 m above its 0.70 m start height", "pitched 11.5° nose-down;", "back: thigh 30° (0°/s), shin 0° (0°/s), foot 0° (0°/s); front: thigh 0° (0°/s), shin 0° (0°/s), foot -20° (0°/s)",
				"moving forward 3.20 m/s, up 0.00 m/s, pitching nose-up 40°/s"},
			[]string{"FLIPPED"}},
		{"halfcheetah flipped nose-down", "halfcheetah", map[string]float64{"torso height offset": -0.3, "torso pitch": 2.0},
			[]string{"torso 0.30 m below its 0.70 m start height", "pitched 114.6° nose-down — FLIPPED onto its back"}, nil},
		{"halfcheetah flipped nose-up", "halfcheetah", map[string]float64{"torso pitch": -1.7},
			[]string{"pitched 97.4° nose-up — FLIPPED onto its back"}, nil},
		{"halfcheetah full turn", "halfcheetah", map[string]float64{"torso pitch": 2*math.Pi + 0.1},
			[]string{"pitched 5.7° nose-down (after 1 full turns)"}, []string{"FLIPPED"}},
		{"ant upright", "ant", merged(antQuat([4]float64{1, 0, 0, 0}), map[string]float64{
			"hip_1 (front left) angle": rad(10), "ankle_2 (back left) angle": rad(-50), "forward velocity": 0.5, "lateral velocity": -0.1,
			"yaw rate": rad(10), "hip_4 (front right) angular velocity": rad(-5)}),
			[]string{"torso 0.55 m high (0.35 m above the 0.2 m lower limit, 0.45 m below the 1 m upper limit)",
				"upright (tilt 0.0°): roll 0.0° (level), pitch 0.0° (level), yaw 0.0° (facing +x)",
				"hips FL 10° (0°/s), BL 0° (0°/s), BR 0° (0°/s), FR 0° (-5°/s); ankles FL 0° (0°/s), BL -50° (0°/s)",
				"moving forward 0.50 m/s, right 0.10 m/s, up 0.00 m/s; body rates roll 0°/s, pitch 0°/s, yaw 10°/s"},
			[]string{"unhealthy"}},
		{"ant 90° about x", "ant", antQuat(quatAxis(x, 90)),
			[]string{"tilted (tilt 90.0°): roll 90.0° (right side down), pitch 0.0° (level), yaw 0.0° (facing +x)"}, nil},
		{"ant 180° about x", "ant", antQuat(quatAxis(x, 180)),
			[]string{"flipped (tilt 180.0°): roll 180.0°"}, nil},
		{"ant 120° about y", "ant", antQuat(quatAxis(y, 120)),
			[]string{"flipped (tilt 120.0°)"}, nil},
		{"ant -20° about y", "ant", antQuat(quatAxis(y, -20)),
			[]string{"upright (tilt 20.0°): roll 0.0° (level), pitch -20.0° (nose up), yaw 0.0° (facing +x)"}, nil},
		{"ant -40° about x", "ant", antQuat(quatAxis(x, -40)),
			[]string{"tilted (tilt 40.0°): roll -40.0° (left side down)"}, nil},
		{"ant -30° about z", "ant", antQuat(quatAxis(z, -30)),
			[]string{"upright (tilt 0.0°): roll 0.0° (level), pitch 0.0° (level), yaw -30.0° (facing right of +x)"}, nil},
		{"ant unnormalised quaternion", "ant", antQuat(scaled(quatAxis(z, 30), 2)),
			[]string{"upright (tilt 0.0°): roll 0.0° (level), pitch 0.0° (level), yaw 30.0° (facing left of +x)"}, nil},
		{"ant zero quaternion, low", "ant", map[string]float64{"torso height": 0.15},
			[]string{"0.05 m BELOW the 0.2 m lower limit: unhealthy", "orientation unknown (invalid quaternion)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := specOf(t, tc.env)
			got, err := describe(spec, obsWith(t, spec, tc.obs))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Describe lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(got, w) {
					t.Errorf("Describe has %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "-0°") || strings.Contains(got, "-0.0") {
				t.Errorf("negative zero in %q", got)
			}
		})
	}
}

func TestEulerFromQuat(t *testing.T) {
	x, y, z := [3]float64{1, 0, 0}, [3]float64{0, 1, 0}, [3]float64{0, 0, 1}
	for _, tc := range []struct {
		name                   string
		q                      [4]float64
		roll, pitch, yaw, tilt float64
		class                  string
	}{
		{"identity", [4]float64{1, 0, 0, 0}, 0, 0, 0, 0, "upright"},
		{"90 about x", quatAxis(x, 90), 90, 0, 0, 90, "tilted"},
		{"-90 about x", quatAxis(x, -90), -90, 0, 0, 90, "tilted"},
		{"45 about y", quatAxis(y, 45), 0, 45, 0, 45, "tilted"},
		{"60 about z", quatAxis(z, 60), 0, 0, 60, 0, "upright"},
		{"180 about y", quatAxis(y, 180), 180, 0, 180, 180, "flipped"},
		{"yaw 30 pitch 20 roll 10", quatMul(quatMul(quatAxis(z, 30), quatAxis(y, 20)), quatAxis(x, 10)), 10, 20, 30,
			deg(math.Acos(math.Cos(rad(20)) * math.Cos(rad(10)))), "upright"},
		{"yaw -100 roll 120", quatMul(quatAxis(z, -100), quatAxis(x, 120)), 120, 0, -100, 120, "flipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := eulerFromQuat(tc.q)
			if !ok {
				t.Fatal("not ok")
			}
			near := func(a, b float64) bool { return math.Abs(wrapDeg(a-b)) < 1e-6 }
			if !near(e.roll, tc.roll) || !near(e.pitch, tc.pitch) || !near(e.yaw, tc.yaw) || !near(e.tilt, tc.tilt) {
				t.Errorf("got roll %v pitch %v yaw %v tilt %v, want %v %v %v %v", e.roll, e.pitch, e.yaw, e.tilt, tc.roll, tc.pitch, tc.yaw, tc.tilt)
			}
			if c := e.class(30, 90); c != tc.class {
				t.Errorf("class %q, want %q", c, tc.class)
			}
		})
	}
	if _, ok := eulerFromQuat([4]float64{0, 0, 0, 0}); ok {
		t.Error("zero quaternion accepted")
	}
	if _, ok := eulerFromQuat([4]float64{math.NaN(), 0, 0, 0}); ok {
		t.Error("NaN quaternion accepted")
	}
}

// TestSignConventions checks the words used for signs against the
// simulator: the positions of bodies after turning one coordinate.
func TestSignConventions(t *testing.T) {
	// moved turns qpos[q] by delta from the reference pose and returns how
	// body's world position changed.
	moved := func(t *testing.T, asset string, q int, delta float64, body string) [3]float64 {
		t.Helper()
		m, err := tasks.Model(asset)
		if err != nil {
			t.Fatal(err)
		}
		d, err := mujoco.NewData(m)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		id := m.ID(mujoco.ObjBody, body)
		if id < 0 {
			t.Fatalf("%s has no body %s", asset, body)
		}
		d.Reset()
		d.Forward()
		before := [3]float64(d.XPos()[3*id : 3*id+3])
		d.QPos()[q] += delta
		d.Forward()
		after := d.XPos()[3*id : 3*id+3]
		return [3]float64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}
	}
	// Planar qpos: rootx, rootz, rooty, joints (observation = qpos[1:]).
	for _, tc := range []struct {
		name, asset, body string
		q                 int
		check             func(d [3]float64) bool
	}{
		// Pitch > 0 leans forward: the hip (bottom of the torso) moves back.
		{"hopper pitch>0 leans forward", "hopper.xml", "thigh", 2, func(d [3]float64) bool { return d[0] < -0.01 }},
		{"walker2d pitch>0 leans forward", "walker2d.xml", "thigh_left", 2, func(d [3]float64) bool { return d[0] < -0.01 }},
		// Joint > 0 swings the far end forward: the knee moves to +x.
		{"hopper thigh>0 swings knee forward", "hopper.xml", "leg", 3, func(d [3]float64) bool { return d[0] > 0.01 }},
		{"hopper leg>0 swings ankle forward", "hopper.xml", "foot", 4, func(d [3]float64) bool { return d[0] > 0.01 }},
		{"walker2d left thigh>0 swings knee forward", "walker2d.xml", "leg_left", 6, func(d [3]float64) bool { return d[0] > 0.01 }},
		// Halfcheetah pitch > 0 is nose down; joint > 0 swings the far end back.
		{"halfcheetah pitch>0 nose down", "half_cheetah.xml", "fthigh", 2, func(d [3]float64) bool { return d[2] < -0.01 }},
		{"halfcheetah bthigh>0 swings knee back", "half_cheetah.xml", "bshin", 3, func(d [3]float64) bool { return d[0] < -0.01 }},
		{"halfcheetah fthigh>0 swings knee back", "half_cheetah.xml", "fshin", 6, func(d [3]float64) bool { return d[0] < -0.01 }},
		// Ant qpos: x, y, z, quaternion, hip_1, ankle_1, …; hips turn
		// counter-clockwise seen from above: the FL leg's ankle moves to −x, +y.
		{"ant hip_1>0 counter-clockwise", "ant.xml", "ankle_1_link", 7, func(d [3]float64) bool { return d[0] < -0.01 && d[1] > 0.01 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := moved(t, tc.asset, tc.q, 0.3, tc.body); !tc.check(d) {
				t.Errorf("%s moved by %v", tc.body, d)
			}
		})
	}
	// Ant roll > 0 (quaternion about +x) puts the right side down: the
	// front-left ankle (+y) rises. Pitch > 0 puts the nose (+x) down.
	antTurn := func(axis [3]float64, body string) [3]float64 {
		m, _ := tasks.Model("ant.xml")
		d, _ := mujoco.NewData(m)
		defer d.Close()
		id := m.ID(mujoco.ObjBody, body)
		d.Reset()
		d.Forward()
		before := [3]float64(d.XPos()[3*id : 3*id+3])
		q := quatAxis(axis, 20)
		copy(d.QPos()[3:7], q[:])
		d.Forward()
		return [3]float64{d.XPos()[3*id] - before[0], d.XPos()[3*id+1] - before[1], d.XPos()[3*id+2] - before[2]}
	}
	if d := antTurn([3]float64{1, 0, 0}, "ankle_1_link"); d[2] <= 0.01 {
		t.Errorf("roll +20°: left-side ankle moved %v, want up", d)
	}
	if d := antTurn([3]float64{0, 1, 0}, "ankle_1_link"); d[2] >= -0.01 {
		t.Errorf("pitch +20°: front ankle moved %v, want down", d)
	}
	// Ant legs are labelled by position.
	tk, err := lookup(specOf(t, "ant"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"hip_1": "FL", "hip_2": "BL", "hip_3": "BR", "hip_4": "FR", "ankle_1": "FL", "ankle_4": "FR"}
	for _, j := range tk.body.Joints {
		if w, ok := want[j.Name]; ok && j.Group != w {
			t.Errorf("ant %s labelled %q, want %q", j.Name, j.Group, w)
		}
	}
}

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want []string
	}{
		{"hopper", []string{
			"torso height > 0.7 m", "torso pitch strictly between -0.2 and 0.2 rad (-11.5° to 11.5°)",
			"every velocity", "strictly between -100 and 100", "clip velocities at ±10",
			"truncated after 1000 steps", "one step lasts 0.008 s (4 physics steps of 0.002 s)",
			"1 × forward velocity", "+ 1 healthy bonus", "− 0.001 × Σ action²",
			"action[0] thigh: hip torque on joint thigh_joint, gear 200 → -200 to 200 N·m; joint range -150° to 0°",
			"action[2] foot: ankle torque on joint foot_joint, gear 200 → -200 to 200 N·m; joint range -45° to 45°",
			"each in [-1, 1]", "pitch > 0 = torso leaning forward"}},
		{"walker2d", []string{
			"torso height strictly between 0.8 and 2 m", "torso pitch strictly between -1 and 1 rad (-57.3° to 57.3°)",
			"truncated after 1000 steps", "− 0.001 × Σ action²", "+ 1 healthy bonus",
			"action[0] right thigh: hip torque on joint thigh_joint, gear 100 → -100 to 100 N·m",
			"action[5] left foot: ankle torque on joint foot_left_joint, gear 100 → -100 to 100 N·m"}},
		{"halfcheetah", []string{
			"Termination: none", "truncated after 1000 steps", "one step lasts 0.05 s (5 physics steps of 0.01 s)",
			"1 × forward velocity", "− 0.1 × Σ action²", "no healthy bonus", "|pitch| > 90°",
			"action[0] back thigh: hip torque on joint bthigh, gear 120 → -120 to 120 N·m; joint range -30° to 60°",
			"action[1] back shin: knee torque on joint bshin, gear 90 → -90 to 90 N·m",
			"action[5] front foot: ankle torque on joint ffoot, gear 30 → -30 to 30 N·m"}},
		{"ant", []string{
			"torso height between 0.2 m and 1 m inclusive", "every position and velocity value finite",
			"truncated after 1000 steps", "+ 1 healthy bonus", "− 0.5 × Σ action²",
			"action[0] FR hip: hip (horizontal swing) torque on joint hip_4, gear 150 → -150 to 150 N·m; joint range -30° to 30°",
			"action[2] FL hip", "action[7] BR ankle: ankle (vertical bend) torque on joint ankle_3, gear 150 → -150 to 150 N·m; joint range -70° to -30°"}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			got, err := Rules(specOf(t, tc.env))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Rules lacks %q:\n%s", w, got)
				}
			}
		})
	}
	// A task built with another configuration is described with its values,
	// not the package defaults.
	cfg := tasks.DefaultHopper()
	cfg.HealthyZRange[0], cfg.MaxEpisodeSteps = 0.55, 400
	if got, err := Rules(tasks.HopperSpec(cfg)); err != nil || !strings.Contains(got, "torso height > 0.55 m") || !strings.Contains(got, "truncated after 400 steps") {
		t.Errorf("Rules of a hopper with HealthyZRange %v and %d steps (%v):\n%s", cfg.HealthyZRange, cfg.MaxEpisodeSteps, err, got)
	}
	// Walker2d bounds only height and pitch.
	if got, _ := Rules(specOf(t, "walker2d")); strings.Contains(got, "every velocity") {
		t.Errorf("walker2d rules mention a state range:\n%s", got)
	}
}

func TestDescribeAction(t *testing.T) {
	for _, tc := range []struct {
		env    string
		action []float32
		want   string
	}{
		{"hopper", []float32{0.8, -0.2, 0}, "thigh +0.80 (+160 N·m), leg -0.20 (-40 N·m), foot 0.00"},
		{"hopper", []float32{1.5, -3, float32(math.NaN())}, "thigh +1.50 (clamped to +1: +200 N·m), leg -3.00 (clamped to -1: -200 N·m), foot NaN (invalid)"},
		{"walker2d", []float32{0, 0, 0, 0.5, 0, -1}, "right thigh 0.00, right leg 0.00, right foot 0.00, left thigh +0.50 (+50 N·m), left leg 0.00, left foot -1.00 (-100 N·m)"},
		{"halfcheetah", []float32{1, 1, 1, 1, 1, 1}, "back thigh +1.00 (+120 N·m), back shin +1.00 (+90 N·m), back foot +1.00 (+60 N·m), front thigh +1.00 (+120 N·m), front shin +1.00 (+60 N·m), front foot +1.00 (+30 N·m)"},
		{"ant", []float32{1, 0, 0, 0, 0, 0, 0, -0.5}, "FR hip +1.00 (+150 N·m), FR ankle 0.00, FL hip 0.00, FL ankle 0.00, BL hip 0.00, BL ankle 0.00, BR hip 0.00, BR ankle -0.50 (-75 N·m)"},
	} {
		got, err := describeAction(specOf(t, tc.env), tc.action)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s %v:\n got %s\nwant %s", tc.env, tc.action, got, tc.want)
		}
	}
}

func TestDescribeStep(t *testing.T) {
	spec := specOf(t, "hopper")
	obs := obsWith(t, spec, map[string]float64{"torso height": 1.21})
	got, err := describeStep(spec, 37, obs, []float32{0.8, -0.2, 0}, 2.314)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := describe(spec, obs)
	a, _ := describeAction(spec, []float32{0.8, -0.2, 0})
	if want := "step 37: " + d + "; action " + a + "; reward 2.31"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if strings.Contains(got, "\n") {
		t.Error("step line spans lines")
	}
}

func TestErrors(t *testing.T) {
	unknown := env.Spec{ID: "breakout", Observation: env.UnboundedBox(4), Action: env.Discrete(6)}
	tr := &traj.Trajectory{ID: "x", Env: "breakout", Rewards: []float32{1}}
	for name, err := range map[string]error{
		"Rules":          second(Rules(unknown)),
		"describe":       second(describe(unknown, make([]float32, 4))),
		"describeAction": second(describeAction(unknown, []float32{1})),
		"describeStep":   second(describeStep(unknown, 0, make([]float32, 4), []float32{1}, 0)),
		"Summarize":      second(Summarize(unknown, tr, Budget{})),
	} {
		if err == nil {
			t.Errorf("%s accepted an unknown env", name)
			continue
		}
		for _, id := range []string{"breakout", "ant", "halfcheetah", "hopper", "pong", "walker2d"} {
			if !strings.Contains(err.Error(), id) {
				t.Errorf("%s error %q does not name %s", name, err, id)
			}
		}
	}
	hopper := specOf(t, "hopper")
	for name, err := range map[string]error{
		"short obs":    second(describe(hopper, make([]float32, 10))),
		"long action":  second(describeAction(hopper, make([]float32, 4))),
		"step obs":     second(describeStep(hopper, 0, make([]float32, 3), make([]float32, 3), 0)),
		"nil traj":     second(Summarize(hopper, nil, Budget{})),
		"empty traj":   second(Summarize(hopper, &traj.Trajectory{ID: "e", Env: "hopper", ObsDim: 11, ActDim: 3}, Budget{})),
		"wrong env":    second(Summarize(hopper, &traj.Trajectory{ID: "w", Env: "ant", ObsDim: 11, ActDim: 3}, Budget{})),
		"ragged sizes": second(Summarize(hopper, &traj.Trajectory{ID: "r", Env: "hopper", ObsDim: 11, ActDim: 3, Rewards: []float32{1}, Obs: make([]float32, 11)}, Budget{})),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fixed(-0.001, 2), "0.00"}, {fixed(-0.4, 0), "0"}, {fixed(-1.5, 1), "-1.5"}, {fixed(2.345, 2), "2.35"},
		{signed(0.001, 2), "0.00"}, {signed(0.8, 2), "+0.80"}, {signed(-0.2, 2), "-0.20"},
		{num(0.001), "0.001"}, {num(2), "2"}, {num(0.7), "0.7"},
		{signedWord(-0.001, 2, " m", "above", "below"), "0.00 m above"}, {signedWord(-0.05, 2, " m", "above", "below"), "0.05 m below"},
		{fixed(wrapDeg(190), 0), "-170"}, {fixed(wrapDeg(-180), 0), "180"}, {fixed(wrapDeg(540), 0), "180"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
