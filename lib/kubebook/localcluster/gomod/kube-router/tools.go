//go:build tools

// Package tools pins kube-router, whose iptables/ipset firewall enforces NetworkPolicy on the real node.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
