"""One cycle: plan, fetch, snapshot, compare, record - the detection half of ctwatch."""
