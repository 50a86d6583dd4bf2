// Package interpret is ULTRA's state interpretation function: it turns the
// numeric states, actions and rewards of a trajectory into compact, faithful
// English for an LLM advisor.
//
// [Rules] states a task's goal, reward, termination conditions, time limit
// and action meanings; [Describe], [describeAction] and [describeStep]
// render one state, action or step; [Summarize] fits a whole trajectory into
// a token budget and says exactly which steps it left out, either as a
// uniform stride ([ResolutionStride]) or at several resolutions with
// physics events, each step tagged with why it is shown
// ([ResolutionMulti]); [ShowSteps] renders a window at full resolution.
//
// Everything is read from the task's description, [env.Spec.Info], which
// the task fills from the configuration and model it runs with: the torso
// fields and joints of its observation (with labels, limits, gears and
// control ranges), its healthy ranges, reward weights and timing, so the
// text follows the simulator rather than a copy of its numbers, and a new
// task needs no change here. Pong (env "pong", the features observation;
// not "pong-pixels") is read the same way from its description of the game
// ([env.PongGame]: geometry, speeds, actions, and the ball's predicted
// intercept with the agent's paddle line). Output uses fixed decimals and
// never depends on map order or clocks, so equal inputs give byte-equal
// text (prompts stay cacheable).
//
// Sign conventions, checked against the simulator by the tests (foot
// directions follow from the same joint axes): x is forward (the direction
// the reward pays for), z is up, y is left. Planar pitch > 0 leans the
// torso forward (halfcheetah: nose down); hopper and walker2d joint angles
// > 0 swing the segment's far end forward (foot: toes up), halfcheetah
// joint angles > 0 swing it backward. Ant legs are named by
// where they sit (FL = front left, at +x +y; BL, BR, FR for legs 2, 3, 4),
// which for legs 2-4 differs from the historical MJCF body names and the
// observation layout's labels.
package interpret

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
)

