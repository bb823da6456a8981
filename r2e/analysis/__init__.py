"""Language analysis: tree-sitter extraction, name resolution, call graph and dependency slices."""
