"""TensorBoard event files: TFRecord framing, event decoding, a run's files."""