// Rules returns the task's rules for the prompt: goal, what the reward pays
// for (with the coefficients the task runs with), the exact termination
// conditions (healthy ranges in both SI units and degrees where angles),
// the time limit, and what each action dimension does (which joint and
// motor, range [-1, 1], gear → N·m). A spec without a description is an
// error naming the tasks that have one.
func Rules(spec env.Spec) (string, error) {
	t, err := lookup(spec)
	if err != nil {
		return "", err
	}
	if t.pong != nil {
		return t.pongRules(spec), nil
	}
	bd := t.body
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	dt := round9(t.dt())
	w("Task: %s — %s.", t.id, spec.Doc)
	w("Goal: %s.", t.info.Goal)
	w("Timing: one step lasts %s s (%d physics steps of %s s); the %d-step time limit is %s s.",
		num(dt), t.info.FrameSkip, num(t.info.Timestep), t.maxSteps, num(round9(dt*float64(t.maxSteps))))

	// Reward.
	r := bd.Reward
	var paid []string
	switch {
	case r.UnitForward:
		paid = append(paid, fmt.Sprintf("forward velocity (m/s: the torso's x displacement over the step ÷ %s s)", num(dt)))
	case r.ForwardWeight != 0:
		paid = append(paid, fmt.Sprintf("%s × forward velocity (m/s: the torso's x displacement over the step ÷ %s s)", num(r.ForwardWeight), num(dt)))
	}
	if r.HealthyBonus {
		paid = append(paid, fmt.Sprintf("%s healthy bonus (%s)", num(r.HealthyReward), bonusWhen(bd.Healthy.Terminates)))
	}
	fmt.Fprintf(&b, "Reward per step = %s − %s × Σ action²", strings.Join(paid, " + "), num(r.CtrlCostWeight))
	if !r.HealthyBonus {
		b.WriteString("; there is no healthy bonus")
	}
	for _, o := range r.Omits {
		b.WriteString("; " + o)
	}
	b.WriteString(".\n")

	// Termination.
	h := bd.Healthy
	if h.IsEmpty() {
		w("Termination: none — %s.", h.Note)
	} else {
		if h.Terminates {
			w("Termination: the episode ends (a failure) as soon as the state after a step is unhealthy. Healthy means all of:")
		} else {
			w("Termination: none; the healthy bonus is paid only while the state is healthy, which means all of:")
		}
		var conds []string
		for _, bo := range h.Bounds {
			if bo.Closed {
				conds = append(conds, fmt.Sprintf("%s between %s %s and %s %s inclusive", bo.Quantity, num(bo.Range[0]), bo.Unit, num(bo.Range[1]), bo.Unit))
			} else {
				conds = append(conds, bo.Quantity+" "+openRange(bo.Range, bo.Unit, bo.IsAngle()))
			}
		}
		if e := h.Every; e != nil {
			conds = append(conds, e.What+" "+openRange(e.Range, "", false)+clipNote(t.velClip, e.Range))
		}
		if h.Finite {
			conds = append(conds, "every position and velocity value finite")
		}
		b.WriteString(bullets(conds))
		if h.Note != "" {
			w("%s.", h.Note)
		}
	}
	w("Time limit: the episode is truncated after %d steps (not a failure).", t.maxSteps)

	// How to read the states.
	if bd.Signs != "" {
		w("%s Joint entries read \"angle (angular velocity)\".", bd.Signs)
	}

	// Actions.
	w("Actions: %d values, each in [-1, 1] (values outside are clamped); each sets one motor's torque = value × gear:", len(bd.Actuators))
	for a, act := range bd.Actuators {
		j := bd.Joints[act.Joint]
		w("- action[%d] %s: %s torque on joint %s, gear %s → %s to %s N·m; joint range %s° to %s°.",
			a, j.Label(), j.Role, j.Name, num(act.Gear), num(act.Ctrl[0]*act.Gear), num(act.Ctrl[1]*act.Gear),
			fixed(deg(j.Range[0]), 0), fixed(deg(j.Range[1]), 0))
	}
	return b.String(), nil
}

// bullets renders items as "- a;\n- b.\n".
func bullets(items []string) string {
	var b strings.Builder
	for i, it := range items {
		end := ";"
		if i == len(items)-1 {
			end = "."
		}
		b.WriteString("- " + it + end + "\n")
	}
	return b.String()
}

func bonusWhen(terminates bool) string {
	if terminates {
		return "paid on every step, the terminating one included"
	}
	return "paid only while healthy"
}

// openRange renders an open interval as a condition: "> 0.7 m",
// "strictly between 0.8 m and 2 m", with degrees added for angles.
func openRange(r [2]float64, unit string, angle bool) string {
	u := ""
	if unit != "" {
		u = " " + unit
	}
	lo, hi := r[0], r[1]
	loInf, hiInf := math.IsInf(lo, -1), math.IsInf(hi, 1)
	var s string
	switch {
	case loInf && hiInf:
		return "unbounded"
	case hiInf:
		s = fmt.Sprintf("> %s%s (no upper limit)", num(lo), u)
	case loInf:
		s = fmt.Sprintf("< %s%s (no lower limit)", num(hi), u)
	default:
		s = fmt.Sprintf("strictly between %s and %s%s", num(lo), num(hi), u)
	}
	if angle && !loInf && !hiInf {
		s += fmt.Sprintf(" (%s° to %s°)", fixed(deg(lo), 1), fixed(deg(hi), 1))
	}
	return s
}

func clipNote(clip float64, r [2]float64) string {
	if math.IsInf(clip, 1) || clip >= r[1] {
		return ""
	}
	return fmt.Sprintf(" (the states shown clip velocities at ±%s, so this limit is not visible in them)", num(clip))
}

