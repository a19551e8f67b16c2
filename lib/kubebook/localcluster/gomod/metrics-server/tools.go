//go:build tools

// Package tools pins the upstream metrics-server command kubebook builds; it holds no code of ours.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
