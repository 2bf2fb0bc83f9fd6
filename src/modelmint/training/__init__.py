"""Training: datasets, jobs, recipes, evaluation, quantization and export."""