// describe renders one observation of spec's task compactly, e.g. for
// hopper: "torso 1.21 m high (0.51 m above the 0.7 m fall limit), pitched
// 4.6° forward (limit ±11.5°); thigh -12° (57°/s), leg -30° (-10°/s), foot
// 8° (0°/s); moving forward 1.32 m/s, up 0.10 m/s, pitching forward 20°/s".
// Angles are in degrees, heights in m, velocities carry units, and the
// distance to each healthy limit is given. Ant orientation is given as roll,
// pitch and yaw computed from the quaternion plus upright/tilted/flipped;
// halfcheetah notes when it is flipped onto its back (|pitch| > 90°).
// Velocities at the observation's clip bound are marked "≥"/"≤". Pong gives
// the ball's position and heading, where it will meet the agent's paddle
// line (folded at the walls), the agent paddle's offset from that point in
// paddle heights and whether it can get there in time, and the opponent's
// paddle (see describePong).
func describe(spec env.Spec, obs []float32) (string, error) {
	t, err := lookup(spec)
	if err != nil {
		return "", err
	}
	if len(obs) != t.obsDim {
		return "", fmt.Errorf("interpret: %s observation has %d values, want %d", t.id, len(obs), t.obsDim)
	}
	var b strings.Builder
	t.describe(&b, obs)
	return b.String(), nil
}

func (t *task) describe(b *strings.Builder, o []float32) {
	if t.pong != nil {
		t.describePong(b, o)
		return
	}
	v := func(i int) float64 { return float64(o[i]) }
	bd := t.body
	to := bd.Torso
	var segs []string // joined by "; "
	var torso []string
	if i := to.Height; i != env.NoObs {
		h := v(i)
		if to.HeightFromStart {
			torso = append(torso, fmt.Sprintf("torso %s its %s m start height", signedWord(h, 2, " m", "above", "below"), fixed(bd.StartHeight, 2)))
		} else {
			bo, _ := t.bound(i)
			torso = append(torso, fmt.Sprintf("torso %s m high (%s)", fixed(h, 2), heightLimits(h, t.bounds(i), bo.LowerName)))
		}
	}
	if i := to.Pitch; i != env.NoObs {
		p := v(i)
		d := deg(p)
		var sb strings.Builder
		if bd.Flip > 0 {
			wp := wrapDeg(d)
			fmt.Fprintf(&sb, "pitched %s", signedWord(wp, 1, "°", to.PitchWords[0], to.PitchWords[1]))
			if turns := math.Round((d - wp) / 360); turns != 0 {
				fmt.Fprintf(&sb, " (after %s full turns)", fixed(turns, 0))
			}
			d = wp
		} else {
			fmt.Fprintf(&sb, "pitched %s", signedWord(d, 1, "°", to.PitchWords[0], to.PitchWords[1]))
		}
		if _, ok := t.bound(i); ok {
			sb.WriteString(pitchLimit(p, t.bounds(i)))
		}
		if bd.Flip > 0 && math.Abs(d) > deg(bd.Flip) {
			sb.WriteString(" — FLIPPED onto its back")
		}
		torso = append(torso, sb.String())
	}
	if len(torso) > 0 {
		segs = append(segs, strings.Join(torso, ", "))
	}
	if q := to.Orientation; q[0] != env.NoObs {
		if e, ok := eulerFromQuat([4]float64{v(q[0]), v(q[1]), v(q[2]), v(q[3])}); ok {
			segs = append(segs, fmt.Sprintf("%s (tilt %s°): roll %s° (%s), pitch %s° (%s), yaw %s° (%s)",
				e.class(to.UprightTilt, to.FlippedTilt), fixed(e.tilt, 1),
				fixed(e.roll, 1), pick(e.roll, 1, "right side down", "left side down", "level"),
				fixed(e.pitch, 1), pick(e.pitch, 1, "nose down", "nose up", "level"),
				fixed(e.yaw, 1), pick(e.yaw, 1, "facing left of +x", "facing right of +x", "facing +x")))
		} else {
			segs = append(segs, "orientation unknown (invalid quaternion)")
		}
	}
	var jb strings.Builder
	t.writeJoints(&jb, o)
	segs = append(segs, jb.String())
	var moving []string
	for _, m := range []struct {
		i        int
		pos, neg string
	}{{to.VX, "forward", "backward"}, {to.VY, "left", "right"}, {to.VZ, "up", "down"}} {
		if m.i != env.NoObs {
			moving = append(moving, t.velWord(v(m.i), m.pos, m.neg))
		}
	}
	if to.PitchRate != env.NoObs && to.RollRate == env.NoObs { // a planar body: its one rate, with words
		moving = append(moving, "pitching "+t.rateWord(v(to.PitchRate), to.PitchWords[0], to.PitchWords[1]))
	}
	if len(moving) > 0 {
		segs = append(segs, "moving "+strings.Join(moving, ", "))
	}
	if to.RollRate != env.NoObs {
		segs = append(segs, fmt.Sprintf("body rates roll %s, pitch %s, yaw %s", t.rate(v(to.RollRate)), t.rate(v(to.PitchRate)), t.rate(v(to.YawRate))))
	}
	b.WriteString(strings.Join(segs, "; "))
}

