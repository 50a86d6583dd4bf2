// Package bindings will hold cgo bindings to simulators other than MuJoCo
// (bindings/ale for the Arcade Learning Environment, behind the build tag
// `ale`). It has no code yet.
package bindings
