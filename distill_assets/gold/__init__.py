"""Hand-written gold data shipped with the package (the unseen-styles benchmark)."""
