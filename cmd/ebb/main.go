// Command ebb hosts model inference endpoints behind SageMaker's APIs and
// autoscales them. Run "ebb help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"demo":          {"deploy an endpoint and watch it scale out and in (about 80 seconds)", runDemo},
	"server":        {"run the ebb server (SageMaker, Runtime, CloudWatch, Application Auto Scaling, S3 subset, the console)", runServer},
	"example-model": {"run the built-in example model server", runExampleModel},
	"fetch-model":   {"fetch a model's artifacts (the init container on Kubernetes)", runFetchModel},
	"loadtest":      {"find the load an instance sustains and recommend a scaling policy's numbers", runLoadtest},
	"simulate":      {"replay a request trace through scaling policies on a virtual clock and compare them", runSimulate},
	"version":       {"print the version", runVersion},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "ebb hosts model inference endpoints behind the SageMaker APIs and autoscales them.\n\nUsage:\n  ebb <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun \"ebb <command> --help\" for a command's flags.\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return exit(c.run(ctx, []string{"--help"}, stdout, stderr), stderr)
			}
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "ebb: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return exit(c.run(ctx, args[1:], stdout, stderr), stderr)
}

func exit(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "ebb: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "ebb: %v\n", err)
		return 1
	}
}

// usageError is a mistake in how ebb was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newFlags returns a flag set whose --help prints the summary and flags.
func newFlags(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ebb %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning bad flags into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args())}
	}
	return nil
}
