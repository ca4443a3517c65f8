// Command controller-manager runs KubeStellar's per-WDS controllers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestellar/kubestellar/pkg/binding"
	"github.com/kubestellar/kubestellar/pkg/crd"
	"github.com/kubestellar/kubestellar/pkg/generated/clientset/versioned"
)

// version is set when the image is built (go_image: -X main.version=...).
var version = "unknown"

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to a kubeconfig; in-cluster configuration when empty")
	listCRDs := flag.Bool("list-crds", false, "print the names of the embedded CRDs and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println("controller-manager", version)
		return
	}

	if *listCRDs {
		files, err := crd.Files()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for name := range files {
			fmt.Println(name)
		}
		return
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(1)
	}
	client, err := versioned.NewForConfig(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	resolver := binding.NewResolver(client, 10*time.Minute)
	if err := resolver.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-ctx.Done()
}
