// Command etcd is go.etcd.io/etcd/server/v3's main, at the version k8s.io/kubernetes uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
