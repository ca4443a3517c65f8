"""Go code generators: `go_deepcopy`, `crd`, `go_clients`. Filled in below."""
RULES = ()
