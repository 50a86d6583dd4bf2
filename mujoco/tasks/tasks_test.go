package tasks

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco"
)

func registry() *env.Registry { return env.NewRegistry(Specs()...) }

func spec(t *testing.T, id string) env.Spec {
	t.Helper()
	s, err := registry().Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpacesMatchGymnasiumV4(t *testing.T) {
	for _, tc := range []struct {
		id       string
		obs, act int
		asset    string
		gears    []float64
	}{
		{"hopper", 11, 3, "hopper.xml", []float64{200, 200, 200}},
		{"walker2d", 17, 6, "walker2d.xml", []float64{100, 100, 100, 100, 100, 100}},
		{"halfcheetah", 17, 6, "half_cheetah.xml", []float64{120, 90, 60, 120, 60, 30}},
		{"ant", 27, 8, "ant.xml", []float64{150, 150, 150, 150, 150, 150, 150, 150}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			s := spec(t, tc.id)
			if s.Observation.Dim != tc.obs || s.Action.Dim != tc.act || len(s.ObsLayout) != tc.obs {
				t.Fatalf("obs %d act %d layout %d; want %d %d", s.Observation.Dim, s.Action.Dim, len(s.ObsLayout), tc.obs, tc.act)
			}
			if s.MaxEpisodeSteps != 1000 {
				t.Errorf("max episode steps %d", s.MaxEpisodeSteps)
			}
			m, err := Model(tc.asset)
			if err != nil {
				t.Fatal(err)
			}
			cr, gear := m.ActuatorCtrlRange(), m.ActuatorGear()
			for i := 0; i < m.NU(); i++ {
				if float32(cr[2*i]) != s.Action.Low[i] || float32(cr[2*i+1]) != s.Action.High[i] {
					t.Errorf("actuator %d ctrlrange %v..%v vs spec %v..%v", i, cr[2*i], cr[2*i+1], s.Action.Low[i], s.Action.High[i])
				}
				if gear[6*i] != tc.gears[i] {
					t.Errorf("actuator %d gear %v want %v", i, gear[6*i], tc.gears[i])
				}
			}
			for _, f := range s.ObsLayout {
				if f.Name == "" || f.Doc == "" {
					t.Errorf("undocumented observation field %+v", f)
				}
			}
			// The planar walkers' matching subspace is every observation
			// but the absolute forward velocity.
			if tc.id == "hopper" || tc.id == "walker2d" {
				if len(s.MatchDims) != tc.obs-1 {
					t.Errorf("match dims %v, want all %d but one", s.MatchDims, tc.obs)
				}
				for _, d := range s.MatchDims {
					if s.ObsLayout[d].Name == "forward velocity" {
						t.Errorf("match dims %v include the forward velocity (%d)", s.MatchDims, d)
					}
				}
			}
		})
	}
}

