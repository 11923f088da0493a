"""Making one example: the `Generator` contract (`base`), the provider table (`catalog`) and each model's input
schema (`schemas`), and the two generators behind it: Replicate (`replicate/`) and labelled offline placeholders
(`offline`); an output's safe download (`download/`) and its copy into storage (`outputs`)."""
