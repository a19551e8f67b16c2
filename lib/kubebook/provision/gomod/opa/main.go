// kubebook-rego evaluates Gatekeeper ConstraintTemplate Rego with the OPA Go module.
//
// stdin: a JSON list of {"package": P, "module": REGO, "inputs": [INPUT, ...]}; each
// INPUT is Gatekeeper's {"review": {...}, "parameters": {...}}. stdout: a JSON list
// (one per request) of lists (one per input) of violation messages, the set
// data.P.violation[_].msg. A module that does not compile is an error on stderr, exit 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

type request struct {
	Package string `json:"package"`
	Module  string `json:"module"`
	Inputs  []any  `json:"inputs"`
}

func main() {
	var requests []request
	if err := json.NewDecoder(os.Stdin).Decode(&requests); err != nil {
		fmt.Fprintln(os.Stderr, "kubebook-rego: reading stdin:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	out := make([][][]string, 0, len(requests))
	for _, req := range requests {
		query, err := rego.New(
			rego.Query("data."+req.Package+".violation[v].msg"),
			rego.Module(req.Package+".rego", req.Module),
			rego.SetRegoVersion(ast.RegoV0),
		).PrepareForEval(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubebook-rego: %s: %v\n", req.Package, err)
			os.Exit(1)
		}
		results := make([][]string, 0, len(req.Inputs))
		for _, input := range req.Inputs {
			rs, err := query.Eval(ctx, rego.EvalInput(input))
			if err != nil {
				fmt.Fprintf(os.Stderr, "kubebook-rego: %s: %v\n", req.Package, err)
				os.Exit(1)
			}
			msgs := []string{}
			for _, r := range rs {
				for _, e := range r.Expressions {
					if s, ok := e.Value.(string); ok {
						msgs = append(msgs, s)
					}
				}
			}
			sort.Strings(msgs)
			results = append(results, msgs)
		}
		out = append(out, results)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "kubebook-rego:", err)
		os.Exit(1)
	}
}
