// Package scaling is the arithmetic of Application Auto Scaling: target
// tracking capacity, step adjustments and their validation, percent rounding,
// clamping and the reasons not to scale. Every function is pure: state and
// `now` come in as arguments, nothing reads a clock or does I/O, so the live
// autoscaler, the tests and offline simulation run the same code.
package scaling
