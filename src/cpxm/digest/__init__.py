"""The monthly digest per audience (leadership, a department, a therapeutic area): what moved,
why, and what was done, as HTML e-mail and PDF from one template. See docs/digest.md."""
