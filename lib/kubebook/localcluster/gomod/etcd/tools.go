//go:build tools

// Package tools pins the upstream etcd commands kubebook builds; it holds no code of ours.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
