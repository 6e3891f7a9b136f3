//go:build ignore

// gen trims an official AWS service model (botocore service-2.json) down to
// the shapes that the listed operations reach, without documentation, so that
// ebb can embed the constraints it validates against.
//
//	go run gen.go -model ../../../../shared/aws-models/sagemaker/2017-07-24/service-2.json -o sagemaker.json CreateModel ...
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"sort"
)

type model struct {
	Metadata   json.RawMessage            `json:"metadata"`
	Operations map[string]json.RawMessage `json:"operations"`
	Shapes     map[string]map[string]any  `json:"shapes"`
}

func main() {
	in := flag.String("model", "", "service-2.json to read")
	out := flag.String("o", "", "file to write")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var m model
	if err := json.Unmarshal(raw, &m); err != nil {
		log.Fatal(err)
	}
	keep := map[string]map[string]any{}
	var walk func(string)
	walk = func(name string) {
		if _, ok := keep[name]; ok {
			return
		}
		s := m.Shapes[name]
		delete(s, "documentation")
		keep[name] = s
		for _, k := range []string{"member", "key", "value"} {
			if ref, ok := s[k].(map[string]any); ok {
				delete(ref, "documentation")
				walk(ref["shape"].(string))
			}
		}
		if members, ok := s["members"].(map[string]any); ok {
			for _, v := range members {
				ref := v.(map[string]any)
				delete(ref, "documentation")
				walk(ref["shape"].(string))
			}
		}
	}
	ops := map[string]any{}
	names := flag.Args()
	sort.Strings(names)
	for _, name := range names {
		var op map[string]any
		if err := json.Unmarshal(m.Operations[name], &op); err != nil || op == nil {
			log.Fatalf("operation %s: not in model", name)
		}
		delete(op, "documentation")
		for _, k := range []string{"input", "output"} {
			if ref, ok := op[k].(map[string]any); ok {
				walk(ref["shape"].(string))
			}
		}
		for _, e := range asList(op["errors"]) {
			walk(e.(map[string]any)["shape"].(string))
		}
		ops[name] = op
	}
	b, err := json.MarshalIndent(map[string]any{"metadata": m.Metadata, "operations": ops, "shapes": keep}, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
