package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
)

// RetentionInterval is how often RunRetention applies CloudWatch's
// retention.
const RetentionInterval = 10 * time.Minute

// RunRetention applies retention (Compact) every RetentionInterval on clk
// until ctx ends.
func (s *Store) RunRetention(ctx context.Context, clk clock.Clock, log *slog.Logger) {
	t := clk.NewTicker(RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			if err := s.Compact(now); err != nil {
				log.Error("applying metric retention", "err", err)
			}
		}
	}
}