// TestModelsMatchStandardRobots checks the local-coordinate MJCF against the
// standard robots' global joint positions, timesteps and masses.
func TestModelsMatchStandardRobots(t *testing.T) {
	bodyZ := func(m *mujoco.Model, name string) float64 {
		d, err := mujoco.NewData(m)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		id := m.ID(mujoco.ObjBody, name)
		if id < 0 {
			t.Fatalf("no body %q", name)
		}
		return d.XPos()[3*id+2]
	}
	capsule := func(r, l, rho float64) float64 { return rho * (math.Pi*r*r*l + 4.0/3*math.Pi*r*r*r) }
	for _, asset := range []string{"hopper.xml", "walker2d.xml"} {
		m, err := Model(asset)
		if err != nil {
			t.Fatal(err)
		}
		// Hip, knee and ankle of the standard model sit at z = 1.05, 0.6, 0.1 m.
		for name, z := range map[string]float64{"torso": 1.25, "thigh": 1.05, "leg": 0.6, "foot": 0.1} {
			if got := bodyZ(m, name); math.Abs(got-z) > 1e-12 {
				t.Errorf("%s: body %s at z=%v want %v", asset, name, got, z)
			}
		}
		if m.Timestep() != 0.002 {
			t.Errorf("%s timestep %v", asset, m.Timestep())
		}
		mass := m.BodyMass()
		if want := capsule(0.05, 0.4, 1000); math.Abs(mass[1]-want) > 1e-9 {
			t.Errorf("%s torso mass %v want %v", asset, mass[1], want)
		}
		if want := capsule(0.04, 0.5, 1000); math.Abs(mass[3]-want) > 1e-9 {
			t.Errorf("%s leg mass %v want %v", asset, mass[3], want)
		}
	}
	hc, _ := Model("half_cheetah.xml")
	total := 0.0
	for _, v := range hc.BodyMass() {
		total += v
	}
	if math.Abs(total-14) > 1e-9 || hc.Timestep() != 0.01 {
		t.Errorf("halfcheetah total mass %v timestep %v, want 14 kg and 0.01 s", total, hc.Timestep())
	}
	ant, _ := Model("ant.xml")
	if want := 5 * 4.0 / 3 * math.Pi * math.Pow(0.25, 3); math.Abs(ant.BodyMass()[1]-want) > 1e-9 {
		t.Errorf("ant torso mass %v want %v", ant.BodyMass()[1], want)
	}
	if ant.NQ() != 15 || ant.NV() != 14 || ant.NBody() != 14 {
		t.Errorf("ant nq %d nv %d nbody %d", ant.NQ(), ant.NV(), ant.NBody())
	}
}

// TestRewardTermsFromState recomputes each step's reward from the state
// before and after it and compares with what the task returned.
func TestRewardTermsFromState(t *testing.T) {
	for _, id := range []string{"hopper", "walker2d", "halfcheetah", "ant"} {
		t.Run(id, func(t *testing.T) {
			s := spec(t, id)
			e, err := s.New(env.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			obs := make([]float32, s.Observation.Dim)
			e.Reset(rng, obs)
			d := e.(interface{ Data() *mujoco.Data }).Data()
			m := d.Model()
			torso := m.ID(mujoco.ObjBody, "torso")
			var dt float64
			var ctrlW, healthyR float64
			switch id {
			case "hopper", "walker2d":
				dt, ctrlW, healthyR = 0.008, 1e-3, 1
			case "halfcheetah":
				dt, ctrlW = 0.05, 0.1
			case "ant":
				dt, ctrlW, healthyR = 0.05, 0.5, 1
			}
			act := make([]float32, s.Action.Dim)
			for step := 0; step < 200; step++ {
				for i := range act {
					act[i] = float32(2*rng.Float64() - 1)
				}
				x0 := d.QPos()[0]
				if id == "ant" {
					x0 = d.XPos()[3*torso]
				}
				r, term, err := e.Step(act, obs)
				if err != nil {
					t.Fatal(err)
				}
				x1 := d.QPos()[0]
				if id == "ant" {
					x1 = d.XPos()[3*torso]
				}
				var ctrl float64
				for _, a := range act {
					ctrl += float64(a) * float64(a)
				}
				want := (x1-x0)/dt + healthyR - ctrlW*ctrl
				if math.Abs(r-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Fatalf("step %d: reward %v, recomputed %v", step, r, want)
				}
				// The observation is the state without the x (and y) position.
				off := 1
				if id == "ant" {
					off = 2
				}
				if obs[0] != float32(d.QPos()[off]) {
					t.Fatalf("obs[0]=%v want qpos[%d]=%v", obs[0], off, d.QPos()[off])
				}
				if term {
					e.Reset(rng, obs)
				}
			}
		})
	}
}

func TestHopperHealthyRanges(t *testing.T) {
	s := spec(t, "hopper")
	e, _ := s.New(env.DefaultOptions())
	defer e.Close()
	p := e.(*planar)
	obs := make([]float32, 11)
	p.Reset(rand.New(rand.NewPCG(3, 4)), obs)
	for _, tc := range []struct {
		name    string
		set     func()
		healthy bool
	}{
		{"reset state", func() {}, true},
		{"too low", func() { p.qpos[1] = 0.69 }, false},
		{"pitched forward", func() { p.qpos[2] = 0.21 }, false},
		{"pitched back", func() { p.qpos[2] = -0.21 }, false},
		{"fast joint", func() { p.qvel[4] = 101 }, false},
		{"fast forward (x velocity is bounded too)", func() { p.qvel[0] = 100.5 }, false},
		{"x position is not bounded", func() { p.qpos[0] = 1e6 }, true},
	} {
		p.Reset(rand.New(rand.NewPCG(3, 4)), obs)
		tc.set()
		if got := p.healthy(); got != tc.healthy {
			t.Errorf("%s: healthy=%v want %v", tc.name, got, tc.healthy)
		}
	}
}

// run steps a VecEnv with a fixed policy and returns the first episode lengths.
func episodeLengths(t *testing.T, id string, n int, policy func(step int, act []float32)) []int {
	t.Helper()
	v, err := env.New(spec(t, id), env.Config{NumEnvs: n})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Reset(7); err != nil {
		t.Fatal(err)
	}
	act := make([]float32, n*v.Spec().Action.Dim)
	lengths := make([]int, n)
	for step := 0; step < 1001; step++ {
		policy(step, act)
		res, err := v.Step(act)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if res.Done(i) && lengths[i] == 0 {
				lengths[i] = res.EpisodeLength[i]
				if res.Truncated[i] != (res.EpisodeLength[i] == 1000) {
					t.Errorf("env %d: truncated=%v at length %d", i, res.Truncated[i], res.EpisodeLength[i])
				}
			}
		}
	}
	return lengths
}

