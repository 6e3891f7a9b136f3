// Package clock is the only way ebb's loops learn the time.
//
// Decisions (alarm evaluation, scaling arithmetic) take `now` as an argument
// and never read a clock. The loops that own time hold a Clock: Real in
// production, Scaled for demos and end-to-end tests (--time-scale), and Fake
// in unit tests, where time moves only when the test advances it.
package clock
