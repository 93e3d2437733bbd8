"""Public repositories reduced to the files the maturity scan reads, with reviewers' labels."""
