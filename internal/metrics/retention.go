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
	clock.Every(ctx, clk, RetentionInterval, func(now time.Time) {
		if err := s.Compact(now); err != nil {
			log.Error("applying metric retention", "err", err)
		}
	})
}
