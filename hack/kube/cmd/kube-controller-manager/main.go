// Command kube-controller-manager is Kubernetes' controller manager (garbage collector,
// namespace deletion, service-account tokens), built from k8s.io/kubernetes at the release pinned
// in ../../go.mod, for the test control plane (see ../../README.md).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
