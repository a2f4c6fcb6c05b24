"""What checks are written with: assertions, expected words, and the small kit the conformance suite uses."""
