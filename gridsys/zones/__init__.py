"""Towns (镇), areas (片区) and grids (网格): geometry, codes, invariants, revisions."""
