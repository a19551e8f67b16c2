//go:build tools

// Package tools pins the upstream containerd v2 commands kubebook builds for a real node; it holds no code of ours.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