func zero(int, []float32) {}

func TestZeroActionHopperFallsCheetahRunsToTimeLimit(t *testing.T) {
	for i, l := range episodeLengths(t, "hopper", 4, zero) {
		if l == 0 || l >= 500 {
			t.Errorf("hopper env %d: zero-action episode length %d, want a fall well before 1000", i, l)
		}
	}
	for i, l := range episodeLengths(t, "halfcheetah", 2, zero) {
		if l != 1000 {
			t.Errorf("halfcheetah env %d: episode length %d, want truncation at 1000", i, l)
		}
	}
}

func trajectory(t *testing.T, id string, seed uint64, steps int) []float32 {
	t.Helper()
	v, err := env.New(spec(t, id), env.Config{NumEnvs: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	obs, _ := v.Reset(seed)
	out := append([]float32(nil), obs...)
	rng := rand.New(rand.NewPCG(seed, 99))
	act := make([]float32, 3*v.Spec().Action.Dim)
	for k := 0; k < steps; k++ {
		for i := range act {
			act[i] = float32(2*rng.Float64() - 1)
		}
		res, err := v.Step(act)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Obs...)
		out = append(out, res.Rewards...)
	}
	return out
}

func TestSeedsReproduceExactly(t *testing.T) {
	for _, id := range []string{"hopper", "ant"} {
		a, b, c := trajectory(t, id, 11, 150), trajectory(t, id, 11, 150), trajectory(t, id, 12, 150)
		same := true
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: same seed differs at %d: %v vs %v", id, i, a[i], b[i])
			}
			same = same && a[i] == c[i]
		}
		if same {
			t.Errorf("%s: seeds 11 and 12 gave identical trajectories", id)
		}
	}
}

