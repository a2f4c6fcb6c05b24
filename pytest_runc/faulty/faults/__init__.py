"""One module per area of the conformance suite, each with a ``FAULTS`` list."""
