package env

import "math"

// NoObs marks an observation index a task does not have (a torso field of
// a robot without one, say).
const NoObs = -1

// TaskInfo describes a task for the layers that explain or judge it (the
// interpretation an LLM reads, the scripted expert): its goal, timing, what
// its observation shows, its joints and motors, its reward and what ends an
// episode. The task fills it from the configuration and model it actually
// runs with, so that nothing downstream needs to know the task's types or
// read its model. Exactly one of Body and Pong is set.
type TaskInfo struct {
	// Goal is what the agent must do, one sentence without its final
	// period: "move forward (+x) as fast as possible without falling,
	// until the time limit".
	Goal string
	// FrameSkip is the number of simulator steps (Pong: frames) one env
	// step runs, with the action held.
	FrameSkip int
	// Timestep is the duration of one simulator step in seconds (MuJoCo's
	// opt.timestep; Pong: a frame, 1/60 s).
	Timestep float64
	// Body describes a MuJoCo robot; nil for other tasks.
	Body *Body
	// Pong describes the Pong game behind a features observation; nil for
	// other tasks.
	Pong *PongGame
}

// StepSeconds is the duration of one env step: FrameSkip × Timestep.
func (t *TaskInfo) StepSeconds() float64 { return float64(t.FrameSkip) * t.Timestep }

// Body describes a MuJoCo robot: the torso fields of its observation, its
// actuated joints, its reward and healthy set.
type Body struct {
	Torso Torso
	// Joints are the actuated hinges, in observation order.
	Joints []Joint
	// Actuators are the motors, one per action value, in action order.
	Actuators []Actuator
	// JointsByPart groups the joints in state text by part across groups
	// ("hips FL 10° (5°/s), …; ankles FL …", for legs named by position)
	// instead of by group ("right: thigh …; left: thigh …").
	JointsByPart bool
	// VelocityClip is the bound the observation clips velocities to (±);
	// +Inf when they are not clipped.
	VelocityClip float64
	// StartHeight is the torso's height at the model's reference pose, m.
	StartHeight float64
	// Reward is what the reward pays for.
	Reward Reward
	// Healthy is the healthy set: what ends an episode (or stops the
	// healthy bonus).
	Healthy Healthy
	// Flip is the |torso pitch| (rad) beyond which the robot lies on its
	// back: a failure that does not end the episode (halfcheetah: π/2);
	// 0 when the robot cannot flip so.
	Flip float64
	// Signs says how to read the state, in sentences: sign conventions,
	// frame, names ("Signs: pitch > 0 = torso leaning forward; …").
	Signs string
}

// Torso locates the torso's fields in the observation (NoObs where the
// robot has none).
type Torso struct {
	// Height is the torso's height, m: above the floor, or relative to
	// Body.StartHeight when HeightFromStart is set.
	Height          int
	HeightFromStart bool
	// Pitch is the torso's angle about y, rad; PitchWords say what a
	// positive and a negative pitch (and pitch rate) mean: {"forward",
	// "back"}, {"nose-down", "nose-up"}.
	Pitch      int
	PitchWords [2]string
	// Orientation is the quaternion (w, x, y, z) of a free-floating torso.
	Orientation [4]int
	// UprightTilt and FlippedTilt (degrees) classify a free-floating
	// torso's tilt, the angle between its up axis and the vertical:
	// upright up to UprightTilt, flipped beyond FlippedTilt, tilted
	// between.
	UprightTilt, FlippedTilt float64
	// VX, VY and VZ are the torso's velocities, m/s: forward (+x), left
	// (+y) and up (+z).
	VX, VY, VZ int
	// RollRate, PitchRate and YawRate are its angular velocities, rad/s
	// (in the torso frame for a free-floating torso).
	RollRate, PitchRate, YawRate int
}

// NoTorso returns a Torso with every field absent, for robots without
// one (and as a start to fill).
func NoTorso() Torso {
	return Torso{Height: NoObs, Pitch: NoObs, Orientation: [4]int{NoObs, NoObs, NoObs, NoObs},
		VX: NoObs, VY: NoObs, VZ: NoObs, RollRate: NoObs, PitchRate: NoObs, YawRate: NoObs}
}

// Joint is one actuated hinge.
type Joint struct {
	// Name is the joint's name in the model: "thigh_left_joint".
	Name string
	// Group and Part name the joint in text: group "left", part "thigh"
	// (Label "left thigh"); Group is "" when the robot has one of each
	// part.
	Group, Part string
	// Role is what the joint's motor does in anatomical terms: "hip",
	// "knee", "ankle (vertical bend)".
	Role string
	// Angle and Velocity are the observation indices of the joint's angle
	// (rad) and angular velocity (rad/s).
	Angle, Velocity int
	// Range is the joint's limits, rad.
	Range [2]float64
	// Depth counts the joints from the torso down the limb: 1 for a joint
	// on the torso (hip), 2 for the next (knee), ….
	Depth int
	// Swing is the direction a positive angle swings the segment's far
	// end in the sagittal plane: +1 forward (+x), −1 backward, 0 for a
	// joint that does not swing so (a horizontal hip).
	Swing int
	// Stance is the joint's angle in a stable stance, rad: the target of
	// the scripted expert's pull for a free-floating body.
	Stance float64
}

