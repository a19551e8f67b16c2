//go:build tools

// Package tools pins the CNCF Distribution registry, served on loopback as the real node's image source.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)