// writeJoints renders the joints grouped: "thigh -12° (57°/s), …" for
// hopper, "right: thigh …; left: thigh …" for walker2d and halfcheetah,
// "hips FL 10° (5°/s), …; ankles FL …" for ant (Body.JointsByPart).
func (t *task) writeJoints(b *strings.Builder, o []float32) {
	one := func(name string, j env.Joint) string {
		return fmt.Sprintf("%s %s° (%s)", name, fixed(deg(float64(o[j.Angle])), 0), t.rate(float64(o[j.Velocity])))
	}
	byPart := t.body.JointsByPart
	var groups []string
	members := map[string][]string{}
	for _, j := range t.body.Joints {
		key, name := j.Group, j.Part
		if byPart {
			key, name = j.Part+"s", j.Group
		}
		if _, ok := members[key]; !ok {
			groups = append(groups, key)
		}
		members[key] = append(members[key], one(name, j))
	}
	for i, g := range groups {
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case g == "":
		case byPart:
			b.WriteString(g + " ")
		default:
			b.WriteString(g + ": ")
		}
		b.WriteString(strings.Join(members[g], ", "))
	}
}

// heightLimits says how far h is from each finite bound of the healthy
// height range, and flags a height outside it.
func heightLimits(h float64, r [2]float64, lowName string) string {
	var parts []string
	if lo := r[0]; !math.IsInf(lo, -1) {
		if h >= lo {
			parts = append(parts, fmt.Sprintf("%s m above the %s m %s", fixed(h-lo, 2), num(lo), lowName))
		} else {
			parts = append(parts, fmt.Sprintf("%s m BELOW the %s m %s: unhealthy", fixed(lo-h, 2), num(lo), lowName))
		}
	}
	if hi := r[1]; !math.IsInf(hi, 1) {
		if h <= hi {
			parts = append(parts, fmt.Sprintf("%s m below the %s m upper limit", fixed(hi-h, 2), num(hi)))
		} else {
			parts = append(parts, fmt.Sprintf("%s m ABOVE the %s m upper limit: unhealthy", fixed(h-hi, 2), num(hi)))
		}
	}
	return strings.Join(parts, ", ")
}

// pitchLimit renders the pitch bound: " (limit ±11.5°)", or a warning
// when p (rad) is outside the open range.
func pitchLimit(p float64, r [2]float64) string {
	if math.IsInf(r[0], -1) && math.IsInf(r[1], 1) {
		return ""
	}
	lim := fmt.Sprintf("±%s°", fixed(deg(r[1]), 1))
	if r[0] != -r[1] {
		lim = fmt.Sprintf("%s° to %s°", fixed(deg(r[0]), 1), fixed(deg(r[1]), 1))
	}
	if r[0] < p && p < r[1] {
		return " (limit " + lim + ")"
	}
	return " (beyond the " + lim + " limit: unhealthy)"
}

