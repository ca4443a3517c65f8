module open-cluster-management.io/clusteradm

go 1.26.0
