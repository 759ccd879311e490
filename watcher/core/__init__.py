"""Pure code: records, snapshots, diffs, field words and rendering - no I/O."""
