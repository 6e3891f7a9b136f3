package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// TestStatefulSessions: SessionId NEW_SESSION opens a session on the
// instance that answers (the model names it and its expiry); every request
// naming it reaches that instance, among three (the model answers 400
// elsewhere), streamed ones too (which cannot open one); the model closes
// it, and a closed or unknown session is refused by ebb.
func TestStatefulSessions(t *testing.T) {
	s := startServer(t, t.TempDir())
	sm, rt := s.SageMaker(), s.Runtime()
	ctx := context.Background()
	deploy(t, sm, "stateful", "ebb example-model --work-ms 0 --stateful 20m", 3)
	waitInService(t, sm, "stateful")
	call := func(session, attrs string) (*sagemakerruntime.InvokeEndpointOutput, error) {
		in := &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("stateful"), Body: []byte("1,2"), ContentType: aws.String("text/csv"), SessionId: aws.String(session)}
		if attrs != "" {
			in.CustomAttributes = aws.String(attrs)
		}
		return rt.InvokeEndpoint(ctx, in)
	}
	opened, err := call("NEW_SESSION", "")
	if err != nil {
		t.Fatal(err)
	}
	id, expires, _ := strings.Cut(aws.ToString(opened.NewSessionId), ";")
	if !strings.HasPrefix(id, "session-") || !strings.Contains(expires, "Expires=") {
		t.Fatalf("NewSessionId = %q, want the model's ID; Expires=TIME", aws.ToString(opened.NewSessionId))
	}
	for i := range 15 {
		if _, err := call(id, ""); err != nil {
			t.Fatalf("request %d of the session: %v", i+1, err)
		}
	}
	stream, err := rt.InvokeEndpointWithResponseStream(ctx, &sagemakerruntime.InvokeEndpointWithResponseStreamInput{EndpointName: aws.String("stateful"),
		Body: []byte("1,2"), ContentType: aws.String("text/csv"), SessionId: aws.String(id)})
	if err != nil {
		t.Fatalf("a streamed request of the session: %v", err)
	}
	for range stream.GetStream().Events() {
	}
	if err := stream.GetStream().Err(); err != nil {
		t.Fatalf("a streamed request of the session: %v", err)
	}
	_, err = rt.InvokeEndpointWithResponseStream(ctx, &sagemakerruntime.InvokeEndpointWithResponseStreamInput{EndpointName: aws.String("stateful"),
		Body: []byte("1,2"), ContentType: aws.String("text/csv"), SessionId: aws.String("NEW_SESSION")})
	// The stream cannot open one: its SessionId's pattern refuses NEW_SESSION.
	expectAPIError(t, err, "ValidationError", "1 validation error detected: Value 'NEW_SESSION' at 'sessionId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")

	closed, err := call(id, "close")
	if err != nil || aws.ToString(closed.ClosedSessionId) != id {
		t.Fatalf("closing: %+v, %v; want ClosedSessionId %s", closed, err, id)
	}
	gone := "The stateful session is not open on endpoint stateful: it was never opened, the model closed it, it expired, or its instance is gone. Open one with SessionId NEW_SESSION."
	_, err = call(id, "")
	expectAPIError(t, err, "ValidationError", gone)
	_, err = call("session-never", "")
	expectAPIError(t, err, "ValidationError", gone)
}