func TestSnapshotRestoreReplaysEpisode(t *testing.T) {
	for _, id := range []string{"walker2d", "halfcheetah"} {
		v, err := env.New(spec(t, id), env.Config{NumEnvs: 1})
		if err != nil {
			t.Fatal(err)
		}
		v.Reset(5)
		act := make([]float32, v.Spec().Action.Dim)
		for i := range act {
			act[i] = 0.3
		}
		for k := 0; k < 10; k++ {
			v.Step(act)
		}
		snap := v.Snapshot(0, nil)
		// Replay up to the episode's end: the reset after it draws from the
		// instance's RNG stream, which a physics snapshot does not rewind.
		run := func() []float32 {
			var out []float32
			for k := 0; k < 40; k++ {
				act[k%len(act)] = float32(math.Sin(float64(k)))
				res, err := v.Step(act)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, res.Rewards[0])
				if res.Done(0) {
					break
				}
				out = append(out, res.Obs...)
			}
			return out
		}
		a := run()
		if err := v.Restore(0, snap); err != nil {
			t.Fatal(err)
		}
		for i := range act {
			act[i] = 0.3
		}
		b := run()
		if len(a) != len(b) || len(a) < 10*18 {
			t.Fatalf("%s: replay lengths %d and %d (want ≥ 10 steps)", id, len(a), len(b))
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: replay differs at %d: %v vs %v", id, i, a[i], b[i])
			}
		}
		v.Close()
	}
}