// velWord renders a linear velocity with a direction word: "forward 1.32
// m/s", "backward 0.50 m/s", marking a clipped value "≥10.00 m/s".
func (t *task) velWord(v float64, pos, neg string) string {
	word := pos
	if fixed(v, 2) != fixed(0, 2) && v < 0 {
		word = neg
	}
	return word + " " + t.clipMark(v, true) + fixed(math.Abs(v), 2) + " m/s"
}

// rateWord renders an angular velocity with a direction word.
func (t *task) rateWord(v float64, pos, neg string) string {
	d := deg(v)
	if fixed(d, 0) == "0" {
		return "0°/s"
	}
	word := pos
	if d < 0 {
		word = neg
	}
	return word + " " + t.clipMark(v, true) + fixed(math.Abs(d), 0) + "°/s"
}

// rate renders a signed angular velocity in °/s: "57°/s", "≤-573°/s".
func (t *task) rate(v float64) string { return t.clipMark(v, false) + fixed(deg(v), 0) + "°/s" }

// clipMark returns "≥" or "≤" when v sits at the observation's clip bound
// (the true value may be larger). With magnitude set, the mark applies to
// |v| and is always "≥".
func (t *task) clipMark(v float64, magnitude bool) string {
	if math.IsInf(t.velClip, 1) || math.Abs(v) < t.velClip*(1-1e-6) {
		return ""
	}
	if magnitude || v > 0 {
		return "≥"
	}
	return "≤"
}

// euler is an orientation as ZYX (yaw, pitch, roll) angles and tilt, in degrees.
type euler struct{ roll, pitch, yaw, tilt float64 }

// class names the tilt: upright up to uprightDeg, flipped beyond
// flippedDeg, tilted between.
func (e euler) class(uprightDeg, flippedDeg float64) string {
	switch {
	case e.tilt > flippedDeg:
		return "flipped"
	case e.tilt > uprightDeg:
		return "tilted"
	}
	return "upright"
}

// eulerFromQuat converts a MuJoCo quaternion (w, x, y, z; body to world) to
// roll about x, pitch about y and yaw about z (applied z, then y, then x)
// and the tilt between the body's z axis and the world's. It reports false
// for a zero or non-finite quaternion.
func eulerFromQuat(q [4]float64) (euler, bool) {
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if n < 1e-9 || math.IsNaN(n) || math.IsInf(n, 0) {
		return euler{}, false
	}
	w, x, y, z := q[0]/n, q[1]/n, q[2]/n, q[3]/n
	roll := math.Atan2(2*(w*x+y*z), 1-2*(x*x+y*y))
	pitch := math.Asin(max(-1, min(1, 2*(w*y-z*x))))
	yaw := math.Atan2(2*(w*z+x*y), 1-2*(y*y+z*z))
	upZ := 1 - 2*(x*x+y*y) // world z component of the body z axis
	tilt := math.Acos(max(-1, min(1, upZ)))
	return euler{roll: deg(roll), pitch: deg(pitch), yaw: deg(yaw), tilt: deg(tilt)}, true
}

// describeAction says what an action does, e.g. "thigh +0.80 (+160 N·m),
// leg -0.20 (-40 N·m), foot 0.00": each dimension's joint, value and
// resulting motor torque (omitted for values that round to 0.00); values
// outside the control range are shown with the clamped torque MuJoCo
// applies. A pong action is named with its effect: "RIGHT (paddle up)".
func describeAction(spec env.Spec, action []float32) (string, error) {
	t, err := lookup(spec)
	if err != nil {
		return "", err
	}
	if len(action) != t.actDim {
		return "", fmt.Errorf("interpret: %s action has %d values, want %d", t.id, len(action), t.actDim)
	}
	var b strings.Builder
	t.describeAction(&b, action)
	return b.String(), nil
}

