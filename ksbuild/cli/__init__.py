"""doit glue: task generation, the run record, extra commands and the `ksbuild` console script."""