func TestBadInputs(t *testing.T) {
	if _, err := registry().Lookup("hoper"); err == nil || !strings.Contains(err.Error(), "ant, halfcheetah, hopper, walker2d") {
		t.Errorf("unknown env: %v", err)
	}
	v, err := env.New(spec(t, "hopper"), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Step(make([]float32, 6)); err == nil || !strings.Contains(err.Error(), "Reset") {
		t.Errorf("step before reset: %v", err)
	}
	v.Reset(1)
	for _, tc := range []struct {
		name string
		act  []float32
		want string
	}{
		{"short", make([]float32, 5), "got 5 action values, want 6"},
		{"NaN", []float32{0, 0, 0, 0, float32(math.NaN()), 0}, "action 1 of env 1 is NaN"},
		{"Inf", []float32{float32(math.Inf(1)), 0, 0, 0, 0, 0}, "action 0 of env 0 is +Inf"},
	} {
		if _, err := v.Step(tc.act); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := env.New(spec(t, "hopper"), env.Config{NumEnvs: 0}); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("zero envs: %v", err)
	}
}

// TestPhysicsBlowUpIsACountedReset drives a hopper into a blow-up (a
// velocity just inside MuJoCo's limit, which Restore accepts, explodes in the
// next step): the episode ends as truncated at the last good observation, is
// counted, and the instance restarts cleanly.
func TestPhysicsBlowUpIsACountedReset(t *testing.T) {
	mujoco.SetWarningHandler(func(string) {})
	defer mujoco.SetWarningHandler(nil)
	v, err := env.New(spec(t, "hopper"), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Reset(3)
	snap := v.Snapshot(1, nil)
	snap[1+6+2] = 9.9e9 // time, 6 qpos, then qvel[2]
	if err := v.Restore(1, snap); err != nil {
		t.Fatal(err)
	}
	res, err := v.Step(make([]float32, 6))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated[1] || res.Terminated[1] || res.Truncated[0] || res.Rewards[1] != 0 {
		t.Fatalf("flags: trunc %v term %v reward %v", res.Truncated, res.Terminated, res.Rewards)
	}
	st := v.Stats()
	if st.PhysicsResets != 1 || !errors.Is(st.LastUnstable, env.ErrUnstable) || !strings.Contains(st.LastUnstable.Error(), "Nan, Inf or huge value") {
		t.Fatalf("stats %+v", st)
	}
	for _, x := range res.Obs {
		if math.IsNaN(float64(x)) {
			t.Fatal("NaN observation after auto-reset")
		}
	}
	if res, err = v.Step(make([]float32, 6)); err != nil || res.Truncated[1] {
		t.Fatalf("after reset: %v %v", err, res.Truncated)
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	for _, workers := range []int{1, 2} {
		v, err := env.New(spec(t, "hopper"), env.Config{NumEnvs: 8, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		v.Reset(1)
		act := make([]float32, 8*3)
		for i := range act {
			act[i] = 0.5
		}
		allocs := testing.AllocsPerRun(500, func() {
			if _, err := v.Step(act); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("workers=%d: %v allocations per Step, want 0", workers, allocs)
		}
		v.Close()
	}
}

// TestAntLegs checks the ant's leg table against the model: turning each
// hip moves the bodies of its leg, whose mean position relative to the
// torso must lie on the side the table names (F: +x, B: −x; L: +y, R: −y).
func TestAntLegs(t *testing.T) {
	spec := AntSpec(DefaultAnt())
	m, err := Model(DefaultAnt().Asset)
	if err != nil {
		t.Fatal(err)
	}
	d, err := mujoco.NewData(m)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	torso := m.ID(mujoco.ObjBody, "torso")
	if err := d.Forward(); err != nil {
		t.Fatal(err)
	}
	base := append([]float64(nil), d.XPos()...)
	for _, j := range spec.Info.Body.Joints {
		if j.Part != "hip" {
			continue
		}
		t.Run(j.Name, func(t *testing.T) {
			if err := d.Reset(); err != nil {
				t.Fatal(err)
			}
			d.QPos()[j.Angle+2] += 0.3 // the observation is qpos[2:]
			if err := d.Forward(); err != nil {
				t.Fatal(err)
			}
			x := d.XPos()
			var sx, sy float64
			moved := 0
			for b := range len(x) / 3 {
				if math.Abs(x[3*b]-base[3*b])+math.Abs(x[3*b+1]-base[3*b+1])+math.Abs(x[3*b+2]-base[3*b+2]) > 1e-9 {
					sx += base[3*b] - base[3*torso]
					sy += base[3*b+1] - base[3*torso+1]
					moved++
				}
			}
			if moved == 0 {
				t.Fatalf("turning %s moves no body", j.Name)
			}
			got := map[bool]string{true: "F", false: "B"}[sx > 0] + map[bool]string{true: "L", false: "R"}[sy > 0]
			if got != j.Group {
				t.Errorf("%s sits at %s (mean offset %.2f, %.2f), the table says %s", j.Name, got, sx/float64(moved), sy/float64(moved), j.Group)
			}
		})
	}
}

// TestDescriptions: every task describes itself, with one joint per
// actuator's hinge read from its model and torso fields inside its
// observation.
func TestDescriptions(t *testing.T) {
	for _, s := range Specs() {
		t.Run(s.ID, func(t *testing.T) {
			if s.Info == nil || s.Info.Body == nil {
				t.Fatal("no description of the body")
			}
			b := s.Info.Body
			if len(b.Actuators) != s.Action.Dim || len(b.Joints) != s.Action.Dim {
				t.Errorf("%d actuators and %d joints for %d action values", len(b.Actuators), len(b.Joints), s.Action.Dim)
			}
			if s.Info.FrameSkip < 1 || !(s.Info.Timestep > 0) || !(b.StartHeight > 0) {
				t.Errorf("frame skip %d, timestep %g s, start height %g m", s.Info.FrameSkip, s.Info.Timestep, b.StartHeight)
			}
			for i, j := range b.Joints {
				if j.Angle < 0 || j.Angle >= s.Observation.Dim || j.Velocity < 0 || j.Velocity >= s.Observation.Dim || (i > 0 && j.Angle <= b.Joints[i-1].Angle) {
					t.Errorf("joint %s at observation indices %d, %d: outside or out of order", j.Name, j.Angle, j.Velocity)
				}
				if !(j.Range[0] < j.Range[1]) || j.Role == "" || j.Part == "" {
					t.Errorf("joint %s: range %v, role %q, part %q", j.Name, j.Range, j.Role, j.Part)
				}
			}
			for _, bd := range b.Healthy.Bounds {
				if bd.Obs < 0 || bd.Obs >= s.Observation.Dim || !(bd.Reach > 0) {
					t.Errorf("bound on %s at observation index %d, reach %g", bd.Quantity, bd.Obs, bd.Reach)
				}
			}
		})
	}
}

// TestWorkersDoNotChangeResults steps hopper and halfcheetah batches for a
// few hundred steps with random actions, episodes ending and resetting on
// the way, serially (one worker, every instance inline in Step) and with
// helper goroutines that own blocks of instances and steal from each
// other: every observation, reward, flag and episode figure must be
// bit-identical, whoever stepped the instance.
func TestWorkersDoNotChangeResults(t *testing.T) {
	const steps = 300
	for _, id := range []string{"hopper", "halfcheetah"} {
		for _, n := range []int{8, 13} {
			var want []uint64
			for _, workers := range []int{1, 2, 3, 8} {
				got := stepDigest(t, spec(t, id), n, workers, steps)
				if want == nil {
					want = got
					continue
				}
				for k := range want {
					if got[k] != want[k] {
						t.Errorf("%s, %d envs: %d workers differ from 1 worker at step %d", id, n, workers, k)
						break
					}
				}
			}
			t.Logf("%s, %d envs: digest of step %d %016x", id, n, steps, want[steps-1])
		}
	}
}

// stepDigest returns, for each step, a running FNV-1a hash over the bits of
// every buffer of the step's Result.
func stepDigest(t *testing.T, s env.Spec, n, workers, steps int) []uint64 {
	v, err := env.New(s, env.Config{NumEnvs: n, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	h := uint64(14695981039346656037)
	mix := func(x uint64) {
		for b := 0; b < 8; b++ {
			h = (h ^ (x >> (8 * b) & 0xff)) * 1099511628211
		}
	}
	obs, err := v.Reset(7)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range obs {
		mix(uint64(math.Float32bits(x)))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	act := make([]float32, n*s.Action.Dim)
	out := make([]uint64, steps)
	ends := 0
	for k := range out {
		for j := range act {
			act[j] = float32(2*rng.Float64() - 1)
		}
		res, err := v.Step(act)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			for _, x := range res.Obs[i*s.Observation.Dim : (i+1)*s.Observation.Dim] {
				mix(uint64(math.Float32bits(x)))
			}
			mix(uint64(math.Float32bits(res.Rewards[i])))
			if res.Done(i) {
				ends++
				mix(math.Float64bits(res.EpisodeReturn[i]) ^ uint64(res.EpisodeLength[i]))
				for _, x := range res.FinalObs[i*s.Observation.Dim : (i+1)*s.Observation.Dim] {
					mix(uint64(math.Float32bits(x)))
				}
				if res.Terminated[i] {
					mix(1)
				}
			}
		}
		out[k] = h
	}
	if s.ID == "hopper" && ends == 0 {
		t.Errorf("%s: no episode ended in %d steps; the test wants resets on the way", s.ID, steps)
	}
	return out
}

// TestMarshalContinuesExactlyEveryTask checks that a VecEnv's saved state
// (what a checkpoint holds) continues bit for bit in a new VecEnv — rewards,
// observations, episode returns and the full physics state after every step
// — mid-episode and across resets, for every task and several cut points: a
// resumed run must compute what the uninterrupted one computes. It failed
// on ant (the torso x its reward starts from) and, at some cuts, on hopper
// (the solver's warm start, which mj_forward replaced on restore).
func TestMarshalContinuesExactlyEveryTask(t *testing.T) {
	for _, id := range []string{"hopper", "walker2d", "halfcheetah", "ant"} {
		t.Run(id, func(t *testing.T) {
			s := spec(t, id)
			rng := rand.New(rand.NewPCG(1, 2))
			acts := make([]float32, 400*2*s.Action.Dim)
			for i := range acts {
				acts[i] = float32(rng.NormFloat64())
			}
			at := func(k int) []float32 { return acts[k*2*s.Action.Dim : (k+1)*2*s.Action.Dim] }
			// step returns everything a step produced, float64 values as
			// their bits.
			step := func(v env.VecEnv, k int) []uint64 {
				res, err := v.Step(at(k))
				if err != nil {
					t.Fatal(err)
				}
				var out []uint64
				for _, x := range append(append([]float32(nil), res.Rewards...), res.Obs...) {
					out = append(out, uint64(math.Float32bits(x)))
				}
				for i := range 2 {
					if res.Done(i) {
						out = append(out, math.Float64bits(res.EpisodeReturn[i]))
					}
					for _, x := range v.Snapshot(i, nil) {
						out = append(out, math.Float64bits(x))
					}
				}
				return out
			}
			for _, cut := range []int{13, 20, 50} {
				v, err := env.New(s, env.Config{NumEnvs: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer v.Close()
				if _, err := v.Reset(7); err != nil {
					t.Fatal(err)
				}
				for k := 0; k < cut; k++ {
					step(v, k)
				}
				b, err := v.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				w, err := env.New(s, env.Config{NumEnvs: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				if _, err := w.Reset(99); err != nil {
					t.Fatal(err)
				}
				if err := w.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
				for k := cut; k < cut+100; k++ {
					a, c := step(v, k), step(w, k)
					if len(a) != len(c) {
						t.Fatalf("cut at step %d: step %d after the restore ends episodes the uninterrupted one does not", cut, k-cut)
					}
					for i := range a {
						if a[i] != c[i] {
							t.Fatalf("cut at step %d: step %d after the restore, value %d (rewards, observations, returns, states): bits %x uninterrupted, %x restored",
								cut, k-cut, i, a[i], c[i])
						}
					}
				}
			}
		})
	}
}

// TestResetStateMatchesResetData: an instance reset by Data.ResetState (the
// envs' reset) follows exactly the trajectory of one reset by mj_resetData
// (Data.Reset), for every task: the same random controls, the same reset
// noise, resets from contact-rich states, every state compared bit for bit.
func TestResetStateMatchesResetData(t *testing.T) {
	for _, id := range []string{"hopper", "walker2d", "halfcheetah", "ant"} {
		t.Run(id, func(t *testing.T) {
			m, skip, err := Physics(id)
			if err != nil {
				t.Fatal(err)
			}
			var ds [2]*mujoco.Data
			var rngs [2]*rand.Rand
			for i := range ds {
				if ds[i], err = mujoco.NewData(m); err != nil {
					t.Fatal(err)
				}
				defer ds[i].Close()
				rngs[i] = rand.New(rand.NewPCG(7, 8))
			}
			reset := [2]func(d *mujoco.Data) error{
				func(d *mujoco.Data) error { return d.Reset() },
				func(d *mujoco.Data) error { d.ResetState(); return nil },
			}
			var snaps [2][]float64
			pick := rand.New(rand.NewPCG(9, 10))
			const steps = 1500
			resets := 0
			for k := 0; k < steps; k++ {
				doReset := k > 0 && pick.IntN(20) == 0 // every 20 steps on average, the first after stepping
				for i, d := range ds {
					r := rngs[i]
					if doReset {
						if err := reset[i](d); err != nil {
							t.Fatal(err)
						}
						for j := range d.QPos() {
							d.QPos()[j] += 0.1 * (2*r.Float64() - 1)
						}
						for j := range d.QVel() {
							d.QVel()[j] = 0.1 * r.NormFloat64()
						}
						if err := d.Forward(); err != nil {
							t.Fatal(err)
						}
					}
					for j := range d.Ctrl() {
						d.Ctrl()[j] = 2*r.Float64() - 1
					}
					if err := d.Step(skip); err != nil {
						t.Fatalf("step %d: %v", k, err)
					}
					snaps[i] = d.Snapshot(snaps[i])
				}
				if doReset {
					resets++
				}
				for j := range snaps[0] {
					if math.Float64bits(snaps[0][j]) != math.Float64bits(snaps[1][j]) {
						t.Fatalf("step %d (after %d resets): snapshot value %d is %v after mj_resetData, %v after ResetState",
							k, resets, j, snaps[0][j], snaps[1][j])
					}
				}
			}
			if resets < 30 {
				t.Fatalf("only %d resets in %d steps", resets, steps)
			}
			t.Logf("%d steps, %d resets: identical", steps, resets)
		})
	}
}
