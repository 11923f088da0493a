"""Making one example: the `Generator` contract (`base`), the provider table (`catalog`), and the two
generators behind it: Replicate (`replicate`) and labelled offline placeholders (`offline`)."""
