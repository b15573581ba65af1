"""One-window registration desks: cases driven by the unified records on the bus."""
