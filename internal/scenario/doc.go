// Package scenario runs the scripts that specify ebb's behaviour over time
// (testdata/*.test in monitor and autoscaler), in one grammar, in the
// spirit of Prometheus's promqltest: a line is a command and its
// arguments, positional first, then key=value options; # starts a
// comment. Each package gives the commands it knows; the ones they share
// have one syntax:
//
//	alarm NAME metric=NS/NAME stat=STAT op=(> >= < <=) threshold=N
//	      [period=S] [evaluation-periods=N] [datapoints-to-alarm=N]
//	      [treat-missing=X] [action=ARN]
//	advance DURATION            move time forward, ticking every loop
//	expect WHAT ARGS...         check what the package says WHAT is
//
// A failure names the file, the line and the text of the command.
package scenario
