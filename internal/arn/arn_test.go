package arn

import "testing"

func TestNew(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1":     "arn:aws:sagemaker:us-east-1:123456789012:endpoint/a",
		"cn-north-1":    "arn:aws-cn:sagemaker:cn-north-1:123456789012:endpoint/a",
		"us-gov-west-1": "arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:endpoint/a",
		"us-iso-east-1": "arn:aws-iso:sagemaker:us-iso-east-1:123456789012:endpoint/a",
	} {
		if got := New("sagemaker", region, "123456789012", "endpoint/a"); got != want {
			t.Errorf("%s: %s, want %s", region, got, want)
		}
	}
	for a, want := range map[string]string{"arn:aws-cn:autoscaling:cn-north-1:1:scalingPolicy:x": "autoscaling", "arn:aws:sns:us-east-1:1:t": "sns", "nope": "", "arn:x:y:z:w": "", "arn:aws:sns": "", "arn:aws:sns:": "sns", "rn:aws:sns:x:y": ""} {
		if got := Service(a); got != want {
			t.Errorf("Service(%q) = %q, want %q", a, got, want)
		}
	}
}
