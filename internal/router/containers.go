package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Models of several containers, run together on each instance: in Direct
// mode a request names the container that serves it
// (TargetContainerHostname); in Serial mode (an inference pipeline) the
// request goes to the first container, each container's answer is the next
// one's request, and the last one answers.

// Errors of multi-container invocations.
var (
	ErrNotDirect          = errors.New("not a multi-container endpoint with direct invocation")
	ErrContainerRequired  = errors.New("target container hostname required")
	ErrContainerNotFound  = errors.New("target container not found")
	errIntermediateTooBig = fmt.Errorf("an intermediate answer of the pipeline exceeds %d bytes", MaxPayloadBytes)
)

// container is one container of an instance.
type container struct {
	hostname string
	up       *upstream
}

// hasContainer reports whether the variant's instances have a container
// of that hostname.
func (v *variantRoute) hasContainer(hostname string) bool {
	for _, b := range v.backends {
		for _, c := range b.containers {
			if c.hostname == hostname {
				return true
			}
		}
		return false // every instance runs the same containers
	}
	return true // no instance to tell: the request fails for want of capacity
}

// direct sends an invocation to the container it names.
func (b *backend) direct(ctx context.Context, deadline time.Time, inv Invocation) (*http.Response, error) {
	for _, c := range b.containers {
		if c.hostname == inv.TargetContainer {
			return c.up.roundTrip(ctx, deadline, "/invocations", inv.Header, inv.Body)
		}
	}
	return nil, ErrContainerNotFound
}

// serial runs an invocation through the pipeline of the instance's
// containers and returns the last answer (or the first that is not 2xx).
// Each intermediate answer is read whole, up to the payload limit, and
// sent on with its Content-Type.
func (b *backend) serial(ctx context.Context, deadline time.Time, inv Invocation) (*http.Response, error) {
	header, body := inv.Header, inv.Body
	for i, c := range b.containers {
		resp, err := c.up.roundTrip(ctx, deadline, "/invocations", header, body)
		if err != nil || i == len(b.containers)-1 || resp.StatusCode < 200 || resp.StatusCode > 299 {
			return resp, err
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, MaxPayloadBytes+1))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(body) > MaxPayloadBytes {
			return nil, errIntermediateTooBig
		}
		next := make(http.Header, len(header)+1)
		for k, v := range header {
			next[k] = v
		}
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			next.Set("Content-Type", ct)
		}
		header = next
	}
	return nil, ErrNoCapacity // an instance without containers: not reached
}
