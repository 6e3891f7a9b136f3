package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/smithy-go"
)

func (s *server) Logs() *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// chattyModel prints to both of its outputs before it serves.
const chattyModel = `sh -c 'echo "hello from the model"; echo "ERROR: something bad" >&2; exec ebb example-model --work-ms 1'`

// waitEvents waits until a group's events hold want (the instance has
// written it and the server has read it: within a poll interval).
func waitEvents(t *testing.T, s *server, group, want string) []string {
	t.Helper()
	var msgs []string
	eventually(t, 30*time.Second, fmt.Sprintf("an event %q in %s", want, group), func() (bool, any) {
		out, err := s.Logs().FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
		if err != nil {
			return false, err
		}
		msgs = msgs[:0]
		for _, ev := range out.Events {
			msgs = append(msgs, aws.ToString(ev.Message))
		}
		return strings.Contains(strings.Join(msgs, "\n"), want), msgs
	})
	return msgs
}

func expectLogsError(t *testing.T, err error, code, part string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), part) {
		t.Errorf("got %v, want %s saying %q", err, code, part)
	}
}

// TestCloudWatchLogs reads instance output through CloudWatch Logs with the
// Go SDK, boto3 and `aws logs tail --follow`.
func TestCloudWatchLogs(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--log-retention-days", "7")
	sm, cwl := s.SageMaker(), s.Logs()
	ctx := context.Background()
	deploy(t, sm, "chatty", chattyModel, 1)
	waitInService(t, sm, "chatty")
	const group = "/aws/sagemaker/Endpoints/chatty"
	waitEvents(t, s, group, "ERROR: something bad")

	groups, err := cwl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/sagemaker/Endpoints/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.LogGroups) != 1 {
		t.Fatalf("groups = %d, want 1", len(groups.LogGroups))
	}
	g := groups.LogGroups[0]
	if aws.ToString(g.LogGroupName) != group || aws.ToInt32(g.RetentionInDays) != 7 || aws.ToInt64(g.StoredBytes) == 0 ||
		aws.ToString(g.Arn) != "arn:aws:logs:us-east-1:123456789012:log-group:"+group+":*" || aws.ToString(g.LogGroupArn) != strings.TrimSuffix(aws.ToString(g.Arn), ":*") {
		t.Errorf("group = %+v", g)
	}
	for _, in := range []*cloudwatchlogs.DescribeLogGroupsInput{{LogGroupNamePattern: aws.String("chat")}, {LogGroupIdentifiers: []string{aws.ToString(g.LogGroupArn)}}} {
		if out, err := cwl.DescribeLogGroups(ctx, in); err != nil || len(out.LogGroups) != 1 {
			t.Errorf("DescribeLogGroups(%+v): %v groups, %v", in, out, err)
		}
	}
	if out, _ := cwl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda")}); len(out.LogGroups) != 0 {
		t.Errorf("a prefix of no group found %d", len(out.LogGroups))
	}

	streams, err := cwl.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	if err != nil || len(streams.LogStreams) != 1 {
		t.Fatalf("streams = %+v, %v", streams, err)
	}
	first := streams.LogStreams[0]
	stream := aws.ToString(first.LogStreamName)
	instances := s.instances()
	if id, ok := strings.CutPrefix(stream, "AllTraffic/"); !ok || instances[id] == 0 {
		t.Errorf("stream %q: want AllTraffic/<instance id> of one of %v", stream, instances)
	}
	if first.FirstEventTimestamp == nil || first.LastEventTimestamp == nil || *first.CreationTime > *first.FirstEventTimestamp {
		t.Errorf("stream = %+v", first)
	}

	// GetLogEvents one event at a time from the head; at the end the
	// forward token comes back unchanged.
	var got []string
	var token *string
	for range 10 {
		page, err := cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), Limit: aws.Int32(1), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			got = append(got, aws.ToString(ev.Message))
			if aws.ToInt64(ev.Timestamp) != aws.ToInt64(ev.IngestionTime) {
				t.Errorf("event %+v: timestamp and ingestion time differ", ev)
			}
		}
		if token != nil && aws.ToString(page.NextForwardToken) == *token {
			break
		}
		token = page.NextForwardToken
	}
	if len(got) < 3 || !strings.Contains(strings.Join(got, "\n"), "hello from the model") || !strings.Contains(got[len(got)-1], "example model serving") {
		t.Errorf("GetLogEvents from the head = %q", got)
	}
	last, err := cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), Limit: aws.Int32(1)})
	if err != nil || len(last.Events) != 1 || aws.ToString(last.Events[0].Message) != got[len(got)-1] {
		t.Errorf("the newest event = %+v, %v; want %q", last, err, got[len(got)-1])
	}

	// Filter patterns: terms, ?alternatives, -exclusions.
	for pattern, want := range map[string]int{"ERROR": 1, "?hello ?ERROR": 2, `"from the" -ERROR`: 1, "nothing-like-this": 0} {
		out, err := cwl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(pattern)})
		if err != nil || len(out.Events) != want {
			t.Errorf("FilterLogEvents %q: %v events, want %d (%v)", pattern, out, want, err)
			continue
		}
		for _, ev := range out.Events {
			if aws.ToString(ev.LogStreamName) != stream || aws.ToString(ev.EventId) == "" {
				t.Errorf("event %+v", ev)
			}
		}
	}
	future := time.Now().Add(time.Hour).UnixMilli()
	if out, err := cwl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: aws.Int64(future)}); err != nil || len(out.Events) != 0 {
		t.Errorf("events after an hour from now: %v, %v", out, err)
	}

	// What CloudWatch Logs refuses, ebb refuses.
	_, err = cwl.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/sagemaker/Endpoints/none")})
	expectLogsError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("AllTraffic/none")})
	expectLogsError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	_, err = cwl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(51)})
	expectLogsError(t, err, "InvalidParameterException", "Member must have value less than or equal to 50")
	_, err = cwl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws"), LogGroupNamePattern: aws.String("x")})
	expectLogsError(t, err, "InvalidParameterException", "mutually exclusive")
	_, err = cwl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{AccountIdentifiers: []string{"210987654321"}, IncludeLinkedAccounts: aws.Bool(true)})
	expectLogsError(t, err, "InvalidParameterException", "accountIdentifiers is not supported by ebb")
	_, err = cwl.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group), OrderBy: "LastEventTime", LogStreamNamePrefix: aws.String("All")})
	expectLogsError(t, err, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
	_, err = cwl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(`{ $.level = "ERROR" }`)})
	expectLogsError(t, err, "InvalidParameterException", "JSON filter patterns")
	_, err = cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), NextToken: aws.String("x/1")})
	expectLogsError(t, err, "InvalidParameterException", "nextToken is invalid")

	// boto3 pages through the same events (every installed version).
	for _, python := range withBoto3() {
		script := `
import boto3, json, sys
c = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
events = [e["message"] for p in c.get_paginator("filter_log_events").paginate(logGroupName=sys.argv[2], PaginationConfig={"PageSize": 1}) for e in p["events"]]
streams = [s["logStreamName"] for p in c.get_paginator("describe_log_streams").paginate(logGroupName=sys.argv[2]) for s in p["logStreams"]]
print(json.dumps({"events": events, "streams": streams}))
`
		out, err := exec.Command(python, "-c", script, s.URL, group).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", python, err, out)
		}
		var res struct{ Events, Streams []string }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v\n%s", python, err, out)
		}
		if strings.Join(res.Events, "\n") != strings.Join(got, "\n") || len(res.Streams) != 1 || res.Streams[0] != stream {
			t.Errorf("%s read %q in %v, want %q in %s", python, res.Events, res.Streams, got, stream)
		}
	}

	// aws logs tail --follow (AWS CLI v2) shows what a new instance
	// writes after it started.
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		tail := exec.Command("/usr/bin/aws", "logs", "tail", group, "--follow", "--since", "1h", "--format", "detailed", "--endpoint-url", s.URL, "--region", "us-east-1")
		tail.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_PAGER=")
		stdout, _ := tail.StdoutPipe()
		tail.Stderr = tail.Stdout
		if err := tail.Start(); err != nil {
			t.Fatal(err)
		}
		defer tail.Process.Kill()
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// expectLine waits for a line (timestamp, stream, message) with
		// want, from the stream named or, with other, from another one.
		expectLine := func(want, stream string, other bool) {
			t.Helper()
			timeout := time.After(60 * time.Second)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("aws logs tail ended before a line with %q", want)
					}
					if strings.Contains(l, want) && strings.Contains(l, " "+stream+" ") != other {
						return
					}
				case <-timeout:
					t.Fatalf("aws logs tail printed no line with %q (stream %s, other %v) in 60 s", want, stream, other)
				}
			}
		}
		expectLine("hello from the model", stream, false)
		setCapacity(t, sm, "chatty", "AllTraffic", 2)
		expectLine("hello from the model", stream, true) // the new instance's, followed
	} else {
		t.Log("no AWS CLI v2 at /usr/bin/aws: the tail leg did not run")
		setCapacity(t, sm, "chatty", "AllTraffic", 2) // what the rest reads
	}

	// A crash and a restart (the instances are adopted) lose no line and
	// repeat none.
	waitInService(t, sm, "chatty")
	var before []string
	waitCond(t, "both instances' start-up lines", func() bool {
		before = waitEvents(t, s, group, "ERROR: something bad")
		return strings.Count(strings.Join(before, "\n"), "example model serving") == 2
	})
	s.Crash()
	s = startServer(t, dir, "--log-retention-days", "7")
	sm, cwl = s.SageMaker(), s.Logs()
	if after := waitEvents(t, s, group, "ERROR: something bad"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("events after a crash and restart:\n%q\nbefore:\n%q", after, before)
	}

	// The endpoint goes: its instances' last words are kept, their output
	// files removed.
	if _, err := sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("chatty")}); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the instances' output files to be read and removed", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
		return len(files) == 0
	})
	if out, err := cwl.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)}); err != nil || len(out.LogStreams) < 1 {
		t.Errorf("after the endpoint was deleted: streams %+v, %v; want them kept for the retention period", out, err)
	}
}

