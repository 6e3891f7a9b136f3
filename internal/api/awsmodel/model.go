package awsmodel

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/textproto"
	"regexp"
	"sync"
)

//go:embed sagemaker.json
var sagemakerJSON []byte

//go:embed sagemaker-runtime.json
var runtimeJSON []byte

//go:embed application-autoscaling.json
var autoscalingJSON []byte

// ApplicationAutoScaling is the Application Auto Scaling model.
var ApplicationAutoScaling = mustLoad(autoscalingJSON)

//go:embed cloudwatch.json
var cloudwatchJSON []byte

// CloudWatch is the CloudWatch model (metrics and alarms operations).
var CloudWatch = mustLoad(cloudwatchJSON)

// SageMakerRuntime is the SageMaker Runtime model. Its header and path
// members are validated from a document built of them.
var SageMakerRuntime = mustLoad(runtimeJSON)

// SageMaker is the SageMaker control-plane model (the operations ebb serves).
//
// Two constraints are widened on purpose, for ebb's process runtime, where
// a model is a local program: ModelDataUrl (shape Url) also accepts file://
// URLs and absolute paths, where AWS only knows S3 and HTTPS; and an Image
// (shape ContainerImage) may be a command line with arguments, where AWS
// allows no spaces in an image name.
var SageMaker = mustLoad(sagemakerJSON).
	widen("Url", `(https|s3)://([^/]+)/?(.*)|file://.+|/.*`).
	widen("ContainerImage", `\s*\S[\s\S]*`)

// Model is a parsed service model.
type Model struct {
	Operations map[string]Operation `json:"operations"`
	Shapes     map[string]*Shape    `json:"shapes"`

	mu       sync.Mutex
	patterns map[string]*regexp.Regexp
}

// Operation is one operation of a model.
type Operation struct {
	Name   string    `json:"name"`
	Input  *ShapeRef `json:"input"`
	Output *ShapeRef `json:"output"`
}

// ShapeRef points at a shape; for REST protocols it also says where the
// member travels (uri, header, querystring; the payload otherwise).
type ShapeRef struct {
	Shape         string `json:"shape"`
	ResultWrapper string `json:"resultWrapper"` // awsQuery: the <OpResult> element
	Location      string `json:"location"`
	LocationName  string `json:"locationName"`

	headerKey string // LocationName in canonical header form
}

// Shape is a model shape with the constraints ebb enforces.
type Shape struct {
	Type      string              `json:"type"`
	Required  []string            `json:"required"`
	Members   map[string]ShapeRef `json:"members"`
	Member    *ShapeRef           `json:"member"`
	Key       *ShapeRef           `json:"key"`
	Value     *ShapeRef           `json:"value"`
	Min       *float64            `json:"min"`
	Max       *float64            `json:"max"`
	Pattern   string              `json:"pattern"`
	Enum      []string            `json:"enum"`
	Payload   string              `json:"payload"`
	Flattened bool                `json:"flattened"`
	// Error is set on error shapes: the awsQuery code and HTTP status.
	Error *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    bool   `json:"senderFault"`
	} `json:"error"`
}

func mustLoad(b []byte) *Model {
	m := &Model{patterns: map[string]*regexp.Regexp{}}
	if err := json.Unmarshal(b, m); err != nil {
		panic(fmt.Sprintf("awsmodel: embedded model: %v", err))
	}
	for _, s := range m.Shapes {
		for name, ref := range s.Members {
			if ref.Location == "header" {
				ref.headerKey = textproto.CanonicalMIMEHeaderKey(ref.LocationName)
				s.Members[name] = ref
			}
		}
	}
	return m
}

func (m *Model) widen(shape, pattern string) *Model {
	m.Shapes[shape].Pattern = pattern
	return m
}

// pattern compiles a model pattern as a whole-string match, as AWS (Java)
// applies it. Patterns Go's RE2 cannot compile are not enforced; none of the
// operations ebb serves has one.
func (m *Model) pattern(p string) *regexp.Regexp {
	m.mu.Lock()
	defer m.mu.Unlock()
	re, ok := m.patterns[p]
	if !ok {
		re, _ = regexp.Compile(`^(?:` + p + `)$`)
		m.patterns[p] = re
	}
	return re
}