// Label is the joint's name in text: "thigh", "right thigh", "FL hip".
func (j Joint) Label() string {
	if j.Group == "" {
		return j.Part
	}
	return j.Group + " " + j.Part
}

// Actuator is one motor: an action value times Gear is the torque on a
// joint.
type Actuator struct {
	Joint int        // index into Body.Joints
	Gear  float64    // N·m per unit of control
	Ctrl  [2]float64 // control range; the simulator clamps to it
}

// Reward is what a locomotion task pays per step.
type Reward struct {
	// ForwardWeight multiplies the forward velocity (m/s: the torso's x
	// displacement over the step ÷ the step's duration); 0 when the task
	// does not pay for moving. With UnitForward the task has no such
	// coefficient: the velocity is paid as is (weight 1) and text states no
	// weight.
	ForwardWeight float64
	UnitForward   bool
	// HealthyBonus says whether a healthy bonus of HealthyReward is paid
	// (on every step while the episode goes on when Healthy.Terminates,
	// else only while healthy).
	HealthyBonus  bool
	HealthyReward float64
	// CtrlCostWeight multiplies Σ action², subtracted.
	CtrlCostWeight float64
	// Omits names usual terms the task leaves out, said after the others:
	// "no contact cost".
	Omits []string
}

// Healthy is a task's healthy set: the state after a step must satisfy all
// of it.
type Healthy struct {
	// Terminates says that leaving the healthy set ends the episode (a
	// failure); else it only stops the healthy bonus.
	Terminates bool
	// Bounds are the healthy ranges of observed quantities.
	Bounds []Bound
	// Every bounds every other position and velocity too; nil when they
	// are unbounded.
	Every *EveryBound
	// Finite requires every position and velocity to be finite.
	Finite bool
	// Note adds what the conditions do not say, one sentence without its
	// final period ("Flipping over does not end the episode by itself
	// while the torso height stays in range"); for a task without a
	// healthy set, why it has none.
	Note string
}

// IsEmpty reports whether h has no condition: the task never terminates.
func (h Healthy) IsEmpty() bool { return len(h.Bounds) == 0 && h.Every == nil && !h.Finite }

// Bound is the healthy range of one observed quantity: the failure margin
// the interpretation and the scripted expert measure.
type Bound struct {
	// Quantity is what is measured: "torso height", "pole angle".
	Quantity string
	// Obs is its observation index.
	Obs int
	// Unit is its unit: "m", or "rad" for an angle (shown in degrees).
	Unit string
	// Range is the healthy range, open unless Closed; an infinite end is
	// no bound.
	Range  [2]float64
	Closed bool
	// LowerName is how state text names the lower bound: "fall limit".
	LowerName string
	// Reach is the distance from a one-sided bound (or at most from a
	// two-sided one) at which the scripted expert counts the state fully
	// safe.
	Reach float64
}

// IsAngle reports whether the bounded quantity is an angle.
func (b Bound) IsAngle() bool { return b.Unit == "rad" }

// EveryBound bounds every position and velocity not bounded otherwise.
type EveryBound struct {
	What  string     // which values, in text ending in a dash: "the pitch, every joint angle (rad) and every velocity —"
	Range [2]float64 // open bounds
}

// PongGame describes the Pong game behind a features observation: its
// geometry in screen pixels (rows grow down), its speeds in pixels per
// frame, its actions, and how the features scale positions and speeds.
// [PongGame.Read] and [PongGame.Intercept] read a state and predict the
// ball the way the game moves it.
type PongGame struct {
	// Features are the observation indices of the six features.
	Features PongFeatures

	WinScore      int     // the game ends when either side reaches this score
	ServeDelay    int     // frames without a ball after a point before the serve
	BallSpeedX    float64 // horizontal speed of a served ball
	BallSpeedUp   float64 // added to the horizontal speed by every return
	BallMaxSpeedX float64 // cap on the horizontal speed; the features' vx scale
	BounceMinVY   float64 // vertical speed after a return off a paddle's centre
	BounceMaxVY   float64 // vertical speed after a return off a paddle's edge
	VYScale       float64 // the vertical speed the features map to ±1
	AgentSpeed    float64 // the agent's paddle speed while it moves
	OpponentSpeed float64 // the opponent's top paddle speed

	PlayTop, PlayBottom int // first playfield row, first row of the bottom wall
	PaddleW, PaddleH    int // paddle size
	BallW, BallH        int // ball size
	AgentX, OpponentX   int // first column of the agent's (right) and opponent's (left) paddle
	CentreX, HalfX      int // feature x = (column − CentreX) / HalfX
	CentreY, HalfY      int // feature y = (row − CentreY) / HalfY

	// Actions are the discrete actions, by index.
	Actions []PongAction
}

