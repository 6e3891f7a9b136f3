package store

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// WriteErrors counts the persistence errors a background loop could not
// return to a caller (cmd/ebb registers it as ebb_store_write_errors_total).
// Each is also logged where it happens; the next write of the same
// document carries the state again.
var WriteErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "ebb_store_write_errors_total",
	Help: "Persistence errors of background loops, by component and operation (each is also logged).",
}, []string{"component", "op"})

// Report logs and counts err, if any, of operation op of a component.
func Report(log *slog.Logger, component, op string, err error) {
	if err == nil {
		return
	}
	WriteErrors.WithLabelValues(component, op).Inc()
	log.Error("persisting state", "component", component, "op", op, "err", err)
}

// Unavailable marks err as meaning the store cannot be reached now (a
// database that is down or restarting). The APIs answer it with
// ServiceUnavailable (503), which AWS SDKs retry; nothing was changed.
func Unavailable(err error) error { return unavailableError{err} }

// IsUnavailable reports whether err says the store cannot be reached now
// (an error marked by Unavailable, or of its own kind that says so).
func IsUnavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

type unavailableError struct{ err error }

func (e unavailableError) Error() string     { return "the store is unavailable: " + e.err.Error() }
func (e unavailableError) Unwrap() error     { return e.err }
func (e unavailableError) Unavailable() bool { return true }
