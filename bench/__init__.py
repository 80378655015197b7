"""leadgate's benchmarks (`make bench`): every figure measured side by side with its baseline."""