// PongFeatures are the observation indices of Pong's features.
type PongFeatures struct {
	BallX, BallY, BallVX, BallVY, AgentY, OpponentY int
}

// PongAction is one of Pong's discrete actions.
type PongAction struct {
	Name string // ALE's name: "RIGHT"
	Move int    // what it does to the agent's paddle: −1 up, +1 down, 0 nothing
	Note string // what else to know, "" if nothing: "FIRE does nothing: the game serves by itself"
}

// PongState is a Pong state in screen pixels (column x, row y growing
// down; speeds in pixels per frame).
type PongState struct {
	BallInPlay     bool    // false during the serve delay: no ball on screen
	BallX, BallY   float64 // centre of the ball
	BallVX, BallVY float64 // > 0: toward the agent (right) / downward
	AgentY         float64 // centre row of the agent's paddle
	OpponentY      float64 // centre row of the opponent's paddle
}

// Read decodes a features observation as far as the features allow:
// positions and speeds (to float32 precision); BallInPlay is guessed from
// the four ball values not all being 0.
func (g *PongGame) Read(obs []float32) PongState {
	f := func(i int) float64 { return float64(obs[i]) }
	c := g.Features
	cx, hx, cy, hy := float64(g.CentreX), float64(g.HalfX), float64(g.CentreY), float64(g.HalfY)
	s := PongState{AgentY: cy + f(c.AgentY)*hy, OpponentY: cy + f(c.OpponentY)*hy}
	if obs[c.BallX] != 0 || obs[c.BallY] != 0 || obs[c.BallVX] != 0 || obs[c.BallVY] != 0 {
		s.BallInPlay = true
		s.BallX, s.BallY = cx+f(c.BallX)*hx, cy+f(c.BallY)*hy
		s.BallVX, s.BallVY = f(c.BallVX)*g.BallMaxSpeedX, f(c.BallVY)*g.VYScale
	}
	return s
}

// FeatureX maps a screen column to the features' x scale: −1 the left
// edge, +1 the right edge.
func (g *PongGame) FeatureX(col float64) float64 {
	return (col - float64(g.CentreX)) / float64(g.HalfX)
}

// FeatureY maps a screen row to the features' y scale: −1 the top wall,
// +1 the bottom wall (y grows down).
func (g *PongGame) FeatureY(row float64) float64 {
	return (row - float64(g.CentreY)) / float64(g.HalfY)
}

// PaddleRows returns the highest and lowest row a paddle's centre reaches.
func (g *PongGame) PaddleRows() (lo, hi float64) {
	return float64(g.PlayTop + g.PaddleH/2), float64(g.PlayBottom - g.PaddleH/2)
}

// StepTravel is how far the agent's paddle moves in one step of holding a
// move, in rows, given the frames per step.
func (g *PongGame) StepTravel(frameSkip int) float64 { return g.AgentSpeed * float64(frameSkip) }

// FirstAction returns the first action that moves the paddle by move (−1
// up, +1 down, 0 not at all), or -1.
func (g *PongGame) FirstAction(move int) int {
	for i, a := range g.Actions {
		if a.Move == move {
			return i
		}
	}
	return -1
}

// Intercept predicts where a ball moving toward the agent reaches the
// agent's paddle line, moving as the game moves it: straight, reflected at
// the top and bottom walls, with no change of speed. frames is the time
// until the ball's leading edge reaches the face of the agent's paddle;
// row is the ball's centre row then; bounces counts the wall bounces on
// the way (the first off the bottom wall when BallVY > 0, else off the
// top). The agent's paddle returns the ball when its centre is within
// (PaddleH+BallH)/2 rows of that row at that moment. ok is false when no
// ball is in play, the ball is not moving toward the agent, or its leading
// edge is already past the face (the point is lost).
func (g *PongGame) Intercept(s PongState) (frames, row float64, bounces int, ok bool) {
	face := float64(g.AgentX) - float64(g.BallW)/2 // ball centre column with its leading edge on the face
	if !s.BallInPlay || !(s.BallVX > 0) || s.BallX > face {
		return 0, 0, 0, false
	}
	frames = (face - s.BallX) / s.BallVX
	lo, hi := float64(g.PlayTop)+float64(g.BallH)/2, float64(g.PlayBottom)-float64(g.BallH)/2 // the ball centre's range
	span := hi - lo
	y := s.BallY + s.BallVY*frames - lo // unfolded, relative to lo
	if y >= 0 {
		bounces = int(y / span)
	} else {
		bounces = int(math.Ceil(-y / span))
	}
	m := math.Mod(y, 2*span)
	if m < 0 {
		m += 2 * span
	}
	if m > span {
		m = 2*span - m
	}
	return frames, lo + m, bounces, true
}
