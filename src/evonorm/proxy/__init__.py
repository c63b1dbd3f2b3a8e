"""The proxy task: data, small architectures and training used to score candidate layers."""
