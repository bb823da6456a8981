"""Performance tasks (`r2e perf`): mine speed-up commits, build workloads, quickcheck, measure, tabulate."""