// TestLogsOnEveryRuntime: on every runtime, what an instance writes
// reaches its CloudWatch Logs stream (group /aws/sagemaker/Endpoints/NAME,
// stream VARIANT/INSTANCE), and a server killed with -9 and restarted
// resumes the stream where it ended: no line lost, none twice.
func TestLogsOnEveryRuntime(t *testing.T) {
	for name, image := range map[string]string{"process": "ebb example-model --work-ms 1 --log-requests", "docker": dockerModelLogs, "kubernetes": kubeModelLogs} {
		t.Run(name, func(t *testing.T) {
			rs := everyRuntime[name](t, t.TempDir())
			s := rs.server
			deploy(t, s.SageMaker(), "logs", image, 1)
			waitInService(t, s.SageMaker(), "logs")
			const group = "/aws/sagemaker/Endpoints/logs"
			call := func(s *server, marker string) {
				if _, err := s.Runtime().InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String("logs"),
					Body: []byte("1,2,3"), ContentType: aws.String("text/csv"), CustomAttributes: aws.String(marker)}); err != nil {
					t.Fatal(err)
				}
			}
			waitEvents(t, s, group, "example model serving")
			call(s, "before-the-crash")
			waitEvents(t, s, group, "custom_attributes=before-the-crash")

			s = rs.restart()
			waitInService(t, s.SageMaker(), "logs")
			call(s, "after-the-restart")
			msgs := strings.Join(waitEvents(t, s, group, "custom_attributes=after-the-restart"), "\n")
			for _, line := range []string{"example model serving", "custom_attributes=before-the-crash", "custom_attributes=after-the-restart"} {
				if n := strings.Count(msgs, line); n != 1 {
					t.Errorf("%q appears %d times in the stream, want once:\n%s", line, n, msgs)
				}
			}
			streams, err := s.Logs().DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
			if err != nil || len(streams.LogStreams) != 1 || !strings.HasPrefix(aws.ToString(streams.LogStreams[0].LogStreamName), "AllTraffic/logs-alltraffic-") {
				t.Fatalf("streams = %+v, %v; want one, AllTraffic/INSTANCE", streams, err)
			}
		})
	}
}
