"""Model probes: AlexNet introspection, adversarial examples, CIFAR-10 samples, conv1 filters."""
