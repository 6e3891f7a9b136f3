package autoscaler

import (
	"context"
	"time"
)

// runSchedules fires scheduled actions that are due. Callers hold s.mu.
func (s *Service) runSchedules(ctx context.Context, now time.Time) {}
