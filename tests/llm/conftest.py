from tests.real_model import real_model

__all__ = ["real_model"]  # the session fixture, for the tests here
