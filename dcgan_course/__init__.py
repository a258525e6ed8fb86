"""dcgan-course: the helper package behind the DCGAN representation-learning course."""

__version__ = "0.1.0"
