package awsmodel

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

//go:embed sagemaker.json
var sagemakerJSON []byte

//go:embed sagemaker-runtime.json
var runtimeJSON []byte

//go:embed application-autoscaling.json
var autoscalingJSON []byte

// ApplicationAutoScaling is the Application Auto Scaling model. Its
// validation messages list enum values sorted, as AWS's do: the verified
// PolicyType message reads [PredictiveScaling, StepScaling,
// TargetTrackingScaling] where the model lists StepScaling first.
// (SageMaker's messages keep the model's order: [Name, CreationTime, Status].)
var ApplicationAutoScaling = mustLoad(autoscalingJSON).sortEnums()

//go:embed cloudwatch.json
var cloudwatchJSON []byte

// CloudWatch is the CloudWatch model (metrics and alarms operations).
var CloudWatch = mustLoad(cloudwatchJSON)

//go:embed logs.json
var logsJSON []byte

// Logs is the CloudWatch Logs model (the read operations ebb serves).
var Logs = mustLoad(logsJSON)

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

	patterns sync.Map // pattern -> *matcher, compiled on first use
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
	path      string // the member's name as validation messages give it (lowerFirst)
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
	m := &Model{}
	if err := json.Unmarshal(b, m); err != nil {
		panic(fmt.Sprintf("awsmodel: embedded model: %v", err))
	}
	for _, s := range m.Shapes {
		for name, ref := range s.Members {
			if ref.Location == "header" {
				ref.headerKey = textproto.CanonicalMIMEHeaderKey(ref.LocationName)
			}
			ref.path = lowerFirst(name)
			s.Members[name] = ref
		}
	}
	return m
}

func (m *Model) widen(shape, pattern string) *Model {
	m.Shapes[shape].Pattern = pattern
	return m
}

// sortEnums sorts every enum's values, for the validation messages.
func (m *Model) sortEnums() *Model {
	for _, s := range m.Shapes {
		slices.Sort(s.Enum)
	}
	return m
}

// pattern compiles a model pattern as a whole-string match, as AWS (Java)
// applies it. Java's POSIX classes and \uXXXX escapes, which RE2 spells
// otherwise, are translated (javaClasses), and a leading negative
// lookahead, which RE2 lacks, becomes a second expression that must not
// match at the start. TestPatternsCompile checks that every pattern of the
// embedded models compiles, so none goes unenforced; nil means it did not.
func (m *Model) pattern(p string) *matcher {
	if mt, ok := m.patterns.Load(p); ok {
		return mt.(*matcher)
	}
	mt, _ := m.patterns.LoadOrStore(p, compilePattern(p))
	return mt.(*matcher)
}

// matcher is a compiled pattern: re matches and not (if set) does not.
//
// It remembers its verdicts on the first values it sees: the strings of a
// hot path repeat (the endpoint name of every InvokeEndpoint), and a map
// lookup costs a tenth of the regular expression.
type matcher struct {
	re, not  *regexp.Regexp
	verdicts sync.Map // string -> bool
	n        atomic.Int32
}

// Bounds of the verdicts a matcher keeps.
const (
	maxVerdicts     = 4096
	maxVerdictBytes = 256
)

func (mt *matcher) MatchString(s string) bool {
	if ok, seen := mt.verdicts.Load(s); seen {
		return ok.(bool)
	}
	ok := mt.re.MatchString(s) && (mt.not == nil || !mt.not.MatchString(s))
	if len(s) <= maxVerdictBytes && mt.n.Load() < maxVerdicts {
		if _, loaded := mt.verdicts.LoadOrStore(strings.Clone(s), ok); !loaded {
			mt.n.Add(1)
		}
	}
	return ok
}

func compilePattern(p string) *matcher {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$")
	mt := &matcher{}
	if strings.HasPrefix(p, "(?!") {
		depth, end := 0, -1
		for i := 0; i < len(p) && end < 0; i++ {
			switch {
			case p[i] == '\\':
				i++
			case p[i] == '(':
				depth++
			case p[i] == ')':
				if depth--; depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			return nil
		}
		not, err := regexp.Compile(`^(?:` + javaClasses(p[3:end]) + `)`)
		if err != nil {
			return nil
		}
		mt.not, p = not, p[end+1:]
	}
	re, err := regexp.Compile(`^(?:` + javaClasses(p) + `)$`)
	if err != nil {
		return nil
	}
	mt.re = re
	return mt
}

// javaPOSIX are Java's ASCII POSIX classes as ranges.
var javaPOSIX = map[string]string{`\p{Print}`: `\x20-\x7E`, `\p{ASCII}`: `\x00-\x7F`, `\p{Graph}`: `\x21-\x7E`}

var javaUnicode = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)

// javaClasses rewrites Java's \p{Print}-style classes for RE2: a range
// inside a bracket expression, a bracketed range outside one.
func javaClasses(p string) string {
	// UTF-16 escapes: a surrogate-pair range is the supplementary planes.
	p = strings.ReplaceAll(p, `\uD800\uDC00-\uDBFF\uDFFF`, `\x{10000}-\x{10FFFF}`)
	p = javaUnicode.ReplaceAllString(p, `\x{$1}`)
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			matched := false
			for class, r := range javaPOSIX {
				if strings.HasPrefix(p[i:], class) {
					if inClass {
						b.WriteString(r)
					} else {
						b.WriteString("[" + r + "]")
					}
					i += len(class) - 1
					matched = true
					break
				}
			}
			if !matched {
				b.WriteString(p[i : i+2])
				i++
			}
			continue
		}
		switch p[i] {
		case '[':
			inClass = true
		case ']':
			inClass = false
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
