"""What one trial runs: data, models, training steps and function trainables."""
