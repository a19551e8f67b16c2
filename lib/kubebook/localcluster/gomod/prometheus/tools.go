//go:build tools

// Package tools pins the upstream prometheus command kubebook builds; it holds no code of ours.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
