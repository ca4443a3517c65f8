"""The only place that runs actions: sandbox, execution, output commit."""
