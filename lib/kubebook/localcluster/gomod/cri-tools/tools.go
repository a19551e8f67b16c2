//go:build tools

// Package tools pins crictl, which stops the real node's pod sandboxes through the CRI (so CNI
// tears their networks down) when the node is taken down; it holds no code of ours.
package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
