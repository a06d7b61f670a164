"""Tools around the thesis, not its science: the embedded world generator, the benchmark, predictions as
Cityscapes result files, the thesis preview."""
