"""What every feature stands on: settings (`config`, with `env_values` and `s3_settings`), the database handle
(`database`), the one error type (`errors`), JSON with limits (`safe_json`), ISO times (`iso_time`) and private
files (`files`)."""