func (t *task) describeAction(b *strings.Builder, action []float32) {
	if t.pong != nil {
		t.describePongAction(b, action)
		return
	}
	for i, a := range t.body.Actuators {
		if i > 0 {
			b.WriteString(", ")
		}
		v := float64(action[i])
		fmt.Fprintf(b, "%s %s", t.body.Joints[a.Joint].Label(), signed(v, 2))
		switch lo, hi := a.Ctrl[0], a.Ctrl[1]; {
		case math.IsNaN(v):
			b.WriteString(" (invalid)")
		case v < lo || v > hi:
			c := max(lo, min(hi, v))
			fmt.Fprintf(b, " (clamped to %s: %s N·m)", signed(c, 0), signed(c*a.Gear, 0))
		case fixed(v, 2) != fixed(0, 2): // no torque worth naming otherwise
			fmt.Fprintf(b, " (%s N·m)", signed(v*a.Gear, 0))
		}
	}
}

// describeStep is one line: "step 37: <describe(obs)>; action
// <describeAction(action)>; reward 2.31", obs being the state before the
// step and reward what the step earned.
func describeStep(spec env.Spec, step int, obs, action []float32, reward float64) (string, error) {
	t, err := lookup(spec)
	if err != nil {
		return "", err
	}
	if len(obs) != t.obsDim || len(action) != t.actDim {
		return "", fmt.Errorf("interpret: %s step %d has %d observation and %d action values, want %d and %d",
			t.id, step, len(obs), len(action), t.obsDim, t.actDim)
	}
	return t.step(step, obs, action, reward), nil
}

func (t *task) step(step int, obs, action []float32, reward float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d: ", step)
	t.describe(&b, obs)
	b.WriteString("; action ")
	t.describeAction(&b, action)
	fmt.Fprintf(&b, "; reward %s", fixed(reward, 2))
	return b.String()
}

// Number formatting. Every number goes through fixed (or num for config
// constants) so output is deterministic and never shows "-0".

func deg(rad float64) float64 { return rad * 180 / math.Pi }

// wrapDeg maps an angle in degrees to (-180, 180].
func wrapDeg(d float64) float64 {
	w := math.Mod(d, 360)
	if w > 180 {
		w -= 360
	} else if w <= -180 {
		w += 360
	}
	return w
}

// fixed formats x with dec decimals, without a negative zero.
func fixed(x float64, dec int) string {
	s := strconv.FormatFloat(x, 'f', dec, 64)
	if strings.HasPrefix(s, "-") && strings.Trim(s, "-0.") == "" {
		return s[1:]
	}
	return s
}

// signed is fixed with an explicit "+" on positive values.
func signed(x float64, dec int) string {
	s := fixed(x, dec)
	if x > 0 && strings.Trim(s, "0.") != "" {
		return "+" + s
	}
	return s
}

// round9 rounds away float noise from products of config constants.
func round9(x float64) float64 { return math.Round(x*1e9) / 1e9 }

// num formats a config constant in its shortest exact form: 0.7, 2, 0.001.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// signedWord renders |x| with a direction word chosen by the sign of x:
// "4.6° forward", "0.05 m below"; a value that rounds to zero takes pos.
func signedWord(x float64, dec int, unit, pos, neg string) string {
	m := fixed(math.Abs(x), dec)
	if x < 0 && m != fixed(0, dec) {
		return m + unit + " " + neg
	}
	return m + unit + " " + pos
}

// pick chooses a word by the sign of x as rounded to dec decimals.
func pick(x float64, dec int, pos, neg, zero string) string {
	switch s := fixed(x, dec); {
	case s == fixed(0, dec):
		return zero
	case x > 0:
		return pos
	}
	return neg
}
