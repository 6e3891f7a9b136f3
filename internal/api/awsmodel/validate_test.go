package awsmodel

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name, op, body string
		want           string // "" = valid; "serialization" = SerializationError
	}{
		{"valid", "DescribeEndpoint", `{"EndpointName":"my-ep"}`, ""},
		{"missing required", "DescribeEndpoint", `{}`,
			"1 validation error detected: Value null at 'endpointName' failed to satisfy constraint: Member must not be null"},
		{"pattern", "DescribeEndpoint", `{"EndpointName":"bad_name"}`,
			"1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"},
		{"nested range", "CreateEndpointConfig", `{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","InitialInstanceCount":0}]}`,
			"1 validation error detected: Value '0' at 'productionVariants.1.member.initialInstanceCount' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"enum", "ListEndpoints", `{"SortBy":"Size"}`,
			"1 validation error detected: Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [Name, CreationTime, Status]"},
		{"wrong type", "DescribeEndpoint", `{"EndpointName":5}`, "serialization"},
		{"not json", "DescribeEndpoint", `{"EndpointName":`, "serialization"},
		{"not an object", "DescribeEndpoint", `[]`, "serialization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SageMaker.Clean(tt.op, []byte(tt.body))
			var se *SerializationError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want == "serialization" && !errors.As(err, &se):
				t.Fatalf("got %v, want a SerializationError", err)
			case tt.want != "" && tt.want != "serialization" && (err == nil || err.Error() != tt.want):
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestValidateCountsProblems(t *testing.T) {
	_, err := SageMaker.Clean("CreateEndpoint", []byte(`{}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("got %v, want 2 problems", err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("CreateEndpointConfig", []byte(`{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","InitialInstanceCount":1,"InstanceType":"ml.m5.large"}]}`))
	f.Add("CreateModel", []byte(`{"ModelName":"m","PrimaryContainer":{"Image":"ebb example-model","Environment":{"A":"b"}}}`))
	f.Add("ListEndpoints", []byte(`{"MaxResults":10,"CreationTimeAfter":1.5e9}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		_, err := SageMaker.Clean(op, body)
		var se *SerializationError
		var ve *ValidationError
		if err != nil && !errors.Is(err, ErrUnknownOperation) && !errors.As(err, &se) && !errors.As(err, &ve) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}

// TestPatternsCompile: a pattern RE2 could not compile would silently go
// unenforced. Two are known not to: MetricsEndpointPath (a lookahead in the
// middle) belongs to no member of the operations ebb serves, and
// VersionedArnOrName (a lookbehind) is ContainerDefinition.ModelPackageName,
// which ebb's hosting has no model packages for.
func TestPatternsCompile(t *testing.T) {
	known := map[string]bool{"MetricsEndpointPath": true, "VersionedArnOrName": true}
	for name, m := range map[string]*Model{"sagemaker": SageMaker, "sagemaker-runtime": SageMakerRuntime,
		"application-autoscaling": ApplicationAutoScaling, "cloudwatch": CloudWatch} {
		for shape, s := range m.Shapes {
			if s.Pattern != "" && !known[shape] && m.pattern(s.Pattern) == nil {
				t.Errorf("%s %s: pattern %q does not compile as %q", name, shape, s.Pattern, javaClasses(s.Pattern))
			}
		}
	}
	re := SageMakerRuntime.pattern(`\A\S[\p{Print}]*\z`)
	if re == nil || !re.MatchString("id-1 x") || re.MatchString("tab\tinside") || re.MatchString(" lead") {
		t.Fatalf("InferenceId pattern: %v", re)
	}
}

func TestLookaheadPatterns(t *testing.T) {
	name := ApplicationAutoScaling.pattern(ApplicationAutoScaling.Shapes["ScheduledActionName"].Pattern)
	for s, want := range map[string]bool{"scale-up": true, " lead": false, "trail ": false, "a:b": false, "a|b": false, "ctl\x01": false} {
		if got := name.MatchString(s); got != want {
			t.Errorf("ScheduledActionName %q: %v, want %v", s, got, want)
		}
	}
	ext := SageMakerRuntime.pattern(SageMakerRuntime.Shapes["S3OutputPathExtensionHeader"].Pattern)
	if !ext.MatchString("run/1") || ext.MatchString("s3:x") || ext.MatchString("a b") {
		t.Error("S3OutputPathExtension pattern")
	}
}

// FuzzValidateREST sends arbitrary InvokeEndpointAsync headers (integers,
// patterns, lengths) through the restJson header validator: no panic, and
// every refusal is a ValidationError.
func FuzzValidateREST(f *testing.F) {
	f.Add("ep", "60", "900", "id-1", "s3://b/k")
	f.Add("", "x", "-1", "\t", "ftp://x")
	f.Add("a", "99999999999999999999", "0", "../../x", "")
	f.Fuzz(func(t *testing.T, endpoint, ttl, timeout, id, input string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Amzn-Sagemaker-Requestttlseconds": ttl, "X-Amzn-Sagemaker-Invocationtimeoutseconds": timeout,
			"X-Amzn-Sagemaker-Inference-Id": id, "X-Amzn-Sagemaker-Inputlocation": input} {
			if v != "" {
				h[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
		err := SageMakerRuntime.ValidateREST("InvokeEndpointAsync", map[string]string{"EndpointName": endpoint}, h)
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("%v", err)
		}
	})
}

// TestShowWritesJavaStyle: values in messages are quoted as Coral (Java)
// writes them: lists as [a, b], maps and structures as {key=value, ...},
// never Go's map[...] form.
func TestShowWritesJavaStyle(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{[]any{"a", json.Number("2")}, "'[a, 2]'"},
		{map[string]any{"b": "x", "a": json.Number("1")}, "'{a=1, b=x}'"},
		{[]any{map[string]any{"Key": "k", "Value": "v"}}, "'[{Key=k, Value=v}]'"},
		{map[string]any{"m": map[string]any{"n": true}, "l": []any{}}, "'{l=[], m={n=true}}'"},
	} {
		if got := show(c.v); got != c.want {
			t.Errorf("show(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}
