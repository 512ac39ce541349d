// Command kube-apiserver is Kubernetes' API server, built from k8s.io/kubernetes at the release
// pinned in ../../go.mod, for the test control plane (see ../../README.md).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
