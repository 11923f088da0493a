"""The pool of reference models (the 72 photos in `models.json`): the registry (`registry`, rebuilt from a
bucket by `sync`), their photos copied into storage (`reference_photos`), which models a job gets and who holds
them (`selection`), and giving one back (`release`)."""
