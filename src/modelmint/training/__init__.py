"""Customization: datasets, fine-tuning jobs, recipes, evaluation and export."""
